import { type Command, Option } from 'commander';
import { AasError, type ExitCode, isAasError } from '../../kernel/index.js';
import { APPROVAL_STATES, type PromotionResult } from '../../promotion/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { serverClientFor } from '../client/connect.js';
import { table } from '../format.js';
import { type GlobalOptions, withRuntime } from '../open-runtime.js';
import { requireRunId } from './require-run-id.js';

function printResult(
  io: CliIo,
  result: Omit<PromotionResult, 'status'> & { status: string },
): void {
  if (result.alreadyPromoted) {
    println(
      io.stdout,
      `run ${result.runId} was promoted at ${result.promotedAt} (asked by ${result.promotedBy}); nothing was done now. Its preflight then:`,
    );
  }
  printChecks(io, result.checks);
  for (const fallback of result.fallbacks) {
    println(io.stdout, `  fell back from ${fallback.from} to ${fallback.to}: ${fallback.reason}`);
  }
  const where =
    result.mode === 'patch'
      ? 'as a patch artifact (no git state written)'
      : `to ${result.branch ?? '?'} at ${result.commitSha ?? '?'}${result.prUrl ? `, draft PR ${result.prUrl}` : ''}`;
  println(io.stdout, `promoted ${result.runId} ${where}`);
  if (result.prError)
    println(io.stdout, `warning: the pull request was not opened: ${result.prError}`);
  println(
    io.stdout,
    `attestation sha256:${result.attestationSha256} (aas export ${result.runId} DIR)`,
  );
}

