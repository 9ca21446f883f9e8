// Overview: sweeps (live via /events), workers and queue counts (polled every 3 s).
import { useCallback, useEffect, useRef, useState } from 'react';
import { Link, useLocation } from 'wouter';
import { apiGet, ApiError, errorMessage } from '../api/client';
import { liveLabel, useInterval, useLive, useNow } from '../api/live';
import type { LeaderboardRow, QueueCounts, SweepEvent, SweepSummary, TrialEvent, Worker } from '../api/types';
import { LiveDot, Notice, ProgressBar, StatusBadge } from '../components/common';
import { fmtNum, fmtTime, timeAgo } from '../lib/format';

const PAGE = 25;

interface Best {
  value: number | null;
  trialId: string | null;
}

function metricValue(row: LeaderboardRow | undefined, metric: string): number | null {
  if (!row) return null;
  switch (metric) {
    case 'best_eval_loss':
      return row.bestEvalLoss ?? row.finalEvalLoss;
    case 'tokens_per_sec':
      return row.tokensPerSec;
    case 'trainable_params':
      return row.trainableParams;
    default:
      return row.finalEvalLoss ?? row.bestEvalLoss;
  }
}

export function HomePage() {
  return (
    <div className="page">
      <SweepsSection />
      <div className="grid-fleet">
        <WorkersSection />
        <QueuesSection />
      </div>
    </div>
  );
}

