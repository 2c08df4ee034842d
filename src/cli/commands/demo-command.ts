import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type ExitCode, exitCodeFor } from '../../kernel/index.js';
import { parseJobSpec } from '../../runner/index.js';
import { createRepositoryFromFiles } from '../../workspaces/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { diffstat } from '../format.js';
import { type GlobalOptions, withRuntime } from '../open-runtime.js';
import { runWithProgress } from '../run-with-progress.js';

/** A small repository with a real test suite, so the demo's validator is a real test run. */
const DEMO_FILES: Record<string, string> = {
  'README.md': '# greet\n\nA tiny library used by the AAS demo.\n',
  'package.json': '{ "name": "greet", "version": "1.0.0", "type": "module" }\n',
  'src/greet.js': "export function greet(name) {\n  return 'Hello, ' + name;\n}\n",
  'test/greet.test.js':
    "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { greet } from '../src/greet.js';\n\ntest('greets by name', () => {\n  assert.equal(greet('Ada'), 'Hello, Ada');\n});\n",
  '.aas/policy.yaml':
    '# The repository layer of the policy, read from the base commit.\npaths:\n  allow: ["src/**", "test/**", "README.md"]\nlimits:\n  maxChangedFiles: 20\n',
};

/**
 * The mock agent's script: attempt 1 ships a bug the test suite catches; attempt 2 receives the
 * failing test output as feedback and ships the fix plus a new test. It also leaves a cache file
 * behind, which the runtime-artifact filter drops from the patch.
 */
const DEMO_AGENT_INPUT = {
  mock: {
    attempts: [
      {
        edits: [
          {
            path: 'src/greet.js',
            write:
              "export function greet(name, punctuation = '!') {\n  return 'Hello ' + name + punctuation;\n}\n",
          },
          { path: 'node_modules/.cache/demo.json', write: '{"warm":true}\n' },
        ],
        result: { summary: 'added optional punctuation to greet()' },
      },
      {
        edits: [
          {
            path: 'src/greet.js',
            write:
              "export function greet(name, punctuation = '') {\n  return 'Hello, ' + name + punctuation;\n}\n",
          },
          {
            path: 'test/punctuation.test.js',
            write:
              "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { greet } from '../src/greet.js';\n\ntest('adds punctuation when asked', () => {\n  assert.equal(greet('Ada', '!'), 'Hello, Ada!');\n});\n",
          },
          { path: 'node_modules/.cache/demo.json', write: '{"warm":true}\n' },
        ],
        result: {
          summary: 'kept the default greeting and added punctuation as an opt-in, with a test',
        },
      },
    ],
  },
};

export function registerDemoCommand(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command('demo')
    .description(
      'create a small git repository under $AAS_HOME/demo and run a governed mock-agent job on it',
    )
    .option('--json', 'print one machine-readable result object')
    .action(async (flags: { json?: boolean }, command: Command) => {
      const json = flags.json === true;
      try {
        const outcome = await withRuntime(
          io,
          command.optsWithGlobals<GlobalOptions>(),
          async (runtime) => {
            const repo = join(runtime.config.home, 'demo', 'greet');
            await mkdir(join(runtime.config.home, 'demo'), { recursive: true });
            await createRepositoryFromFiles(repo, DEMO_FILES, 'greet: initial version');
            const job = parseJobSpec({
              task: 'Let greet() take optional punctuation without breaking existing callers; keep the tests green.',
              repo,
              agent: 'mock',
              agentInput: DEMO_AGENT_INPUT,
              validators: [{ name: 'tests', command: 'node --test test/', timeoutSec: 120 }],
              retries: 1,
              labels: ['demo'],
            });
            if (!json) println(io.stdout, `demo repository ${repo}`);
            return runWithProgress(io, runtime, job, json);
          },
        );
        if (json) {
          println(io.stdout, JSON.stringify(outcome));
        } else {
          println(io.stdout, `decision  ${outcome.status} (${outcome.reasonCode})`);
          if (outcome.patch) {
            println(io.stdout, `patch     ${outcome.patch.path}`);
            println(io.stdout, diffstat(outcome.patch.files));
          }
          println(
            io.stdout,
            '\nnext (`npm link` puts `aas` on your PATH; or run `node dist/cli/main.js`):',
          );
          println(
            io.stdout,
            `  aas sessions show ${outcome.sessionId}     # attempts, gates and the decision`,
          );
          println(
            io.stdout,
            `  aas sessions events ${outcome.sessionId}   # the hash-chained event log`,
          );
          println(io.stdout, `  aas audit verify ${outcome.sessionId}      # recompute the chain`);
        }
        setExit(exitCodeFor(outcome.reasonCode));
      } catch (thrown) {
        setExit(reportError(io, thrown, json));
      }
    });
}
