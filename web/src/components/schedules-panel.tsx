import { useCallback, useEffect, useState } from 'react';
import { type ApiError, api, asApiError, type Identity, type ScheduleList } from '../api';
import { localTime } from '../format';
import { ErrorBox } from './error-box';
import { Moment } from './moment';

type Schedule = ScheduleList['items'][number];

function describeTiming(timing: Schedule['timing']): string {
  // Exhaustive over the kinds the server sends; the default keeps the page up if one is added.
  switch (timing.kind) {
    case 'once':
      return `once at ${localTime(timing.at)}`;
    case 'interval':
      return `every ${timing.everySec} s from ${localTime(timing.startAt)}`;
    case 'cron':
      return `cron ${timing.cron} (${timing.timezone})`;
    default:
      return 'unknown timing';
  }
}

/** Stored schedules with their next fire time; pause, resume and trigger for those who may. */
export function SchedulesPanel({ identity }: { identity: Identity }) {
  const [schedules, setSchedules] = useState<Schedule[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const canChange = identity.role === 'operator' || identity.role === 'admin';

  const load = useCallback(async () => {
    const { data, error: failure, response } = await api.GET('/api/v1/schedules');
    if (data) {
      setSchedules(data.items);
      setError(null);
    } else setError(asApiError(failure, response.status));
  }, []);

  useEffect(() => {
    load().catch(() => setError(asApiError(null)));
    const timer = setInterval(() => load().catch(() => undefined), 10_000);
    return () => clearInterval(timer);
  }, [load]);

  async function act(schedule: Schedule, action: 'pause' | 'resume' | 'trigger') {
    setBusy(`${schedule.id}:${action}`);
    setNotice(null);
    const path = { params: { path: { id: schedule.id } } };
    const result =
      action === 'pause'
        ? await api.POST('/api/v1/schedules/{id}/pause', path)
        : action === 'resume'
          ? await api.POST('/api/v1/schedules/{id}/resume', path)
          : await api.POST('/api/v1/schedules/{id}/trigger', path);
    if (result.error) setError(asApiError(result.error, result.response.status));
    else if (action === 'trigger') setNotice(`${schedule.name}: a run was submitted now.`);
    await load().catch(() => undefined);
    setBusy(null);
  }

  return (
    <section aria-labelledby="schedules-title">
      <h2 id="schedules-title">Schedules</h2>
      {error !== null && (
        <ErrorBox error={error} title="Schedules could not be loaded or changed" />
      )}
      {notice !== null && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {schedules === null && error === null && <p className="loading">Loading schedules…</p>}
      {schedules !== null && schedules.length === 0 && (
        <p className="empty">No schedules (aas schedules create adds one).</p>
      )}
      {schedules !== null && schedules.length > 0 && (
        <table className="schedules">
          <thead>
            <tr>
              <th>Name</th>
              <th>When</th>
              <th>State</th>
              <th>Next fire</th>
              <th>Misfire</th>
              {canChange && <th>Actions</th>}
            </tr>
          </thead>
          <tbody>
            {schedules.map((schedule) => (
              <tr key={schedule.id} data-schedule={schedule.name}>
                <td className="mono">{schedule.name}</td>
                <td>{describeTiming(schedule.timing)}</td>
                <td>
                  <span className={`badge schedule-${schedule.state}`}>{schedule.state}</span>
                </td>
                <td>
                  {schedule.state === 'paused' ? (
                    'paused'
                  ) : schedule.nextFireAt ? (
                    <Moment iso={schedule.nextFireAt} />
                  ) : (
                    '—'
                  )}
                </td>
                <td>{schedule.misfire.replace('_', ' ')}</td>
                {canChange && (
                  <td>
                    <div className="action-buttons">
                      {schedule.state === 'paused' ? (
                        <button
                          type="button"
                          className="secondary"
                          disabled={busy !== null}
                          onClick={() => act(schedule, 'resume')}
                        >
                          Resume
                        </button>
                      ) : schedule.state === 'active' ? (
                        <button
                          type="button"
                          className="secondary"
                          disabled={busy !== null}
                          onClick={() => act(schedule, 'pause')}
                        >
                          Pause
                        </button>
                      ) : null}
                      <button
                        type="button"
                        className="secondary"
                        disabled={busy !== null}
                        onClick={() => act(schedule, 'trigger')}
                      >
                        Run now
                      </button>
                    </div>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
