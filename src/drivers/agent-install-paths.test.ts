import {
  accessSync,
  chmodSync,
  constants,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentInstallPaths, checkAgentEntrypoint } from './agent-install-paths.js';

/** Whether this user may make entries in `dir` (root may anywhere; others seldom in / or /home). */
function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
const homeWritable = writable('/home');
const rootWritable = writable('/');
const root = mkdtempSync(join(tmpdir(), 'aas-install-paths-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** An executable at `path` (below the test's directory), its directories made. */
function entrypoint(relative: string): string {
  const path = join(root, relative);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, 0o755);
  return path;
}

describe('agentInstallPaths', () => {
  it('shows the prefix of a conventional <prefix>/bin/<agent> layout', () => {
    const path = entrypoint('opt/my-agent/bin/my-agent');
    expect(agentInstallPaths('my-agent', path, [])).toEqual([join(root, 'opt/my-agent')]);
  });

  it('shows only the directory of an entrypoint that is not in a bin directory', () => {
    // Its parent may hold anything: a secret beside the tools directory stays out of sight.
    writeFileSync(join(root, 'secret.txt'), 'hidden\n');
    const path = entrypoint('srv-x/tools/agent.sh');
    expect(agentInstallPaths('tool', path, [])).toEqual([join(root, 'srv-x/tools')]);
  });

  it('follows a symlinked entrypoint to where it is installed', () => {
    const real = entrypoint('opt/linked/bin/linked');
    const link = join(root, 'links', 'linked');
    mkdirSync(join(root, 'links'), { recursive: true });
    symlinkSync(real, link);
    expect(agentInstallPaths('linked', link, [])).toEqual([join(root, 'opt/linked')]);
  });

  it('refuses an entrypoint directly in a home directory, which would show all of it', () => {
    const home = join(root, 'home', 'other');
    const path = entrypoint('home/other/agent');
    expect(() => agentInstallPaths('agent', path, [home])).toThrow(
      expect.objectContaining({ code: 'MANIFEST_INVALID' }),
    );
  });

  // A home of its own under /home: only where that directory is writable.
  it.skipIf(!homeWritable)(
    'refuses, as the manifest is read, an entrypoint in /home/<user>/',
    () => {
      const home = join('/home', `aas-test-${process.pid}`);
      mkdirSync(home, { recursive: true });
      try {
        writeFileSync(join(home, 'agent'), '#!/bin/sh\n', { mode: 0o755 });
        expect(() => checkAgentEntrypoint('agent', join(home, 'agent'))).toThrow(
          expect.objectContaining({
            code: 'MANIFEST_INVALID',
            details: expect.objectContaining({ field: 'entrypoint' }),
          }),
        );
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    },
  );

  it('keeps to the entrypoint directory inside a home directory', () => {
    const home = join(root, 'home', 'dev');
    const path = entrypoint('home/dev/.cargo/bin/agent');
    expect(agentInstallPaths('agent', path, [home])).toEqual([join(home, '.cargo/bin')]);
  });

  it('adds nothing for the system toolchain or a bare command name', () => {
    expect(agentInstallPaths('sh', '/bin/sh', [])).toEqual([]);
    expect(agentInstallPaths('env', '/usr/bin/env', [])).toEqual([]);
    expect(agentInstallPaths('claude', 'claude', [])).toEqual([]);
  });

  it('refuses an entrypoint directly in a top-level directory, which would show it whole', () => {
    // /etc holds the host's shadow file: a manifest pointing at /etc/agent must not show it.
    for (const path of ['/etc/passwd', '/tmp']) {
      expect(() => agentInstallPaths('etc-agent', path, [])).toThrow(
        expect.objectContaining({
          code: 'MANIFEST_INVALID',
          details: expect.objectContaining({ field: 'entrypoint' }),
        }),
      );
    }
  });

  // Needs a directory of its own at the top level: only where the root directory is writable.
  it.skipIf(!rootWritable)(
    'never shows a top-level directory as a prefix: /x/bin/agent shows /x/bin',
    () => {
      const path = join('/', `aas-top-${process.pid}`, 'bin', 'agent');
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, '#!/bin/sh\n');
      try {
        expect(agentInstallPaths('agent', path, [])).toEqual([
          join('/', `aas-top-${process.pid}`, 'bin'),
        ]);
      } finally {
        rmSync(join('/', `aas-top-${process.pid}`), { recursive: true, force: true });
      }
    },
  );
});
