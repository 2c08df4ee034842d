import { useCallback, useEffect, useState } from 'react';
import { type ApiError, api, asApiError, type Identity, type Workers } from '../api';
import { ErrorBox } from '../components/error-box';
import { Moment } from '../components/moment';
import { SchedulesPanel } from '../components/schedules-panel';
import { age } from '../format';
import { useNow } from '../use-now';

type Worker = Workers['items'][number];

/**
 * The workers of this server: state, current run and lease, last heartbeat; admins drain and
 * resume remote workers.
 */
export function WorkersPage({ identity }: { identity: Identity }) {
  const [workers, setWorkers] = useState<Workers | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const now = useNow(2_000);
  const canDrain = identity.role === 'admin';

  const load = useCallback(async () => {
    const { data, error: failure, response } = await api.GET('/api/v1/workers');
    if (data) {
      setWorkers(data);
      setError(null);
    } else setError(asApiError(failure, response.status));
  }, []);

  useEffect(() => {
    load().catch(() => setError(asApiError(null)));
    const timer = setInterval(() => load().catch(() => undefined), 3_000);
    return () => clearInterval(timer);
  }, [load]);

  async function act(worker: Worker, action: 'drain' | 'resume') {
    setBusy(true);
    const path = { params: { path: { idOrName: worker.id } } };
    const result =
      action === 'drain'
        ? await api.POST('/api/v1/workers/{idOrName}/drain', path)
        : await api.POST('/api/v1/workers/{idOrName}/resume', path);
    if (result.error) setError(asApiError(result.error, result.response.status));
    await load().catch(() => undefined);
    setBusy(false);
  }

  const items = workers?.items ?? null;
  return (
    <section>
      <h1>Workers and schedules</h1>
      {error !== null && <ErrorBox error={error} title="Workers could not be loaded or changed" />}
      {items === null && error === null && <p className="loading">Loading workers…</p>}
      {items !== null && items.length === 0 && (
        <p className="empty">
          This server runs no workers (AAS_WORKERS=0): it only serves the API.
        </p>
      )}
      {items !== null && items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>Worker</th>
              <th>Kind</th>
              <th>State</th>
              <th>Labels</th>
              <th>Run</th>
              <th>Lease until</th>
              <th>Last seen</th>
              {canDrain && <th>Actions</th>}
            </tr>
          </thead>
          <tbody>
            {items.map((worker) => (
              <tr key={worker.id} data-worker={worker.name}>
                <td className="mono">{worker.name}</td>
                <td>{worker.kind}</td>
                <td>
                  <span className={`badge worker-${worker.state}`}>{worker.state}</span>
                </td>
                <td>{worker.labels.length > 0 ? worker.labels.join(', ') : '—'}</td>
                <td className="mono">
                  {worker.runIds.length > 0 ? worker.runIds.join(', ') : '—'}
                </td>
                <td>{worker.leaseExpiresAt ? <Moment iso={worker.leaseExpiresAt} /> : '—'}</td>
                <td>
                  {(worker.lastSeenAt ?? worker.lastHeartbeatAt)
                    ? age(worker.lastSeenAt ?? worker.lastHeartbeatAt ?? '', now)
                    : '—'}
                </td>
                {canDrain && (
                  <td>
                    {worker.kind === 'remote' && worker.revokedAt === null && (
                      <button
                        type="button"
                        className="secondary"
                        disabled={busy}
                        title={
                          worker.drainRequested
                            ? 'Give this worker runs again'
                            : 'Let it finish what it holds and give it no new runs'
                        }
                        onClick={() => act(worker, worker.drainRequested ? 'resume' : 'drain')}
                      >
                        {worker.drainRequested ? 'Resume' : 'Drain'}
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <SchedulesPanel identity={identity} />
    </section>
  );
}
