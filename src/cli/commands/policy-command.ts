import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { AasError, type ExitCode, normaliseError } from '../../kernel/index.js';
import {
  explainPolicy,
  FLOOR_LAYER,
  formatExplanation,
  mergePolicy,
  type NamedLayer,
  PolicyLayerSchema,
  parsePolicyLayer,
} from '../../policy/index.js';
import { readFileAtCommit } from '../../workspaces/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { type GlobalOptions, withRuntime } from '../open-runtime.js';

interface ExplainFlags {
  repo: string;
  base?: string;
  agent?: string;
  job?: string;
  policy?: string;
  json?: boolean;
}

const REPO_POLICY_PATH = '.aas/policy.yaml';

export function registerPolicyCommand(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  const policy = program.command('policy').description('inspect the policy a run would get');
  policy
    .command('explain')
    .description('print the effective policy for a repository, agent and job, and decide each PATH')
    .requiredOption(
      '--repo <path>',
      'repository whose .aas/policy.yaml (at the base commit) is a layer',
    )
    .option('--base <ref>', 'read the repository layer at this ref (default HEAD)')
    .option('--agent <id>', "add this agent manifest's policy layer")
    .option('--job <file>', 'add the `policy` block of this JobSpec file as the job layer')
    .option('--policy <file>', 'add this policy layer file as the job layer')
    .option('--json', 'machine-readable output')
    .argument('[paths...]', 'repo-relative paths to decide')
    .addHelpText(
      'after',
      '\nLayers, in order: floor (built-in) → server ($AAS_POLICY) → repo → agent → job.\nA path is allowed only if no layer denies it and every layer with an allow-list admits it.',
    )
    .action(async (paths: string[], flags: ExplainFlags, command: Command) => {
      try {
        const explanation = await withRuntime(
          io,
          command.optsWithGlobals<GlobalOptions>(),
          async (runtime) => {
            const repo = resolve(io.cwd, flags.repo);
            const ref = flags.base ?? 'HEAD';
            const layers: NamedLayer[] = [FLOOR_LAYER];
            if (runtime.serverPolicy) layers.push(runtime.serverPolicy);
            const repoBytes = await readFileAtCommit(repo, ref, REPO_POLICY_PATH);
            if (repoBytes) {
              layers.push({
                name: 'repo',
                source: `${REPO_POLICY_PATH}@${ref}`,
                layer: parsePolicyLayer(repoBytes.toString('utf8'), {
                  file: `${REPO_POLICY_PATH} (at ${ref})`,
                }),
              });
            }
            if (flags.agent) {
              const manifest = runtime.registry.get(flags.agent);
              if (manifest.policy !== undefined) {
                layers.push({
                  name: `agent:${manifest.id}`,
                  source: `agent manifest ${manifest.id}`,
                  layer: PolicyLayerSchema.parse(manifest.policy),
                });
              }
            }
            if (flags.job && flags.policy) {
              throw new AasError(
                'INVALID_ARGUMENT',
                '--job and --policy both name the job layer; give one',
                { field: '--policy' },
              );
            }
            if (flags.job) layers.push(await jobLayerFromFile(resolve(io.cwd, flags.job)));
            if (flags.policy) {
              const file = resolve(io.cwd, flags.policy);
              layers.push({
                name: 'job',
                source: file,
                layer: parsePolicyLayer(await readText(file), { file }),
              });
            }
            return explainPolicy(mergePolicy(layers), paths);
          },
        );
        println(
          io.stdout,
          flags.json ? JSON.stringify(explanation) : formatExplanation(explanation),
        );
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new AasError('POLICY_INVALID', `cannot read: ${normaliseError(error).message}`, {
      file,
      hint: 'check the path',
    });
  }
}

async function jobLayerFromFile(file: string): Promise<NamedLayer> {
  const text = await readText(file);
  let job: unknown;
  try {
    job = parseYaml(text);
  } catch (error) {
    throw new AasError('JOB_INVALID', `not valid YAML or JSON: ${normaliseError(error).message}`, {
      file,
    });
  }
  if (typeof job !== 'object' || job === null || !('policy' in job)) {
    return { name: 'job', source: file, layer: {} };
  }
  const parsed = PolicyLayerSchema.safeParse(job.policy);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AasError('POLICY_INVALID', issue?.message ?? 'invalid policy', {
      file,
      field: `policy.${issue?.path.map(String).join('.') ?? ''}`,
    });
  }
  return { name: 'job', source: file, layer: parsed.data };
}
