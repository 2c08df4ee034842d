import { type FormEvent, useCallback, useEffect, useState } from 'react';
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

type PromotionMode = 'patch' | 'branch' | 'draft_pr';

const PROMOTABLE = new Set(['ready_for_promotion', 'awaiting_approval', 'promoting']);

/** Approve or reject with a note, see which approvals count and why not, then promote. */
export function PromotionPanel({
  run,
  identity,
  preflight,
  decisionsSeq,
  onChange,
}: {
  run: RunDetail;
  identity: Identity;
  /** The latest `promotion.preflight` event: a refused preflight has no promotion record. */
  preflight: PreflightData | undefined;
  /** Seq of the latest approval or promotion event: others' decisions reload the lists. */
  decisionsSeq: number;
  onChange: () => void;
}) {
  const runId = run.run.id;
  const [approvals, setApprovals] = useState<Approvals | null>(null);
  const [record, setRecord] = useState<PromotionRecord | null>(null);
  const [result, setResult] = useState<PromotionResult | null>(null);
  const [note, setNote] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [downloadError, setDownloadError] = useState<string | null>(null);
  const jobMode =
    (run.run.jobSpec as { promotion?: { mode?: PromotionMode } } | null)?.promotion?.mode ??
    'patch';
  const [mode, setMode] = useState<PromotionMode>(jobMode);

  const [loadError, setLoadError] = useState<ApiError | null>(null);

  const load = useCallback(async () => {
    const found = await api.GET('/api/v1/runs/{id}/approvals', { params: { path: { id: runId } } });
    if (found.data) {
      setApprovals(found.data);
      setLoadError(null);
    } else setLoadError(asApiError(found.error, found.response.status));
    const promotion = await api.GET('/api/v1/runs/{id}/promotion', {
      params: { path: { id: runId } },
    });
    setRecord(promotion.data ?? null);
  }, [runId]);

  useEffect(() => {
    // Another person's approval or a promotion step arrived on the stream: read the lists again.
    if (decisionsSeq >= 0) load().catch(() => setLoadError(asApiError(null)));
  }, [load, decisionsSeq]);

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
      if (data) setNote('');
      else setError(asApiError(failure, response.status));
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
        body: { mode },
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
  const requester = (run.run.jobSpec as { requestedBy?: string } | null)?.requestedBy;
  const canApprove = identity.role === 'approver' || identity.role === 'admin';
  // An approval of yours that counts already: deciding again would change nothing.
  const mine = approvals?.items.find((item) => item.decidedBy === identity.name && item.counts);
  const checks =
    result?.checks ??
    (record?.detail as { checks?: PromotionResult['checks'] } | null)?.checks ??
    preflight?.checks ??
    [];
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
                    {item.note ? <q>{item.note}</q> : null}{' '}
                    {item.counts ? (
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
        {PROMOTABLE.has(status) && !canApprove && (
          <p className="hint">
            Your role ({identity.role}) cannot approve; an approver or an admin can.
          </p>
        )}
        {PROMOTABLE.has(status) && canApprove && mine !== undefined && (
          <p className="hint">
            You approved this patch ({mine.id}); your approval counts until {mine.expiresAt}.
          </p>
        )}
        {PROMOTABLE.has(status) && canApprove && mine === undefined && (
          <form className="decide" onSubmit={(event) => decide('approved', event)}>
            <label htmlFor="approval-note">Note (optional)</label>
            <textarea
              id="approval-note"
              rows={2}
              value={note}
              onChange={(event) => setNote(event.target.value)}
            />
            <p className="hint">
              You are <strong>{identity.name}</strong>. The requester
              {requester ? ` (${requester})` : ''} and anyone who ran the agent cannot approve their
              own run; an approval counts only for the patch it was given for.
            </p>
            <div className="buttons">
              <button type="submit" disabled={busy !== null}>
                {busy === 'approved' ? 'Approving…' : 'Approve'}
              </button>
              <button
                type="button"
                className="danger"
                disabled={busy !== null}
                onClick={() => decide('rejected')}
              >
                {busy === 'rejected' ? 'Rejecting…' : 'Reject'}
              </button>
            </div>
          </form>
        )}
      </section>
      {error !== null && <ErrorBox error={error} title="The server refused" />}
      <section aria-labelledby="promote-title">
        <h2 id="promote-title">Promotion</h2>
        {record === null && result === null && !PROMOTABLE.has(status) && (
          <p className="empty">
            Only a run that passed its gates can be promoted; this one is{' '}
            {status.replaceAll('_', ' ')}.
          </p>
        )}
        {PROMOTABLE.has(status) && (
          <div className="promote-row">
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
            <button type="button" onClick={promote} disabled={busy !== null}>
              {busy === 'promote' ? 'Promoting…' : 'Promote'}
            </button>
          </div>
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
