import { type FormEvent, useState } from 'react';
import { type ApiError, api, asApiError } from '../api';
import { ErrorBox } from '../components/error-box';
import { href } from '../router';

interface Draft {
  task: string;
  repo: string;
  agent: string;
  baseRef: string;
  labels: string;
  agentInput: string;
  policy: string;
  /** One validator command per line. */
  validators: string;
  retries: string;
  promotionMode: string;
  targetBranch: string;
}

const PROMOTION_MODES = ['patch', 'branch', 'draft_pr'] as const;

type Field = keyof Draft;
type FieldErrors = Partial<Record<Field, string>>;

const EXAMPLE_INPUT = JSON.stringify(
  { mock: { edits: [{ path: 'hello.txt', write: 'hello from the panel\n' }] } },
  null,
  2,
);

/** Client-side checks: what the server would refuse anyway, said before the round trip. */
function check(draft: Draft): { errors: FieldErrors; agentInput?: unknown; policy?: unknown } {
  const errors: FieldErrors = {};
  if (draft.task.trim() === '') errors.task = 'Describe the task.';
  if (draft.repo.trim() === '') errors.repo = 'Name the repository on the server.';
  else if (!/^(\/|[a-z][a-z0-9+.-]*:\/\/)/i.test(draft.repo.trim())) {
    errors.repo =
      'Use an absolute path on the server (/srv/repos/app) or a URL (https://git.example/app.git).';
  }
  if (draft.agent.trim() === '') errors.agent = 'Name an agent (aas agents lists them).';
  const parse = (field: 'agentInput' | 'policy', text: string): unknown => {
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      errors[field] = `Not valid JSON: ${(error as Error).message}`;
      return undefined;
    }
  };
  const agentInput = parse('agentInput', draft.agentInput);
  const policy = parse('policy', draft.policy);
  const retries = draft.retries.trim();
  if (retries !== '' && !/^(10|[0-9])$/.test(retries)) {
    errors.retries = 'A whole number from 0 to 10.';
  }
  return { errors, agentInput, policy };
}

/** The validators' commands, one per non-empty line. */
function validatorsOf(text: string): { command: string }[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((command) => ({ command }));
}

