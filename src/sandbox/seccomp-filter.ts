/**
 * A classic-BPF seccomp program, loaded by bwrap (`--seccomp FD`) into every sandboxed process
 * right before it execs the command. It refuses (EPERM) the system calls an agent has no use for
 * and that reach across the sandbox's own boundary:
 *
 * - `ptrace`, `process_vm_readv/writev`: attaching to bwrap's pid 1 in the sandbox interrupts its
 *   wait() (bwrap 0.8 then exits with "init wait(): Unknown error 512", ending the run), and a
 *   debugger attached to pid 1 can run code in the process that supervises the sandbox;
 * - `perf_event_open`, `bpf`, `userfaultfd`: kernel attack surface (Docker's default profile
 *   refuses them for the same reason);
 * - `keyctl`, `add_key`, `request_key`: the kernel keyring is not namespaced;
 * - `io_uring_*`: io_uring operations are not seen by seccomp at all;
 * - module, kexec, swap, reboot and accounting calls, which need privileges the sandbox never
 *   has, refused here as a second line.
 *
 * Every call of another architecture (i386 via int 0x80) and every x32 call is refused too, so a
 * denied call cannot be reached under a different number.
 */

const BPF_LD_W_ABS = 0x20;
const BPF_JMP_JEQ_K = 0x15;
const BPF_JMP_JGE_K = 0x35;
const BPF_RET_K = 0x06;

const SECCOMP_RET_ALLOW = 0x7fff_0000;
const SECCOMP_RET_ERRNO = 0x0005_0000;
const EPERM = 1;
/** Offsets into `struct seccomp_data`. */
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
/** Syscall numbers with this bit set are the x32 ABI on x86_64. */
const X32_SYSCALL_BIT = 0x4000_0000;

export const DENIED_SYSCALLS = [
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'perf_event_open',
  'bpf',
  'userfaultfd',
  'keyctl',
  'add_key',
  'request_key',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'kexec_load',
  'kexec_file_load',
  'init_module',
  'finit_module',
  'delete_module',
  'acct',
  'swapon',
  'swapoff',
  'reboot',
] as const;
export type DeniedSyscall = (typeof DENIED_SYSCALLS)[number];

interface ArchTable {
  /** AUDIT_ARCH_* as the kernel reports it in `seccomp_data.arch`. */
  readonly auditArch: number;
  readonly rejectX32: boolean;
  readonly numbers: Readonly<Record<DeniedSyscall, number>>;
}

/** From the kernel's syscall tables (arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h). */
const ARCH_TABLES: Readonly<Record<string, ArchTable>> = {
  x64: {
    auditArch: 0xc000_003e,
    rejectX32: true,
    numbers: {
      ptrace: 101,
      process_vm_readv: 310,
      process_vm_writev: 311,
      perf_event_open: 298,
      bpf: 321,
      userfaultfd: 323,
      keyctl: 250,
      add_key: 248,
      request_key: 249,
      io_uring_setup: 425,
      io_uring_enter: 426,
      io_uring_register: 427,
      kexec_load: 246,
      kexec_file_load: 320,
      init_module: 175,
      finit_module: 313,
      delete_module: 176,
      acct: 163,
      swapon: 167,
      swapoff: 168,
      reboot: 169,
    },
  },
  arm64: {
    auditArch: 0xc000_00b7,
    rejectX32: false,
    numbers: {
      ptrace: 117,
      process_vm_readv: 270,
      process_vm_writev: 271,
      perf_event_open: 241,
      bpf: 280,
      userfaultfd: 282,
      keyctl: 219,
      add_key: 217,
      request_key: 218,
      io_uring_setup: 425,
      io_uring_enter: 426,
      io_uring_register: 427,
      kexec_load: 104,
      kexec_file_load: 294,
      init_module: 105,
      finit_module: 273,
      delete_module: 106,
      acct: 89,
      swapon: 224,
      swapoff: 225,
      reboot: 142,
    },
  },
};

interface Instruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

/**
 * The program for `arch` (Node's `process.arch`) as the bytes bwrap reads: an array of
 * `struct sock_filter` in host byte order. Null for an architecture without a table: the caller
 * records that no filter is applied.
 */
export function seccompProgram(arch: string): Buffer | null {
  const table = ARCH_TABLES[arch];
  if (table === undefined) return null;
  const numbers = DENIED_SYSCALLS.map((name) => table.numbers[name]);
  const instructions: Instruction[] = [];
  // Layout: [arch check][load nr][x32 check]?[one JEQ per number][ALLOW][DENY]
  const checks = numbers.length;
  const afterLoad = (table.rejectX32 ? 1 : 0) + checks;
  // Each jump is relative to the next instruction. DENY is the last instruction.
  instructions.push({ code: BPF_LD_W_ABS, jt: 0, jf: 0, k: OFFSET_ARCH });
  // Wrong architecture: jump over the load and every check, and over ALLOW, to DENY.
  instructions.push({ code: BPF_JMP_JEQ_K, jt: 0, jf: 1 + afterLoad + 1, k: table.auditArch });
  instructions.push({ code: BPF_LD_W_ABS, jt: 0, jf: 0, k: OFFSET_NR });
  if (table.rejectX32) {
    instructions.push({ code: BPF_JMP_JGE_K, jt: checks + 1, jf: 0, k: X32_SYSCALL_BIT });
  }
  numbers.forEach((nr, index) => {
    const remaining = checks - index - 1;
    instructions.push({ code: BPF_JMP_JEQ_K, jt: remaining + 1, jf: 0, k: nr });
  });
  instructions.push({ code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_ALLOW });
  instructions.push({ code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_ERRNO | EPERM });
  return encode(instructions);
}

function encode(instructions: readonly Instruction[]): Buffer {
  const bytes = Buffer.alloc(instructions.length * 8);
  const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  instructions.forEach((instruction, index) => {
    const at = index * 8;
    if (littleEndian) {
      bytes.writeUInt16LE(instruction.code, at);
      bytes.writeUInt32LE(instruction.k >>> 0, at + 4);
    } else {
      bytes.writeUInt16BE(instruction.code, at);
      bytes.writeUInt32BE(instruction.k >>> 0, at + 4);
    }
    bytes.writeUInt8(instruction.jt, at + 2);
    bytes.writeUInt8(instruction.jf, at + 3);
  });
  return bytes;
}