function SweepsSection() {
  const [, navigate] = useLocation();
  const [page, setPage] = useState(0);
  const [data, setDataState] = useState<{ total: number; items: SweepSummary[] } | null>(null);
  const dataRef = useRef(data);
  const setData = (d: { total: number; items: SweepSummary[] } | null) => {
    dataRef.current = d;
    setDataState(d);
  };
  const [error, setError] = useState<string | null>(null);
  const [best, setBest] = useState<Record<string, Best>>({});
  const bestDone = useRef<Record<string, number>>({});
  const refetchTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const fetchBest = useCallback(async (s: SweepSummary) => {
    const done = s.progress?.done ?? 0;
    if (bestDone.current[s.id] === done) return;
    bestDone.current[s.id] = done;
    try {
      const rows = await apiGet<LeaderboardRow[]>(`/sweeps/${s.id}/leaderboard?take=1`);
      const v = metricValue(rows[0], s.metric);
      setBest((b) => ({ ...b, [s.id]: { value: v, trialId: v === null ? null : (rows[0]?.id ?? null) } }));
    } catch {
      // leaderboard optional
    }
  }, []);

  const load = useCallback(async () => {
    try {
      const d = await apiGet<{ total: number; items: SweepSummary[] }>(`/sweeps?take=${PAGE}&skip=${page * PAGE}`);
      setData(d);
      setError(null);
      d.items.forEach((s) => void fetchBest(s));
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [page, fetchBest]);

  const scheduleRefetch = () => {
    if (refetchTimer.current) return;
    refetchTimer.current = setTimeout(() => {
      refetchTimer.current = null;
      void load();
    }, 1000);
  };

  const apply = (type: string, raw: unknown) => {
    const d = dataRef.current;
    if (type === 'sweep') {
      const ev = raw as SweepEvent;
      const cur = d?.items.find((s) => s.id === ev.sweepId);
      if (!d || !cur) {
        // A sweep not on this page (a new one): reload the first page.
        if (page === 0) scheduleRefetch();
        return;
      }
      const next = { ...cur, status: ev.status ?? cur.status, progress: ev.progress ?? cur.progress };
      setData({ ...d, items: d.items.map((s) => (s.id === ev.sweepId ? next : s)) });
      void fetchBest(next);
    } else if (type === 'trial') {
      const ev = raw as TrialEvent;
      const s = d?.items.find((x) => x.id === ev.sweepId);
      if (s && ev.trial && ['succeeded', 'pruned'].includes(ev.trial.status)) {
        delete bestDone.current[s.id];
        void fetchBest(s);
      }
    }
  };

  const live = useLive({ url: '/events', events: ['sweep', 'trial'], load, apply, pollMs: 5000 });
  // Another page of sweeps: reload the snapshot (the stream stays open).
  const firstPage = useRef(true);
  const { reload } = live;
  useEffect(() => {
    if (firstPage.current) {
      firstPage.current = false;
      return;
    }
    reload();
  }, [page, reload]);

  const total = data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE));
  return (
    <section className="card">
      <div className="card-head">
        <h2>Sweeps</h2>
        <span className="muted">{total} total</span>
        <LiveDot label={liveLabel(live.state)} />
        <div className="spacer" />
        {pages > 1 && (
          <div className="pager">
            <button className="btn btn-small" disabled={page === 0} onClick={() => setPage((p) => p - 1)}>
              ‹ Newer
            </button>
            <span className="muted">
              page {page + 1} / {pages}
            </span>
            <button className="btn btn-small" disabled={page + 1 >= pages} onClick={() => setPage((p) => p + 1)}>
              Older ›
            </button>
          </div>
        )}
      </div>
      {error && <Notice kind={error.includes('401') || error.includes('log in') ? 'warn' : 'error'}>Could not load sweeps: {error}</Notice>}
      <div className="table-wrap">
        <table className="table" data-testid="sweeps-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Status</th>
              <th className="w-progress">Progress</th>
              <th>Base model</th>
              <th>Dataset</th>
              <th className="num">Best</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {data?.items.map((s) => {
              const b = best[s.id];
              return (
                <tr
                  key={s.id}
                  className="clickable"
                  data-testid="sweep-row"
                  data-sweep-id={s.id}
                  data-status={s.status}
                  onClick={(e) => {
                    if ((e.target as HTMLElement).closest('a')) return;
                    navigate(`/sweeps/${s.id}`);
                  }}
                >
                  <td>
                    <Link href={`/sweeps/${s.id}`} className="strong">
                      {s.name}
                    </Link>
                    <div className="sub mono">{s.id.slice(0, 8)}</div>
                  </td>
                  <td>
                    <StatusBadge status={s.status} />
                  </td>
                  <td>
                    <ProgressBar progress={s.progress} />
                  </td>
                  <td>{s.baseModel?.name ?? '–'}</td>
                  <td>{s.dataset?.name ?? '–'}</td>
                  <td className="num" title={`${s.metric} (${s.metricMode})`}>
                    {fmtNum(b?.value ?? null)}
                    <div className="sub">{s.metric}</div>
                  </td>
                  <td title={fmtTime(s.createdAt)}>{timeAgo(s.createdAt)}</td>
                </tr>
              );
            })}
            {data && data.items.length === 0 && (
              <tr>
                <td colSpan={7} className="empty">
                  No sweeps yet. Submit one with <code>POST /sweeps</code> or <code>lora sweep submit</code>.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function WorkersSection() {
  const [workers, setWorkers] = useState<Worker[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const now = useNow(1000);
  useInterval(async () => {
    try {
      setWorkers(await apiGet<Worker[]>('/workers'));
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, 3000);
  const online = workers?.filter((w) => w.status !== 'offline' && !w.lost).length ?? 0;
  return (
    <section className="card">
      <div className="card-head">
        <h2>Workers</h2>
        <span className="muted">
          {online} online{workers ? ` / ${workers.length}` : ''}
        </span>
      </div>
      {error && <Notice kind="error">Could not load workers: {error}</Notice>}
      <div className="table-wrap">
        <table className="table" data-testid="workers-table">
          <thead>
            <tr>
              <th>Host</th>
              <th className="num">PID</th>
              <th>Backend</th>
              <th>Device</th>
              <th>Class</th>
              <th className="num">Memory</th>
              <th className="num">Slots</th>
              <th>Running</th>
              <th>Heartbeat</th>
              <th>State</th>
            </tr>
          </thead>
          <tbody>
            {workers?.map((w) => {
              const running = w.runningTrials ?? (w.currentTrialId ? [{ trialId: w.currentTrialId, sweepId: '', attempt: 0 }] : []);
              const state = w.lost ? 'lost' : w.status;
              return (
                <tr key={w.id} data-testid="worker-row" data-worker-id={w.id} data-lost={String(!!w.lost)}>
                  <td>
                    {w.host}
                    <div className="sub mono" title={w.id}>
                      {w.id.slice(0, 12)}
                    </div>
                  </td>
                  <td className="num">{w.pid}</td>
                  <td>{w.backend}</td>
                  <td>{w.device}</td>
                  <td>{w.deviceClass ?? '–'}</td>
                  <td className="num">{w.memoryMb ? `${(w.memoryMb / 1024).toFixed(w.memoryMb < 10240 ? 1 : 0)} GiB` : '–'}</td>
                  <td className="num">
                    {running.length}/{w.slots}
                  </td>
                  <td>
                    {running.length === 0 ? (
                      <span className="muted">idle</span>
                    ) : (
                      running.map((r) => (
                        <div key={r.trialId}>
                          <Link href={`/trials/${r.trialId}`} className="mono">
                            {r.trialId.slice(0, 8)}
                          </Link>
                          {r.attempt > 1 && <span className="muted"> (attempt {r.attempt})</span>}
                        </div>
                      ))
                    )}
                  </td>
                  <td title={fmtTime(w.heartbeatAt)}>{timeAgo(w.heartbeatAt, now)}</td>
                  <td>
                    <span className={`badge badge-worker-${state}`}>{state}</span>
                  </td>
                </tr>
              );
            })}
            {workers && workers.length === 0 && (
              <tr>
                <td colSpan={8} className="empty">
                  No workers registered. Start one with <code>npm run start:worker</code>.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

const COUNT_KEYS = ['waiting', 'prioritized', 'active', 'delayed', 'waiting-children', 'paused', 'failed', 'completed'] as const;

function QueuesSection() {
  const [queues, setQueues] = useState<QueueCounts[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useInterval(async () => {
    try {
      setQueues(await apiGet<QueueCounts[]>('/queues'));
      setError(null);
    } catch (e) {
      setError(e instanceof ApiError && e.status === 404 ? 'this API does not serve /queues yet' : errorMessage(e));
    }
  }, 3000);
  return (
    <section className="card">
      <div className="card-head">
        <h2>Queues</h2>
      </div>
      {error && <Notice kind="warn">Queue counts unavailable: {error}</Notice>}
      <div className="queue-cards" data-testid="queue-counts">
        {queues?.map((q) => (
          <div key={q.name} className="queue-card" data-testid={`queue-${q.name}`}>
            <div className="queue-name">{q.name}</div>
            <dl className="queue-counts">
              {COUNT_KEYS.map((k) => (
                <div key={k} className={`qc qc-${k} ${(q.counts[k] ?? 0) > 0 ? 'nonzero' : ''}`} data-count={k}>
                  <dt>{k}</dt>
                  <dd className="num">{fmtNum(q.counts[k] ?? 0)}</dd>
                </div>
              ))}
            </dl>
          </div>
        ))}
        {queues && queues.length === 0 && <span className="muted">no queues</span>}
      </div>
    </section>
  );
}
