/**
 * The built-in `mock` agent. This file runs AS the agent process (node dist/drivers/mock-agent.js,
 * or from source through tsx under tests), so it follows the AEP contract from the outside:
 * it reads job.json, edits its cwd (the workspace), appends events and writes the result.
 *
 * It imports only node:fs and node:path (plus erased types) so it stays a faithful stand-in
 * for a foreign agent binary, and it is the one file in src that reads process.env: its
 * AEP_* variables are its inputs.
 */
import {
  appendFileSync,
  chmodSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { DriverResult } from './driver-result.js';
import type { MockEdit, MockMisbehaviour, MockScript, MockStep } from './mock-script.js';

interface JobView {
  readonly attempt: number;
  readonly feedback: unknown;
  readonly script: MockScript;
}

function requireEnv(name: string): string {
  // The agent process's own environment: this is how AEP hands it its inputs.
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`mock-agent: ${name} is not set\n`);
    process.exit(2);
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readJob(path: string): JobView {
  const raw: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!isRecord(raw)) throw new Error('job.json is not an object');
  const attempt = typeof raw.attempt === 'number' ? raw.attempt : 1;
  const input = isRecord(raw.input) ? raw.input : {};
  // Trusted-enough cast: the script comes from the test or demo that wrote the job.
  const script = (isRecord(input.mock) ? input.mock : {}) as MockScript;
  return { attempt, feedback: raw.feedback ?? [], script };
}

function stepFor(script: MockScript, attempt: number): MockStep {
  const attempts = script.attempts;
  if (attempts === undefined || attempts.length === 0) return script;
  return attempts[attempt - 1] ?? attempts[attempts.length - 1] ?? script;
}

function applyEdit(workspace: string, edit: MockEdit): void {
  const target = resolve(workspace, edit.path);
  if (edit.delete === true) rmSync(target, { recursive: true, force: true });
  if (edit.write !== undefined || edit.writeBase64 !== undefined || edit.append !== undefined) {
    mkdirSync(dirname(target), { recursive: true });
  }
  if (edit.write !== undefined) writeFileSync(target, edit.write);
  if (edit.writeBase64 !== undefined)
    writeFileSync(target, Buffer.from(edit.writeBase64, 'base64'));
  if (edit.append !== undefined) appendFileSync(target, edit.append);
  if (edit.symlinkTo !== undefined) {
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(edit.symlinkTo, target);
  }
  if (edit.chmod !== undefined) chmodSync(target, Number.parseInt(edit.chmod, 8));
  if (edit.renameTo !== undefined) {
    const destination = resolve(workspace, edit.renameTo);
    mkdirSync(dirname(destination), { recursive: true });
    renameSync(target, destination);
  }
}

function floodEvents(eventLog: string): void {
  const lines: string[] = [];
  for (let index = 0; index < 3000; index += 1) {
    if (index % 10 === 3) lines.push('this is {not json');
    else if (index % 10 === 6) lines.push(JSON.stringify({ type: 'BAD TYPE', data: index }));
    else if (index % 100 === 9)
      lines.push(JSON.stringify({ type: 'mock.big', data: 'x'.repeat(64 * 1024) }));
    else lines.push(JSON.stringify({ type: 'mock.flood', data: { index } }));
  }
  appendFileSync(eventLog, `${lines.join('\n')}\n`);
}

function floodOutput(): void {
  const chunk = Buffer.alloc(64 * 1024, 'y');
  const pump = (): void => {
    while (process.stdout.write(chunk)) {
      // keep writing until the pipe pushes back
    }
    process.stdout.once('drain', pump);
  };
  pump();
}

function main(): void {
  const workspace = requireEnv('AEP_WORKSPACE');
  const eventLog = requireEnv('AEP_EVENT_LOG');
  const resultPath = requireEnv('AEP_RESULT_PATH');
  const job = readJob(requireEnv('AEP_JOB_SPEC'));
  const step = stepFor(job.script, job.attempt);
  const misbehave: MockMisbehaviour | undefined = step.misbehave;
  const emit = (type: string, data: unknown): void => {
    appendFileSync(eventLog, `${JSON.stringify({ type, data })}\n`);
  };

  emit('mock.started', { attempt: job.attempt });
  const edits = step.edits ?? [];
  for (const edit of edits) {
    applyEdit(workspace, edit);
    emit('mock.edited', { path: edit.path });
  }
  if (step.echoFeedbackTo !== undefined) {
    const target = resolve(workspace, step.echoFeedbackTo);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, `${JSON.stringify(job.feedback, null, 2)}\n`);
  }
  for (const event of step.events ?? []) emit(event.type, event.data ?? null);

  const result: DriverResult = {
    status: 'succeeded',
    summary: `mock agent applied ${edits.length} edit(s) on attempt ${job.attempt}`,
    recommendedAction: 'promote',
    changedPaths: edits.map((edit) => edit.path),
    ...step.result,
  };
  const writeResult = (): void => writeFileSync(resultPath, `${JSON.stringify(result, null, 2)}\n`);

  switch (misbehave) {
    case undefined:
      break;
    case 'garbage-result':
      writeFileSync(resultPath, 'this is not a driver result {');
      emit('mock.finished', { misbehave });
      return;
    case 'no-result':
      emit('mock.finished', { misbehave });
      return;
    case 'exit-nonzero':
      writeResult();
      emit('mock.finished', { misbehave });
      process.exitCode = 3;
      return;
    case 'flood-output':
      floodOutput();
      return;
    case 'hang':
      emit('mock.hanging', null);
      setInterval(() => undefined, 60_000);
      return;
    case 'flood-events':
      floodEvents(eventLog);
      break;
    case 'escape-workspace':
      // The plain backend cannot stop this; an isolating sandbox must. Tests record which.
      writeFileSync(resolve(workspace, '../outside.txt'), 'written outside the workspace\n');
      break;
    default: {
      const unknown: never = misbehave;
      throw new Error(`unknown misbehaviour: ${String(unknown)}`);
    }
  }
  writeResult();
  emit('mock.finished', { misbehave: misbehave ?? null });
}

main();
