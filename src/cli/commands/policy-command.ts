import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import {
  AasError,
  closestName,
  type ExitCode,
  isAasError,
  normaliseError,
  withFieldPosition,
  yamlFailureMessage,
} from '../../kernel/index.js';
import {
  agentPolicyLayer,
  explainPolicy,
  FLOOR_LAYER,
  formatExplanation,
  mergePolicy,
  type NamedLayer,
  REPO_POLICY_PATH,
  readPolicyLayerFile,
  repoPolicyLayer,
  validatePolicyLayer,
} from '../../policy/index.js';
import { JobSpecSchema } from '../../runner/index.js';
import { isRepoUrl, readPolicyFileAtCommit } from '../../workspaces/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { configFrom, type GlobalOptions, withRuntime } from '../open-runtime.js';

interface ExplainFlags {
  repo?: string;
  base?: string;
  agent?: string;
  job?: string;
  policy?: string;
  json?: boolean;
}

export function registerPolicyCommand(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  const policy = program.command('policy').description('inspect the policy a run would get');
  policy
    .command('explain')
    .description('print the effective policy for a repository, agent and job, and decide each PATH')
    .option(
      '--repo <path>',
      "repository whose .aas/policy.yaml (at the base commit) is a layer (default: the --job file's repo; without either, no repository layer)",
    )
    .option('--base <ref>', 'read the repository layer at this ref (default HEAD)')
    .option('--agent <id>', "add this agent manifest's policy layer")
    .option('--job <file>', 'add the `policy` block of this JobSpec file as the job layer')
    .option('--policy <file>', 'add this policy layer file as the job layer')
    .option('--json', 'machine-readable output')
    .argument('[paths...]', 'repo-relative paths to decide')
    .addHelpText(
      'after',
      "\nLayers, in order: floor (built-in) → server ($AAS_POLICY) → repo → agent → job.\nA path is allowed only if no layer denies it and every layer with an allow-list admits it.\nThe layers are this host's (its AAS_POLICY and agent manifests), also with --server: a run's own recorded policy is shown by aas sessions show and GET /api/v1/runs/{id}/policy.",
    )
    .action(async (paths: string[], flags: ExplainFlags, command: Command) => {
      try {
        if (flags.job && flags.policy) {
          throw new AasError(
            'INVALID_ARGUMENT',
            '--job and --policy both name the job layer; give one',
            {
              field: '--policy',
            },
          );
        }
        const job = flags.job ? await readJobFile(resolve(io.cwd, flags.job)) : null;
        const globals = command.optsWithGlobals<GlobalOptions>();
        if (configFrom(io, globals).client.serverUrl !== undefined) {
          println(
            io.stderr,
            "note: policy explain merges this host's layers (its AAS_POLICY and agent manifests), not the server's; a run's recorded policy: aas sessions show, GET /api/v1/runs/{id}/policy",
          );
        }
        // As a run of that job would: a path in the job file is relative to the file.
        // A URL is fetched by whoever runs the job; its policy file is not on this host.
        const jobRepo = job?.repo !== undefined && !isRepoUrl(job.repo) ? job.repo : undefined;
        const repoGiven =
          flags.repo !== undefined
            ? resolve(io.cwd, flags.repo)
            : jobRepo === undefined || flags.job === undefined
              ? undefined
              : resolve(resolve(io.cwd, flags.job), '..', jobRepo);
        if (repoGiven === undefined && flags.base !== undefined) {
          throw new AasError(
            'INVALID_ARGUMENT',
            '--base names a ref of the repository layer, and there is no repository',
            { field: '--base', hint: 'pass --repo with the checkout whose ref it is' },
          );
        }
        if (repoGiven === undefined) {
          // A policy file, an agent or a job's own layer is worth checking on its own; what a
          // run would add from its repository is said to be missing, not silently left out.
          println(
            io.stderr,
            job?.repo !== undefined
              ? "note: no repository layer: the job's repository is a URL, not a checkout on this host (pass --repo with a checkout of it to include its .aas/policy.yaml)"
              : 'note: no repository layer: pass --repo with a checkout (or a --job file naming one) to include its .aas/policy.yaml, as a run would',
          );
        }
        const explanation = await withRuntime(io, globals, async (runtime) => {
          const repo = repoGiven;
          const ref = flags.base ?? 'HEAD';
          const repoBytes =
            repo === undefined ? null : await repoPolicyBytes(repo, ref, flags.base);
          // The same layers, in the same order, as a run of this agent and job would get.
          const agentId = flags.agent ?? job?.agent;
          const layers = [
            FLOOR_LAYER,
            runtime.serverPolicy,
            repoBytes ? repoPolicyLayer(repoBytes.toString('utf8'), ref) : null,
            agentId ? agentPolicyLayer(runtime.registry.get(agentId)) : null,
            job?.layer ?? null,
            flags.policy ? await readPolicyLayerFile(resolve(io.cwd, flags.policy), 'job') : null,
          ].filter((layer): layer is NamedLayer => layer !== null);
          return explainPolicy(mergePolicy(layers), paths, layers);
        });
        println(
          io.stdout,
          flags.json ? JSON.stringify(explanation) : formatExplanation(explanation),
        );
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });
}

/** The repository layer's file at `ref`, or null when the repository has none. */
async function repoPolicyBytes(
  repo: string,
  ref: string,
  base: string | undefined,
): Promise<Buffer | null> {
  return readPolicyFileAtCommit(repo, ref, REPO_POLICY_PATH).catch((thrown: unknown) => {
    // The ref is this command's --base: said so, with where to look for one.
    if (isAasError(thrown) && thrown.code === 'BASE_REF_UNKNOWN') {
      throw new AasError(thrown.code, thrown.message, {
        ...thrown.details,
        field: base === undefined ? 'repo' : '--base',
        hint: `name a branch, tag or commit of ${repo} (git -C ${repo} branch --list)`,
      });
    }
    throw thrown;
  });
}

/** A JobSpec file's agent and `policy:` block; the rest of the job does not matter here. */
async function readJobFile(
  file: string,
): Promise<{ agent?: string; repo?: string; layer: NamedLayer | null }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new AasError('JOB_INVALID', `cannot read: ${normaliseError(error).message}`, {
      file,
      hint: 'check the path',
    });
  }
  let job: unknown;
  try {
    job = parseYaml(text);
  } catch (error) {
    throw new AasError(
      'JOB_INVALID',
      `not valid YAML or JSON: ${yamlFailureMessage(text, error)}`,
      {
        file,
      },
    );
  }
  if (typeof job !== 'object' || job === null || Array.isArray(job)) {
    throw new AasError('JOB_INVALID', 'a job file must hold a mapping', { file });
  }
  const record = job as Record<string, unknown>;
  // The rest of the job is not read here, but a file that is not a job at all (a policy layer
  // given as --job) would otherwise explain as if it added nothing.
  const known = Object.keys(JobSpecSchema.shape);
  const unknown = Object.keys(record).filter((key) => !known.includes(key));
  const [first] = unknown;
  if (first !== undefined) {
    const near = closestName(first, known);
    throw withFieldPosition(
      new AasError(
        'JOB_INVALID',
        `not a JobSpec: unknown field${unknown.length === 1 ? '' : 's'} ${unknown.map((key) => `"${key}"`).join(', ')}`,
        {
          file,
          field: first,
          hint:
            near !== null
              ? `did you mean "${near}"?`
              : 'a policy layer file goes with --policy; a JobSpec keeps its layer under `policy:`',
        },
      ),
      text,
    );
  }
  let layer: NamedLayer | null = null;
  if (record.policy !== undefined) {
    try {
      layer = {
        name: 'job',
        source: file,
        layer: validatePolicyLayer(record.policy, {
          file,
          fieldPrefix: 'policy',
          code: 'JOB_INVALID',
        }),
      };
    } catch (thrown) {
      throw isAasError(thrown) ? withFieldPosition(thrown, text) : thrown;
    }
  }
  return {
    ...(typeof record.agent === 'string' ? { agent: record.agent } : {}),
    ...(typeof record.repo === 'string' ? { repo: record.repo } : {}),
    layer,
  };
}
