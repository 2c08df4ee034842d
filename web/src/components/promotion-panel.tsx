import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import {
  type ApiError,
  type Approvals,
  api,
  asApiError,
  type Identity,
  type PromotionRecord,
  type PromotionResult,
  type RunDetail,
} from '../api';
import { downloadWithToken } from '../download';
import type { PreflightData } from '../pages/run-page';
import { ErrorBox } from './error-box';
import { Moment } from './moment';

type PromotionMode = 'patch' | 'branch' | 'draft_pr';

const PROMOTABLE = new Set(['ready_for_promotion', 'awaiting_approval', 'promoting']);
/** A promotion under way has used its approvals: deciding again is refused (409). */
const DECIDABLE = new Set(['ready_for_promotion', 'awaiting_approval']);

/** Where a promotion that stopped half-way was, in words (its state when it stopped). */
const STOPPED_AT: Readonly<Record<string, string>> = {
  started: 'before its commit',
  committed: 'before the push',
  pushed: 'after the push',
  pr_opened: 'after the pull request was opened',
};

/** What a promotion record's `detail` may say beside its columns (see promotion-detail.ts). */
interface RecordDetail {
  readonly checks?: PromotionResult['checks'];
  readonly fallbacks?: PromotionResult['fallbacks'];
  readonly prError?: string | null;
  readonly lastFailure?: {
    readonly step: string;
    readonly code: string;
    readonly message: string;
    readonly hint?: string;
  } | null;
}

