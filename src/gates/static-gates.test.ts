import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FLOOR_LAYER, mergePolicy } from '../policy/index.js';
import type { PatchFile, PatchResult } from '../workspaces/index.js';
import { runStaticGate, STATIC_GATES, symlinkEscape, touchedPaths } from './static-gates.js';

function patchOf(files: PatchFile[], patchLines = 2): PatchResult {
  return {
    text: 'diff --git a/x b/x\n',
    sha256: '0'.repeat(64),
    files,
    runtimeDropped: [],
    ignoredUntracked: [],
    stats: { filesChanged: files.length, insertions: 1, deletions: 1, patchLines },
  } as PatchResult;
}

const file = (path: string, extra: Partial<PatchFile> = {}): PatchFile => ({
  path,
  status: 'modified',
  binary: false,
  insertions: 1,
  deletions: 1,
  ...extra,
});

/** The workspace the gates measure files in: 'big.txt' holds 10 bytes, 'small.txt' 9. */
const workspaceDir = mkdtempSync(join(tmpdir(), 'aas-gates-'));
writeFileSync(join(workspaceDir, 'big.txt'), '0123456789');
writeFileSync(join(workspaceDir, 'small.txt'), '012345678');
mkdirSync(join(workspaceDir, 'dir'));
symlinkSync('big.txt', join(workspaceDir, 'link'));
afterAll(() => rmSync(workspaceDir, { recursive: true, force: true }));

function verdicts(
  patch: PatchResult,
  layer: Parameters<typeof mergePolicy>[0][number]['layer'] = {},
) {
  const policy = mergePolicy([FLOOR_LAYER, { name: 'job', source: 'test', layer }]);
  return Promise.all(
    STATIC_GATES.map(
      async (gate) =>
        [gate.name, await runStaticGate(gate, { policy, patch, workspaceDir })] as const,
    ),
  );
}

describe('symlinkEscape', () => {
  it('allows links that stay inside the workspace and refuses the rest', () => {
    expect(symlinkEscape('src/link', 'app.js')).toBeNull();
    expect(symlinkEscape('src/a/link', '../b/c')).toBeNull();
    expect(symlinkEscape('link', '/etc/passwd')).toMatch(/absolute/);
    expect(symlinkEscape('src/link', '../../outside')).toMatch(/leaves/);
    expect(symlinkEscape('link', '.git/config')).toMatch(/\.git/);
    expect(symlinkEscape('src/link', '../.GIT/hooks')).toMatch(/\.git/);
    expect(symlinkEscape('link', '')).toMatch(/empty/);
  });
});

describe('static gates', () => {
  it('checks both sides of a rename', () => {
    expect(touchedPaths([file('src/new.js', { status: 'renamed', oldPath: '.env' })])).toEqual([
      '.env',
      'src/new.js',
    ]);
  });

  it('pass a clean patch', async () => {
    for (const [name, result] of await verdicts(patchOf([file('src/a.js')])))
      expect(result.passed, name).toBe(true);
  });

  it('deny what each gate exists for, with the code that names why', async () => {
    const cases: [string, PatchResult, object, string][] = [
      ['patch.nonempty', patchOf([]), {}, 'EMPTY_PATCH'],
      [
        'paths.allowed',
        patchOf([file('docs/a.md')]),
        { paths: { allow: ['src/**'] } },
        'POLICY_DENIED',
      ],
      ['paths.forbidden', patchOf([file('src/id.pem')]), {}, 'POLICY_DENIED'],
      ['paths.forbidden', patchOf([file('src/.git/config')]), {}, 'POLICY_DENIED'],
      ['binary.changes', patchOf([file('img.png', { binary: true })]), {}, 'POLICY_DENIED'],
      [
        'symlinks',
        patchOf([file('l', { status: 'added', newMode: '120000', symlinkTarget: '../../x' })]),
        {},
        'POLICY_DENIED',
      ],
      [
        'limits.changedFiles',
        patchOf([file('a'), file('b')]),
        { limits: { maxChangedFiles: 1 } },
        'GATE_FAILED',
      ],
      [
        'limits.patchLines',
        patchOf([file('a')], 11),
        { limits: { maxPatchLines: 10 } },
        'GATE_FAILED',
      ],
      [
        'limits.fileSize',
        patchOf([file('small.txt'), file('big.txt', { status: 'added' })]),
        { limits: { maxFileBytes: 10 } },
        'AGENT_FILE_SIZE_LIMIT',
      ],
    ];
    for (const [gate, patch, layer, code] of cases) {
      const result = (await verdicts(patch, layer)).find(([name]) => name === gate)?.[1];
      expect(result, gate).toMatchObject({ passed: false, code });
    }
  });

  it('allows binary changes only when the policy does', async () => {
    const patch = patchOf([file('img.png', { binary: true })]);
    const result = (await verdicts(patch, { binaryChanges: true })).find(
      ([name]) => name === 'binary.changes',
    )?.[1];
    expect(result?.passed).toBe(true);
  });

  it('takes a changed file at the file size limit as cut short, and measures nothing else', async () => {
    const gate = async (files: PatchFile[]) =>
      (await verdicts(patchOf(files), { limits: { maxFileBytes: 10 } })).find(
        ([name]) => name === 'limits.fileSize',
      )?.[1];
    const cut = await gate([file('big.txt')]);
    expect(cut?.detail).toBe(
      'big.txt reached the file size limit of 10 bytes, where a longer write is refused: cut short',
    );
    // Under the limit, deleted, a link to a large file, missing: nothing reached the limit.
    const fine = await gate([
      file('small.txt'),
      file('big.txt', { status: 'deleted' }),
      file('link', { status: 'added', newMode: '120000', symlinkTarget: 'big.txt' }),
      file('gone.txt'),
    ]);
    expect(fine).toMatchObject({ passed: true, detail: 'every changed file is under 10 bytes' });
  });

  it('a gate that throws denies', async () => {
    const policy = mergePolicy([FLOOR_LAYER]);
    const result = await runStaticGate(
      {
        name: 'explodes',
        gateClass: 'integrity',
        check: () => {
          throw new Error('boom');
        },
      },
      { policy, patch: patchOf([file('a')]), workspaceDir },
    );
    expect(result).toMatchObject({ passed: false, code: 'GATE_ERROR' });
    expect(result.detail).toContain('boom');
  });
});
