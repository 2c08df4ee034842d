import { describe, expect, it } from 'vitest';
import { DENIED_SYSCALLS, seccompProgram } from './seccomp-filter.js';

interface Decoded {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

function decode(program: Buffer): Decoded[] {
  const out: Decoded[] = [];
  for (let at = 0; at < program.length; at += 8) {
    out.push({
      code: program.readUInt16LE(at),
      jt: program.readUInt8(at + 2),
      jf: program.readUInt8(at + 3),
      k: program.readUInt32LE(at + 4),
    });
  }
  return out;
}

/** A tiny interpreter for the instructions the generator emits, to check where each call lands. */
function verdict(program: Buffer, arch: number, nr: number): number {
  const code = decode(program);
  let accumulator = 0;
  for (let pc = 0; pc < code.length; pc += 1) {
    const instruction = code[pc];
    if (instruction === undefined) throw new Error('ran off the end');
    switch (instruction.code) {
      case 0x20:
        accumulator = instruction.k === 4 ? arch : nr;
        break;
      case 0x15:
        pc += accumulator === instruction.k ? instruction.jt : instruction.jf;
        break;
      case 0x35:
        pc += accumulator >= instruction.k ? instruction.jt : instruction.jf;
        break;
      case 0x06:
        return instruction.k;
      default:
        throw new Error(`unexpected opcode ${instruction.code}`);
    }
  }
  throw new Error('no return');
}

const ALLOW = 0x7fff_0000;
const EPERM = 0x0005_0001;
const X86_64 = 0xc000_003e;

describe('seccompProgram', () => {
  const program = seccompProgram('x64');
  if (program === null) throw new Error('x64 has a table');

  it('refuses each listed call and allows the rest (x86_64)', () => {
    expect(verdict(program, X86_64, 101)).toBe(EPERM); // ptrace
    expect(verdict(program, X86_64, 321)).toBe(EPERM); // bpf
    expect(verdict(program, X86_64, 169)).toBe(EPERM); // reboot, the last entry
    for (const allowed of [0, 1, 2, 39, 56, 59, 231, 435]) {
      expect(verdict(program, X86_64, allowed)).toBe(ALLOW);
    }
  });

  it('refuses x32 calls and every call of another architecture', () => {
    expect(verdict(program, X86_64, 0x4000_0000 + 101)).toBe(EPERM);
    expect(verdict(program, X86_64, 0x4000_0000)).toBe(EPERM);
    expect(verdict(program, 0x4000_0003, 1)).toBe(EPERM); // AUDIT_ARCH_I386, write
  });

  it('has one comparison per denied call and fits classic BPF jump offsets', () => {
    const code = decode(program);
    expect(code.filter((i) => i.code === 0x15).length).toBe(DENIED_SYSCALLS.length + 1);
    expect(Math.max(...code.map((i) => Math.max(i.jt, i.jf)))).toBeLessThan(256);
  });

  it('is null for an architecture it has no table for', () => {
    expect(seccompProgram('riscv64')).toBeNull();
    expect(seccompProgram('arm64')).not.toBeNull();
  });
});