/** Approve or reject with a note, see which approvals count and why not, then promote. */
export function PromotionPanel({
  run,
  requestedBy,
  identity,
  preflight,
  reloadKey,
  onChange,
}: {
  run: RunDetail;
  /** Who asked for the run (the session's requester): never its approver. */
  requestedBy: string;
  identity: Identity;
  /** The latest `promotion.preflight` event: a refused preflight has no promotion record. */
  preflight: PreflightData | undefined;
  /**
   * Changes with each approval or promotion event and each reconnect to the server: others'
   * decisions, and lists that failed to load while the server was away, are read again.
   */
  reloadKey: string;
  onChange: () => void;
}) {
  const runId = run.run.id;
  const promotionStarted = run.run.status === 'promoting' || run.run.status === 'promoted';
  const [approvals, setApprovals] = useState<Approvals | null>(null);
  const [record, setRecord] = useState<PromotionRecord | null>(null);
  const [result, setResult] = useState<PromotionResult | null>(null);
  const [note, setNote] = useState('');
  /** Reject was clicked once: a rejection is final, so it asks again, with a reason. */
  const [rejecting, setRejecting] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [downloadError, setDownloadError] = useState<string | null>(null);
  const jobMode =
    (run.run.jobSpec as { promotion?: { mode?: PromotionMode } } | null)?.promotion?.mode ??
    'patch';
  const [mode, setMode] = useState<PromotionMode>(jobMode);
  /** A stopped draft pull request's choice: open it again, or finish with the branch alone. */
  const [settleMode, setSettleMode] = useState<PromotionMode>('draft_pr');

  const [loadError, setLoadError] = useState<ApiError | null>(null);

  const load = useCallback(async () => {
    const found = await api.GET('/api/v1/runs/{id}/approvals', { params: { path: { id: runId } } });
    if (found.data) {
      setApprovals(found.data);
      setLoadError(null);
    } else setLoadError(asApiError(found.error, found.response.status));
    // A promotion record exists once one started (the run is promoting or promoted); asked
    // before, every refresh was a 404 in the browser's console.
    if (!promotionStarted) {
      setRecord(null);
      return;
    }
    const promotion = await api.GET('/api/v1/runs/{id}/promotion', {
      params: { path: { id: runId } },
    });
    setRecord(promotion.data ?? null);
  }, [runId, promotionStarted]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: reloadKey says when to read again
  useEffect(() => {
    load().catch(() => setLoadError(asApiError(null)));
  }, [load, reloadKey]);
  // The second step of a rejection takes the focus: the reason is what it asks for next.
  const reasonField = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    if (rejecting) reasonField.current?.focus();
  }, [rejecting]);

  async function decide(decision: 'approved' | 'rejected', event?: FormEvent) {
    event?.preventDefault();
    setBusy(decision);
    setError(null);
    try {
      const {
        data,
        error: failure,
        response,
      } = await api.POST('/api/v1/runs/{id}/approvals', {
        params: { path: { id: runId } },
        body: { decision, note: note.trim() === '' ? null : note.trim() },
      });
      if (data) {
        setNote('');
        setRejecting(false);
      } else setError(asApiError(failure, response.status));
      await load();
      onChange();
    } catch {
      setError(asApiError(null));
    } finally {
      setBusy(null);
    }
  }

  async function promote() {
    setBusy('promote');
    setError(null);
    try {
      const {
        data,
        error: failure,
        response,
      } = await api.POST('/api/v1/runs/{id}/promote', {
        params: { path: { id: runId } },
        // A promotion under way keeps its mode; only a pull request not opened may settle.
        body: status !== 'promoting' ? { mode } : settleable ? { mode: settleMode } : {},
      });
      if (data) setResult(data);
      else setError(asApiError(failure, response.status));
      await load();
      onChange();
    } catch {
      setError(asApiError(null));
    } finally {
      setBusy(null);
    }
  }

  const status = run.run.status;
  const canApprove = identity.role === 'approver' || identity.role === 'admin';
  // The server's role table (permissions.ts): everyone but a viewer may promote.
  const canPromote = identity.role !== 'viewer';
  // An approval of yours that counts already: deciding again would change nothing.
  const mine = approvals?.items.find((item) => item.decidedBy === identity.name && item.counts);
  // The server refuses the requester's own decision (APPROVAL_SELF): no form to be refused by.
  const ownRun = requestedBy !== '' && identity.name === requestedBy;
  // Too few approvals: the preflight would refuse, so the button says so before it is pressed.
  const missingApprovals =
    approvals !== null && status !== 'promoting' ? approvals.required - approvals.counted : 0;
  const detail = (record?.detail ?? null) as RecordDetail | null;
  const checks = result?.checks ?? detail?.checks ?? preflight?.checks ?? [];
  const fallbacks = result?.fallbacks ?? detail?.fallbacks ?? [];
  const prError = result?.prError ?? detail?.prError ?? null;
  // A promotion that stopped half-way waits for a person: say where and why, and how to go on.
  const stopped = status === 'promoting' ? (detail?.lastFailure ?? null) : null;
  // Pushed, without its pull request: open it again, or finish with the branch alone.
  const settleable =
    status === 'promoting' &&
    record?.mode === 'draft_pr' &&
    record.state === 'pushed' &&
    record.prUrl === null;
  const branch = result?.branch ?? record?.branch ?? null;
  const prUrl = result?.prUrl ?? record?.prUrl ?? null;
  const attested = (result?.attestationSha256 ?? record?.attestationSha256 ?? null) !== null;

  return (
    <div className="promotion">
      <section aria-labelledby="approvals-title">
        <h2 id="approvals-title">Approvals</h2>
        {loadError !== null && <ErrorBox error={loadError} title="Approvals could not be loaded" />}
        {approvals === null ? (
          loadError === null && <p className="loading">Loading approvals…</p>
        ) : (
          <>
            <p>
              <strong>
                {approvals.counted} of {approvals.required}
              </strong>{' '}
              approval{approvals.required === 1 ? '' : 's'} counted for{' '}
              <span className="mono">{approvals.targetBranch}</span>.
            </p>
            {approvals.items.length === 0 ? (
              <p className="empty">Nobody has decided yet.</p>
            ) : (
              <ul className="approvals">
                {approvals.items.map((item) => (
                  <li key={item.id}>
                    <span className={`badge ${item.decision === 'approved' ? 'pass' : 'fail'}`}>
                      {item.decision}
                    </span>{' '}
                    by <strong>{item.decidedBy}</strong>
                    {item.note ? (
                      <>
                        {' '}
                        <q>{item.note}</q>
                      </>
                    ) : null}{' '}
                    {item.decision === 'rejected' ? null : item.counts ? (
                      <span className="counts">counts</span>
                    ) : (
                      <span className="not-counted">does not count: {item.reason}</span>
                    )}
                  </li>
                ))}
              </ul>
            )}
          </>
        )}
        {DECIDABLE.has(status) && !canApprove && (
          <p className="hint">
            Your role ({identity.role}) cannot approve; an approver or an admin can.
          </p>
        )}
        {DECIDABLE.has(status) && canApprove && mine !== undefined && (
          <p className="hint">
            You approved this patch ({mine.id}); your approval counts until{' '}
            <Moment iso={mine.expiresAt} />.
          </p>
        )}
        {DECIDABLE.has(status) && canApprove && mine === undefined && ownRun && (
          <p className="hint">
            You requested this run, so you cannot approve or reject it: another approver or an admin
            decides.
          </p>
        )}
        {DECIDABLE.has(status) && canApprove && mine === undefined && !ownRun && (
          <form className="decide" onSubmit={(event) => decide('approved', event)}>
            <label htmlFor="approval-note">
              {rejecting ? 'Why it is rejected (required)' : 'Note (optional)'}
            </label>
            <textarea
              ref={reasonField}
              id="approval-note"
              aria-required={rejecting}
              rows={2}
              value={note}
              onChange={(event) => setNote(event.target.value)}
            />
            <p className="hint">
              You are <strong>{identity.name}</strong>. The requester
              {requestedBy ? ` (${requestedBy})` : ''} and anyone who ran the agent cannot approve
              their own run; an approval counts only for the patch it was given for.
            </p>
            {rejecting ? (
              <>
                <p className="warning">
                  A rejection is final: the run ends as blocked and cannot be promoted.
                </p>
                <div className="buttons">
                  <button
                    type="button"
                    className="danger"
                    disabled={busy !== null || note.trim() === ''}
                    onClick={() => decide('rejected')}
                  >
                    {busy === 'rejected' ? 'Rejecting…' : 'Reject for good'}
                  </button>
                  <button
                    type="button"
                    className="secondary"
                    disabled={busy !== null}
                    onClick={() => setRejecting(false)}
                  >
                    Back
                  </button>
                </div>
              </>
            ) : (
              <div className="buttons">
                <button type="submit" disabled={busy !== null}>
                  {busy === 'approved' ? 'Approving…' : 'Approve'}
                </button>
                <button
                  type="button"
                  className="danger"
                  disabled={busy !== null}
                  onClick={() => setRejecting(true)}
                >
                  Reject…
                </button>
              </div>
            )}
          </form>
        )}
      </section>
      {error !== null && (
        <ErrorBox
          error={error}
          title={
            error.code === 'NETWORK' ? 'The server could not be reached' : 'The server refused'
          }
        />
      )}
      <section aria-labelledby="promote-title">
        <h2 id="promote-title">Promotion</h2>
        {record === null && result === null && !PROMOTABLE.has(status) && (
          <p className="empty">
            Only a run that passed its gates can be promoted; this one is{' '}
            {status.replaceAll('_', ' ')}.
          </p>
        )}
        {stopped !== null && (
          <ErrorBox
            title={`The promotion stopped ${STOPPED_AT[stopped.step] ?? `at ${stopped.step}`}`}
            error={{
              code: stopped.code,
              message: stopped.message,
              details: stopped.hint === undefined ? {} : { hint: stopped.hint },
            }}
          />
        )}
        {PROMOTABLE.has(status) && !canPromote && (
          <p className="hint">Your role ({identity.role}) cannot promote.</p>
        )}
        {PROMOTABLE.has(status) && canPromote && (
          <div className="promote-row">
            {status !== 'promoting' && (
              <>
                <label htmlFor="promotion-mode">Promote as</label>
                <select
                  id="promotion-mode"
                  value={mode}
                  onChange={(event) => setMode(event.target.value as PromotionMode)}
                >
                  <option value="patch">patch artifact</option>
                  <option value="branch">branch on the remote</option>
                  <option value="draft_pr">draft pull request</option>
                </select>
              </>
            )}
            {settleable && (
              <>
                <label htmlFor="promotion-mode">Finish as</label>
                <select
                  id="promotion-mode"
                  value={settleMode}
                  onChange={(event) => setSettleMode(event.target.value as PromotionMode)}
                >
                  <option value="draft_pr">draft pull request (open it again)</option>
                  <option value="branch">the branch alone</option>
                </select>
              </>
            )}
            <button
              type="button"
              onClick={promote}
              disabled={busy !== null || missingApprovals > 0}
            >
              {busy === 'promote'
                ? 'Promoting…'
                : status === 'promoting'
                  ? 'Promote again'
                  : 'Promote'}
            </button>
          </div>
        )}
        {PROMOTABLE.has(status) && canPromote && missingApprovals > 0 && (
          <p className="hint">
            {missingApprovals === 1
              ? 'One more approval is needed before this run can be promoted.'
              : `${missingApprovals} more approvals are needed before this run can be promoted.`}
          </p>
        )}
        {checks.length > 0 && (
          <ol className="checks" aria-label="Preflight checks">
            {checks.map((check) => (
              <li key={check.name} className={check.ok ? 'ok' : 'failed'}>
                <span aria-hidden="true">{check.ok ? '✓' : '✗'}</span>{' '}
                <span className="mono">{check.name}</span>: {check.detail}
              </li>
            ))}
          </ol>
        )}
        {(record !== null || result !== null) && (
          <dl className="facts">
            <dt>State</dt>
            <dd>{record?.state ?? result?.status}</dd>
            <dt>Mode</dt>
            <dd>{result?.mode ?? record?.mode ?? record?.requestedMode}</dd>
            <dt>Branch</dt>
            <dd className="mono promoted-branch">{branch ?? '—'}</dd>
            <dt>Pull request</dt>
            <dd>
              {prUrl ? (
                <a href={prUrl} target="_blank" rel="noreferrer">
                  {prUrl}
                </a>
              ) : (
                '—'
              )}
            </dd>
            {prError !== null && (
              <>
                <dt>Pull request not opened</dt>
                <dd className="pr-error">{prError}</dd>
              </>
            )}
            {fallbacks.length > 0 && (
              <>
                <dt>Fell back</dt>
                <dd>
                  <ul className="fallbacks">
                    {fallbacks.map((fallback) => (
                      <li key={`${fallback.from}-${fallback.to}-${fallback.reason}`}>
                        {fallback.from} → {fallback.to}: {fallback.reason}
                      </li>
                    ))}
                  </ul>
                </dd>
              </>
            )}
          </dl>
        )}
        {attested && (
          <button
            type="button"
            className="secondary"
            onClick={async () =>
              setDownloadError(
                await downloadWithToken(
                  `/api/v1/runs/${encodeURIComponent(runId)}/attestation`,
                  `${runId}.intoto.json`,
                ),
              )
            }
          >
            Download attestation
          </button>
        )}
        {downloadError !== null && <p className="field-error">{downloadError}</p>}
      </section>
    </div>
  );
}