/** Which form field a server error names (`details.field` such as `agentInput.mock.edits`). */
function fieldOf(error: ApiError): Field | null {
  const first = String(error.details.field ?? '').split(/[.[]/)[0] ?? '';
  if (first === 'promotion') {
    return String(error.details.field).includes('targetBranch') ? 'targetBranch' : 'promotionMode';
  }
  const fields: Field[] = [
    'task',
    'repo',
    'agent',
    'baseRef',
    'labels',
    'agentInput',
    'policy',
    'validators',
    'retries',
  ];
  return fields.find((field) => field === first) ?? null;
}

/** Keyboard users land on what needs fixing (after React has rendered the message). */
function focusField(field: string | undefined): void {
  if (field === undefined) return;
  requestAnimationFrame(() => document.getElementById(`field-${field}`)?.focus());
}

export function NewRunPage() {
  const [draft, setDraft] = useState<Draft>({
    task: '',
    repo: '',
    agent: 'mock',
    baseRef: '',
    labels: '',
    agentInput: EXAMPLE_INPUT,
    policy: '',
    validators: '',
    retries: '',
    promotionMode: 'patch',
    targetBranch: '',
  });
  const [errors, setErrors] = useState<FieldErrors>({});
  const [failure, setFailure] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  /** A run queued with warnings (no worker can claim it now): shown before moving on. */
  const [queued, setQueued] = useState<{
    sessionId: string;
    warnings: readonly { field: string; message: string; hint: string }[];
  } | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const checked = check(draft);
    setErrors(checked.errors);
    setFailure(null);
    if (Object.keys(checked.errors).length > 0) {
      focusField(Object.keys(checked.errors)[0]);
      return;
    }
    setBusy(true);
    const labels = draft.labels
      .split(',')
      .map((label) => label.trim())
      .filter(Boolean);
    const body = {
      task: draft.task.trim(),
      repo: draft.repo.trim(),
      agent: draft.agent.trim(),
      ...(draft.baseRef.trim() ? { baseRef: draft.baseRef.trim() } : {}),
      ...(labels.length > 0 ? { labels } : {}),
      ...(checked.agentInput === undefined ? {} : { agentInput: checked.agentInput }),
      ...(checked.policy === undefined ? {} : { policy: checked.policy }),
      ...(draft.validators.trim() === '' ? {} : { validators: validatorsOf(draft.validators) }),
      ...(draft.retries.trim() === '' ? {} : { retries: Number(draft.retries.trim()) }),
      promotion: {
        mode: draft.promotionMode,
        // Only a branch or a pull request has a target; a hidden field sends nothing.
        ...(draft.promotionMode === 'patch' || draft.targetBranch.trim() === ''
          ? {}
          : { targetBranch: draft.targetBranch.trim() }),
      },
    };
    try {
      const { data, error, response } = await api.POST('/api/v1/sessions', {
        // The server validates the whole JobSpec; its errors come back next to the field.
        body: body as never,
      });
      if (data) {
        if (data.warnings.length > 0)
          setQueued({ sessionId: data.sessionId, warnings: data.warnings });
        else
          window.location.hash = href({ page: 'run', sessionId: data.sessionId, tab: 'timeline' });
        return;
      }
      const problem = asApiError(error, response.status);
      const field = fieldOf(problem);
      if (field !== null) {
        // A field inside the one on the form (policy.paths.alow) is named, and the hint kept:
        // "unknown key" alone does not say where or what to write instead.
        const where = String(problem.details.field ?? '');
        const hint = problem.details.hint;
        setErrors({
          [field]: `${where !== field ? `${where}: ` : ''}${problem.message}${hint === undefined ? '' : ` (${hint})`}`,
        });
        focusField(field);
      } else setFailure(problem);
    } catch {
      setFailure(asApiError(null));
    } finally {
      setBusy(false);
    }
  }

  const input = (field: Field, label: string, hint?: string, multiline = false) => {
    const id = `field-${field}`;
    const error = errors[field];
    const common = {
      id,
      value: draft[field],
      'aria-invalid': error !== undefined,
      'aria-describedby': error !== undefined ? `${id}-error` : hint ? `${id}-hint` : undefined,
    };
    return (
      <div className="field">
        <label htmlFor={id}>{label}</label>
        {multiline ? (
          <textarea
            {...common}
            rows={field === 'task' ? 3 : 6}
            spellCheck={field === 'task'}
            onChange={(event) => setDraft({ ...draft, [field]: event.target.value })}
          />
        ) : (
          <input
            {...common}
            onChange={(event) => setDraft({ ...draft, [field]: event.target.value })}
          />
        )}
        {hint !== undefined && error === undefined && (
          <p id={`${id}-hint`} className="hint">
            {hint}
          </p>
        )}
        {error !== undefined && (
          <p id={`${id}-error`} className="field-error">
            {error}
          </p>
        )}
      </div>
    );
  };

  if (queued !== null) {
    return (
      <section className="narrow">
        <h1>New run</h1>
        <div className="notice" role="status">
          <p>The run is queued, but it may wait:</p>
          <ul>
            {queued.warnings.map((warning) => (
              <li key={warning.field + warning.message}>
                <strong>{warning.field}</strong>: {warning.message}
                <p className="hint">{warning.hint}</p>
              </li>
            ))}
          </ul>
          <a
            className="button"
            href={href({ page: 'run', sessionId: queued.sessionId, tab: 'timeline' })}
          >
            Open the run
          </a>
        </div>
      </section>
    );
  }

  return (
    <section className="narrow">
      <h1>New run</h1>
      <form onSubmit={submit} noValidate aria-label="New run">
        {input('task', 'Task', 'What the agent should do, in words.', true)}
        {input(
          'repo',
          'Repository',
          'An absolute path to a git repository on the server, or its URL (https://, file://).',
        )}
        {input('agent', 'Agent', 'mock, command, claude-code, codex, gemini, aider, openhands…')}
        {input(
          'baseRef',
          'Base ref',
          'Optional: the branch or commit to start from (default HEAD).',
        )}
        {input('labels', 'Labels', 'Optional, comma-separated.')}
        {input('agentInput', 'Agent input (JSON)', 'Passed to the agent as job input.', true)}
        {input('policy', 'Policy layer (JSON)', 'Optional: narrows what the run may do.', true)}
        {input(
          'validators',
          'Validators',
          'Optional: one command per line, run in the sandbox on the patched workspace (e.g. npm test).',
          true,
        )}
        {input('retries', 'Retries', 'Optional: extra attempts, 0 to 10, each told what failed.')}
        <div className="field">
          <label htmlFor="field-promotionMode">Promote as</label>
          <select
            id="field-promotionMode"
            value={draft.promotionMode}
            aria-invalid={errors.promotionMode !== undefined}
            onChange={(event) => setDraft({ ...draft, promotionMode: event.target.value })}
          >
            {PROMOTION_MODES.map((mode) => (
              <option key={mode} value={mode}>
                {mode === 'draft_pr' ? 'draft pull request' : mode}
              </option>
            ))}
          </select>
          {errors.promotionMode !== undefined && (
            <p className="field-error">{errors.promotionMode}</p>
          )}
        </div>
        {draft.promotionMode !== 'patch' &&
          input(
            'targetBranch',
            'Target branch',
            'Optional: the branch the patch goes onto (default: the branch the run started from).',
          )}
        {failure !== null && <ErrorBox error={failure} title="The run was not submitted" />}
        <button type="submit" disabled={busy}>
          {busy ? 'Submitting…' : 'Submit run'}
        </button>
      </form>
    </section>
  );
}
