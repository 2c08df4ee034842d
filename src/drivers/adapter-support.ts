/**
 * What the in-sandbox driver adapters (claude-code-adapter.ts, codex-adapter.ts) share: they
 * run as the agent process, so they read the AEP variables from their own environment, append
 * events to the AEP event log, and build the prompt the same way.
 */
import { appendFileSync, readFileSync } from 'node:fs';

const MAX_TEXT = 4_000;

export interface AdapterJob {
  readonly task: string;
  readonly feedback?: readonly { readonly gate: string; readonly detail: string }[];
  readonly policySummary?: string;
  readonly input?: { readonly model?: unknown } | null;
}

/** An AEP variable the runner always sets; its absence means the adapter was not started by AAS. */
export function requiredEnv(adapter: string, name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`${adapter}: ${name} is not set\n`);
    process.exit(2);
  }
  return value;
}

export function readAdapterJob(adapter: string): AdapterJob {
  return JSON.parse(readFileSync(requiredEnv(adapter, 'AEP_JOB_SPEC'), 'utf8')) as AdapterJob;
}

/** The model the job asks for (`agentInput.model`), if any. */
export function modelOf(job: AdapterJob): string | undefined {
  return typeof job.input?.model === 'string' ? job.input.model : undefined;
}

export function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

/** Appends one event line to the AEP event log. */
export function emitter(eventLog: string) {
  return (type: string, message: string | undefined, data: unknown): void => {
    appendFileSync(
      eventLog,
      `${JSON.stringify({ type, ...(message ? { message: clip(message) } : {}), data })}\n`,
    );
  };
}

/** The task, what the gates said about the previous attempt, and the policy in words. */
export function adapterPrompt(job: AdapterJob): string {
  const parts = [job.task];
  if (job.feedback && job.feedback.length > 0) {
    parts.push(
      'The previous attempt was rejected. Fix these problems:',
      ...job.feedback.map((item) => `- ${item.gate}: ${item.detail}`),
    );
  }
  if (job.policySummary) parts.push(`Rules for this task: ${job.policySummary}`);
  parts.push('Edit the files in the current directory. Do not commit; your changes are collected.');
  return parts.join('\n\n');
}