/** `aas approve`, `aas approvals` and `aas promote`: locally, or through a server. */
export function registerPromotionCommands(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command('approve')
    .description(
      "approve (or --reject) a run's current patch as your identity; the run's requester and whoever produced it cannot",
    )
    .argument('<run>', 'run id')
    .option('--reject', 'reject instead: final, the run ends blocked (APPROVAL_REJECTED)')
    .option('--note <text>', 'why; recorded with the decision')
    .option(
      '--expires-in <seconds>',
      'how long the approval counts: 60 or more, cut to AAS_APPROVAL_TTL_SEC (default: that TTL)',
    )
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nThe decision binds to the patch digest, the latest attempt and the target branch: a new attempt or another patch voids it.\nLocally your identity is the OS user (user:NAME); through --server it is your token.',
    )
    .action(
      async (
        runId: string,
        flags: { reject?: boolean; note?: string; expiresIn?: string; json?: boolean },
        command: Command,
      ) => {
        try {
          requireRunId(runId);
          const expiresInSec = flags.expiresIn === undefined ? undefined : Number(flags.expiresIn);
          if (
            expiresInSec !== undefined &&
            (!Number.isInteger(expiresInSec) || expiresInSec < 60)
          ) {
            throw new AasError(
              'INVALID_ARGUMENT',
              `must be a whole number of seconds, 60 or more, got "${flags.expiresIn}"`,
              {
                field: '--expires-in',
                hint: 'an approval counts for AAS_APPROVAL_TTL_SEC at most (7 days by default); a longer --expires-in is cut to it',
              },
            );
          }
          const input = {
            decision: flags.reject ? ('rejected' as const) : ('approved' as const),
            note: flags.note ?? null,
            ...(expiresInSec === undefined ? {} : { expiresInSec }),
          };
          const globals = command.optsWithGlobals<GlobalOptions>();
          const server = serverClientFor(io, globals);
          const result = server
            ? await server.decide(runId, input)
            : await withRuntime(io, globals, (runtime) =>
                runtime.promotion.service.decide(runId, { name: io.user, tokenId: null }, input),
              );
          if (flags.json) println(io.stdout, JSON.stringify(result));
          else if (input.decision === 'rejected') {
            println(
              io.stdout,
              `rejected ${runId} (${result.approval.id}) as ${result.approval.decidedBy}; the run is ${result.run.status}`,
            );
          } else {
            println(
              io.stdout,
              `approved ${runId} (${result.approval.id}) as ${result.approval.decidedBy}: patch sha256:${result.approval.patchSha256.slice(0, 12)}… onto ${result.approval.targetBranch}, until ${result.approval.expiresAt}`,
            );
          }
        } catch (thrown) {
          setExit(reportError(io, thrown, flags.json === true));
        }
      },
    );

  program
    .command('approvals')
    .description(
      "list approval decisions, or with --run one run's approvals and whether each counts",
    )
    .addOption(
      new Option('--status <state>', 'only decisions in this state').choices(APPROVAL_STATES),
    )
    .option('--run <run>', "one run's approvals, each with why it counts or not")
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'machine-readable output')
    .action(
      async (
        flags: {
          status?: (typeof APPROVAL_STATES)[number];
          run?: string;
          limit: string;
          json?: boolean;
        },
        command: Command,
      ) => {
        try {
          const limit = Number(flags.limit);
          if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
            throw new AasError('INVALID_ARGUMENT', '--limit must be a whole number from 1 to 500', {
              field: '--limit',
            });
          }
          const globals = command.optsWithGlobals<GlobalOptions>();
          const server = serverClientFor(io, globals);
          if (flags.run !== undefined) {
            requireRunId(flags.run);
            const runId = flags.run;
            const view = server
              ? await server.runApprovals(runId)
              : await withRuntime(io, globals, (runtime) =>
                  runtime.promotion.service.approvalsOf(runId),
                );
            if (flags.json) {
              println(io.stdout, JSON.stringify(view));
              return;
            }
            println(
              io.stdout,
              `${view.runId} → ${view.targetBranch}: ${view.counted} of ${view.required} approvals count`,
            );
            // A rejection ends the run whatever the count says (APPROVAL_REJECTED).
            const rejection = view.items.find((a) => a.decision === 'rejected');
            if (rejection !== undefined) {
              println(
                io.stdout,
                `rejected by ${rejection.decidedBy} (${rejection.id}): final, the run is not promoted`,
              );
            }
            println(
              io.stdout,
              table([
                ['ID', 'BY', 'DECISION', 'STATE', 'COUNTS', 'WHY'],
                ...view.items.map((a) => [
                  a.id,
                  a.decidedBy,
                  a.decision,
                  a.state,
                  a.counts ? 'yes' : 'no',
                  a.reason,
                ]),
              ]),
            );
            return;
          }
          const query = { limit, ...(flags.status === undefined ? {} : { status: flags.status }) };
          const items = server
            ? await server.listApprovals(query)
            : await withRuntime(io, globals, (runtime) =>
                runtime.promotion.service.listApprovals({
                  limit,
                  ...(flags.status === undefined ? {} : { state: flags.status }),
                }),
              );
          if (flags.json) {
            println(io.stdout, JSON.stringify(items));
            return;
          }
          println(
            io.stdout,
            table([
              ['ID', 'RUN', 'BY', 'DECISION', 'STATE', 'TARGET', 'AT'],
              ...items.map((a) => [
                a.id,
                a.runId,
                a.decidedBy,
                a.decision,
                a.state,
                a.targetBranch,
                a.createdAt,
              ]),
            ]),
          );
        } catch (thrown) {
          setExit(reportError(io, thrown, flags.json === true));
        }
      },
    );

  program
    .command('promote')
    .description(
      'promote a run: preflight (printed check by check), then a patch artifact, a branch, or a draft pull request, with a signed attestation',
    )
    .argument('<run>', 'run id')
    .addOption(
      new Option(
        '--mode <mode>',
        "override the job's promotion.mode (refused, not lowered, when it cannot be had)",
      ).choices(['patch', 'branch', 'draft_pr']),
    )
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nPromotions of one target branch run one at a time (a writer lease). Retrying a promotion that stopped half-way finishes it; it never makes a second commit, branch or pull request.\nExit codes: 0 promoted, 3 refused by a check (approvals, base moved, branch exists, a --mode that cannot be had), 6 patch digest mismatch, 1 the remote or the forge failed (PROVIDER_ERROR: the promotion waits for a retry, see aas sessions show).',
    )
    .action(
      async (
        runId: string,
        flags: { mode?: 'patch' | 'branch' | 'draft_pr'; json?: boolean },
        command: Command,
      ) => {
        try {
          requireRunId(runId);
          const globals = command.optsWithGlobals<GlobalOptions>();
          const server = serverClientFor(io, globals);
          const result = server
            ? await server.promote(runId, flags.mode)
            : await withRuntime(io, globals, (runtime) =>
                runtime.promotion.service.promote(runId, io.user, flags.mode),
              );
          // A promotion is done once: asking again answers with the recorded one when it gives
          // the mode asked for (a branch has its patch too), and is refused when it does not.
          if (flags.json) println(io.stdout, JSON.stringify(result));
          else printResult(io, result);
        } catch (thrown) {
          // A refusal carries every preflight check, passed or not (`--json`: in its details).
          if (!flags.json) printChecks(io, isAasError(thrown) ? thrown.details.checks : undefined);
          setExit(reportError(io, thrown, flags.json === true));
        }
      },
    );
}

/** The preflight checks a refusal carries, one line each, as a promotion prints them. */
function printChecks(io: CliIo, checks: unknown): void {
  if (!Array.isArray(checks)) return;
  for (const check of checks as { name?: unknown; ok?: unknown; detail?: unknown }[]) {
    println(
      io.stdout,
      `  ${check.ok === true ? 'ok  ' : 'FAIL'} ${String(check.name)}: ${String(check.detail)}`,
    );
  }
}
