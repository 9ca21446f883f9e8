// One trial: header and actions, attempts, loss / lr / throughput charts (live), logs (live),
// checkpoints, and the LoRA-drop importance or AdaLoRA rank allocation when they apply.
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { Link } from 'wouter';
import { apiGet, ApiError, errorMessage } from '../api/client';
import { liveLabel, useFrameVersion, useLive } from '../api/live';
import { fetchMetrics } from '../api/metrics';
import type { Checkpoint, Importance, LogEvent, LogLine, MetricsEvent, RankBudget, TrialDetail, TrialEvent } from '../api/types';
import { TERMINAL } from '../api/types';
import { ActionButton, LiveDot, Notice, StatusBadge } from '../components/common';
import { ImportanceChart } from '../components/ImportanceChart';
import { RankHeatmap } from '../components/RankHeatmap';
import { UPlotChart, type LineSeries } from '../components/UPlotChart';
import { fmtBytes, fmtDuration, fmtInt, fmtNum, fmtTime } from '../lib/format';
import { mergeLogs } from '../lib/logs';
import { MetricStore } from '../lib/metrics';
import { Fact } from './SweepPage';

const LOG_TAKE = 1000;
const LOG_PAGES = 5;

export function TrialPage({ id }: { id: string }) {
  const [trial, setTrial] = useState<TrialDetail | null>(null);
  const [error, setError] = useState<{ status: number; message: string } | null>(null);
  useEffect(() => {
    const ac = new AbortController();
    apiGet<TrialDetail>(`/trials/${id}`, ac.signal)
      .then(setTrial)
      .catch((e) => {
        if ((e as Error).name !== 'AbortError') setError({ status: e instanceof ApiError ? e.status : 0, message: errorMessage(e) });
      });
    return () => ac.abort();
  }, [id]);
  if (!trial) {
    return (
      <div className="page">
        {error ? (
          <Notice kind={error.status === 404 ? 'warn' : 'error'}>
            {error.status === 404 ? `Trial ${id} not found.` : `Could not load the trial: ${error.message}`}{' '}
            <Link href="/">Back to the overview</Link>
          </Notice>
        ) : (
          <div className="loading">Loading trial…</div>
        )}
      </div>
    );
  }
  return <TrialLive initial={trial} />;
}

function isProbeLike(t: TrialDetail) {
  return t.kind === 'probe' || t.variant === 'loradrop';
}

function TrialLive({ initial }: { initial: TrialDetail }) {
  const id = initial.id;
  const [trial, setTrial] = useState<TrialDetail>(initial);
  const trialRef = useRef(trial);
  trialRef.current = trial;
  const storeRef = useRef(new MetricStore());
  const [version, bump] = useFrameVersion();
  const [logs, setLogs] = useState<LogLine[]>([]);
  const [logsState, setLogsState] = useState<{ error: string | null; moreAfter: string | null }>({ error: null, moreAfter: null });
  const [checkpoints, setCheckpoints] = useState<Checkpoint[] | null>(null);
  const [importance, setImportance] = useState<Importance | null>(null);
  const [ranks, setRanks] = useState<RankBudget | null>(null);
  const [errors, setErrors] = useState<Record<string, string | null>>({});
  const setErr = (k: string, v: string | null) => setErrors((e) => (e[k] === v ? e : { ...e, [k]: v }));

  const loadTrial = useCallback(async () => {
    try {
      setTrial(await apiGet<TrialDetail>(`/trials/${id}`));
      setErr('trial', null);
    } catch (e) {
      setErr('trial', errorMessage(e));
    }
  }, [id]);

  const loadMetrics = useCallback(async () => {
    const store = storeRef.current;
    store.beginLoad(id);
    try {
      const parts = await Promise.all([
        fetchMetrics(id, 'train', 'loss'),
        fetchMetrics(id, 'eval', 'loss'),
        fetchMetrics(id, 'train', 'lr'),
        fetchMetrics(id, 'train', 'tokens_per_sec'),
      ]);
      store.finishLoad(id, parts.flat());
      setErr('metrics', null);
    } catch (e) {
      store.finishLoad(id, []);
      setErr('metrics', errorMessage(e));
    }
    bump();
  }, [id, bump]);

  const loadLogs = useCallback(async () => {
    try {
      let after: string | null = null;
      let more: string | null = null;
      let all: LogLine[] = [];
      for (let p = 0; p < LOG_PAGES; p++) {
        const q = new URLSearchParams({ take: String(LOG_TAKE) });
        if (after) q.set('afterId', after);
        const page = await apiGet<LogLine[]>(`/trials/${id}/logs?${q}`);
        all = all.concat(page);
        if (page.length < LOG_TAKE) {
          more = null;
          break;
        }
        after = page[page.length - 1].id;
        more = after;
      }
      setLogs((cur) => mergeLogs(cur, all));
      setLogsState({ error: null, moreAfter: more });
    } catch (e) {
      setLogsState({
        error: e instanceof ApiError && e.status === 404 ? 'this API does not serve trial logs yet' : errorMessage(e),
        moreAfter: null,
      });
    }
  }, [id]);

  const loadMoreLogs = async () => {
    const after = logsState.moreAfter;
    if (!after) return;
    try {
      const page = await apiGet<LogLine[]>(`/trials/${id}/logs?afterId=${encodeURIComponent(after)}&take=${LOG_TAKE}`);
      setLogs((cur) => mergeLogs(cur, page));
      setLogsState({ error: null, moreAfter: page.length < LOG_TAKE ? null : page[page.length - 1].id });
    } catch (e) {
      setLogsState((s) => ({ ...s, error: errorMessage(e) }));
    }
  };

  const loadCheckpoints = useCallback(async () => {
    try {
      setCheckpoints(await apiGet<Checkpoint[]>(`/trials/${id}/checkpoints`));
      setErr('checkpoints', null);
    } catch (e) {
      setErr('checkpoints', errorMessage(e));
    }
  }, [id]);

  const loadImportance = useCallback(async () => {
    if (!isProbeLike(trialRef.current)) return;
    try {
      setImportance(await apiGet<Importance>(`/trials/${id}/importance`));
      setErr('importance', null);
    } catch (e) {
      setErr('importance', errorMessage(e));
    }
  }, [id]);

  const loadRanks = useCallback(async () => {
    if (trialRef.current.variant !== 'adalora') return;
    try {
      setRanks(await apiGet<RankBudget>(`/trials/${id}/rank-budget`));
      setErr('ranks', null);
    } catch (e) {
      setErr('ranks', errorMessage(e));
    }
  }, [id]);

  const load = useCallback(async () => {
    await Promise.all([loadTrial(), loadMetrics(), loadLogs(), loadCheckpoints(), loadImportance(), loadRanks()]);
  }, [loadTrial, loadMetrics, loadLogs, loadCheckpoints, loadImportance, loadRanks]);

  // Throttled refetches triggered by events.
  const timers = useRef<Record<string, ReturnType<typeof setTimeout> | undefined>>({});
  const later = useCallback((key: string, fn: () => Promise<void>, ms = 800) => {
    if (timers.current[key]) return;
    timers.current[key] = setTimeout(() => {
      timers.current[key] = undefined;
      void fn();
    }, ms);
  }, []);
  useEffect(() => {
    const t = timers.current;
    return () => Object.values(t).forEach((x) => x && clearTimeout(x));
  }, []);

  const apply = useCallback(
    (type: string, raw: unknown) => {
      const ev = raw as { trialId?: string; trial?: { id: string } };
      const tid = ev.trialId ?? ev.trial?.id;
      if (tid !== id) return;
      switch (type) {
        case 'trial': {
          const row = (raw as TrialEvent).trial;
          const prev = trialRef.current;
          setTrial((t) => ({ ...t, ...row, attempts: t.attempts, sweep: t.sweep }));
          // Attempts (worker, device, errors) come with the full trial: refetch soon on a state
          // change, lazily otherwise (the device is known only once training starts).
          later('trial', loadTrial, row.status !== prev.status ? 300 : 2000);
          break;
        }
        case 'metrics':
          if (storeRef.current.addLive(id, (raw as MetricsEvent).points ?? [])) bump();
          break;
        case 'log':
          setLogs((cur) => mergeLogs(cur, (raw as LogEvent).lines ?? []));
          break;
        case 'checkpoint':
          later('checkpoint', loadCheckpoints);
          break;
        case 'importance':
          later('importance', loadImportance);
          break;
        case 'ranks':
          later('ranks', loadRanks, 2000);
          break;
      }
    },
    [id, bump, later, loadTrial, loadCheckpoints, loadImportance, loadRanks],
  );

  const live = useLive({
    url: `/sweeps/${initial.sweepId}/events`,
    events: ['trial', 'metrics', 'log', 'checkpoint', 'importance', 'ranks'],
    load,
    apply,
    pollMs: 5000,
  });

  const store = storeRef.current;
  const charts = useMemo(() => {
    const get = (split: string, name: string) => store.get(id, split, name);
    const tl = get('train', 'loss');
    const el = get('eval', 'loss');
    const lr = get('train', 'lr');
    const tps = get('train', 'tokens_per_sec');
    const copy = (s: { steps: number[]; values: number[] } | undefined) => ({
      xs: s ? s.steps.slice() : [],
      ys: s ? s.values.slice() : [],
    });
    const loss: LineSeries[] = [
      { label: 'train loss', color: '#4e79a7', ...copy(tl) },
      { label: 'eval loss', color: '#e15759', ...copy(el), points: true, width: 2 },
    ];
    return {
      loss,
      lr: [{ label: 'learning rate', color: '#59a14f', ...copy(lr) }] as LineSeries[],
      tps: [{ label: 'tokens/s', color: '#f28e2b', ...copy(tps) }] as LineSeries[],
      trainPoints: tl?.steps.length ?? 0,
      evalPoints: el?.steps.length ?? 0,
      lrPoints: lr?.steps.length ?? 0,
      tpsPoints: tps?.steps.length ?? 0,
    };
    // `version` moves when the mutable store changes.
  }, [store, id, version]);

  const errorList = Object.entries(errors).filter(([, v]) => v);
  return (
    <div className="page">
      <TrialHeader trial={trial} liveState={liveLabel(live.state)} onAction={live.reload} />
      {errorList.length > 0 && (
        <Notice kind="error">
          {errorList.map(([k, v]) => (
            <div key={k}>
              Could not load {k}: {v}
            </div>
          ))}
        </Notice>
      )}
      {/* The variant's own view first: LoRA-drop importance, AdaLoRA rank allocation. */}
      {isProbeLike(trial) && <ImportanceCard trial={trial} importance={importance} />}
      {trial.variant === 'adalora' && <RanksCard ranks={ranks} />}
      <div className="grid-2">
        <section className="card">
          <div className="card-head">
            <h2>Loss</h2>
            <span className="muted">
              {fmtInt(charts.trainPoints)} train · {fmtInt(charts.evalPoints)} eval points
            </span>
          </div>
          <UPlotChart
            series={charts.loss}
            yLabel="loss"
            attrs={{ 'data-testid': 'loss-chart', 'data-points': charts.trainPoints, 'data-eval-points': charts.evalPoints }}
          />
        </section>
        <section className="card">
          <div className="card-head">
            <h2>Learning rate</h2>
          </div>
          <UPlotChart series={charts.lr} yLabel="lr" attrs={{ 'data-testid': 'lr-chart', 'data-points': charts.lrPoints }} />
        </section>
        <section className="card">
          <div className="card-head">
            <h2>Throughput</h2>
          </div>
          <UPlotChart series={charts.tps} yLabel="tokens/s" attrs={{ 'data-testid': 'tps-chart', 'data-points': charts.tpsPoints }} />
        </section>
        <AttemptsCard trial={trial} />
      </div>
      <LogsCard lines={logs} error={logsState.error} more={!!logsState.moreAfter} onMore={loadMoreLogs} />
      <CheckpointsCard checkpoints={checkpoints} />
    </div>
  );
}

function TrialHeader({ trial, liveState, onAction }: { trial: TrialDetail; liveState: string; onAction: () => void }) {
  const hp = trial.hyperparams ?? ({} as TrialDetail['hyperparams']);
  const terminal = TERMINAL.includes(trial.status);
  const knobs = Object.entries(hp.knobs ?? {});
  const training = hp.training ?? {};
  return (
    <section className="card header-card">
      <div className="crumbs">
        <Link href="/">Sweeps</Link> / <Link href={`/sweeps/${trial.sweepId}`}>{trial.sweep?.name ?? trial.sweepId.slice(0, 8)}</Link> /{' '}
        <span className="mono">trial {trial.index}</span>
      </div>
      <div className="title-row">
        <h1>
          #{trial.index} {trial.variant}
        </h1>
        <span className={`badge badge-kind`}>{trial.kind}</span>
        <StatusBadge status={trial.status} testId="trial-status" />
        <LiveDot label={liveState} />
        <div className="spacer" />
        <ActionButton
          label="Cancel"
          path={`/trials/${trial.id}/cancel`}
          testId="cancel-trial"
          danger
          disabledReason={terminal ? `already ${trial.status}` : null}
          onDone={onAction}
        />
        <ActionButton
          label="Rerun"
          path={`/trials/${trial.id}/rerun`}
          testId="rerun-trial"
          confirm="Rerun this trial from scratch? Its metrics and checkpoints are replaced."
          disabledReason={terminal ? null : 'the trial has not finished'}
          onDone={onAction}
        />
      </div>
      {(trial.error || trial.prunedReason) && (
        <div className="error-box" data-testid="trial-error">
          {trial.prunedReason && (
            <div>
              <b>Pruned:</b> {trial.prunedReason}
            </div>
          )}
          {trial.error && <pre>{trial.error}</pre>}
        </div>
      )}
      <div className="facts">
        <Fact label="Trainable params">{fmtInt(trial.trainableParams)}</Fact>
        <Fact label="Baseline eval loss">
          <span className="num">{fmtNum(trial.baselineEvalLoss)}</span>
        </Fact>
        <Fact label="Final eval loss">
          <span className="num">{fmtNum(trial.finalEvalLoss)}</span>
        </Fact>
        <Fact label="Best eval loss">
          <span className="num">{fmtNum(trial.bestEvalLoss)}</span>
        </Fact>
        <Fact label="Tokens/s">
          <span className="num">{fmtNum(trial.tokensPerSec, 3)}</span>
        </Fact>
        <Fact label="Started">{fmtTime(trial.startedAt)}</Fact>
        <Fact label="Duration">{trial.startedAt ? fmtDuration(trial.startedAt, trial.finishedAt) : '–'}</Fact>
      </div>
      <div className="hp-list">
        <Hp k="r" v={hp.r} />
        <Hp k="alpha" v={hp.alpha} />
        <Hp k="lr" v={hp.lr} />
        <Hp k="dropout" v={hp.dropout} />
        <Hp k="rsLoRA" v={hp.rslora} />
        <Hp k="targets" v={(hp.targetModules ?? []).join(', ')} />
        {knobs.map(([k, v]) => (
          <Hp key={k} k={k} v={v} accent />
        ))}
        {Object.entries(training).map(([k, v]) => (
          <Hp key={k} k={`training.${k}`} v={v} dim />
        ))}
        {trial.planId && <Hp k="plan" v={trial.planId.slice(0, 8)} />}
      </div>
    </section>
  );
}

function Hp({ k, v, accent, dim }: { k: string; v: unknown; accent?: boolean; dim?: boolean }) {
  const text =
    typeof v === 'number'
      ? fmtNum(v)
      : typeof v === 'boolean'
        ? v
          ? 'yes'
          : 'no'
        : v == null
          ? '–'
          : typeof v === 'string'
            ? v
            : JSON.stringify(v);
  return (
    <span className={`hp ${accent ? 'hp-accent' : ''} ${dim ? 'hp-dim' : ''}`}>
      <span className="hp-k">{k}</span>
      <span className="hp-v">{text}</span>
    </span>
  );
}

function AttemptsCard({ trial }: { trial: TrialDetail }) {
  return (
    <section className="card">
      <div className="card-head">
        <h2>Attempts</h2>
        <span className="muted">{trial.attempts?.length ?? 0}</span>
      </div>
      <div className="table-wrap">
        <table className="table" data-testid="attempts-table">
          <thead>
            <tr>
              <th className="num">#</th>
              <th>Status</th>
              <th>Worker</th>
              <th>Backend</th>
              <th>Device</th>
              <th>Started</th>
              <th>Duration</th>
              <th className="num">Resumed at</th>
              <th>Error</th>
            </tr>
          </thead>
          <tbody>
            {(trial.attempts ?? []).map((a) => (
              <tr key={a.id} data-testid="attempt-row">
                <td className="num">{a.number}</td>
                <td>
                  <StatusBadge status={a.status} />
                </td>
                <td className="mono" title={a.workerId ?? ''}>
                  {a.workerId ? a.workerId.slice(0, 14) : '–'}
                </td>
                <td>{a.backend ?? '–'}</td>
                <td>{a.device ?? '–'}</td>
                <td>{fmtTime(a.startedAt)}</td>
                <td>{a.startedAt ? fmtDuration(a.startedAt, a.finishedAt) : '–'}</td>
                <td className="num">{a.resumedFromStep ?? '–'}</td>
                <td className="error-cell" title={a.error ?? ''}>
                  {a.error ?? ''}
                </td>
              </tr>
            ))}
            {(trial.attempts ?? []).length === 0 && (
              <tr>
                <td colSpan={9} className="empty">
                  Not started yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function LogsCard({ lines, error, more, onMore }: { lines: LogLine[]; error: string | null; more: boolean; onMore: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    <section className="card">
      <div className="card-head">
        <h2>Logs</h2>
        <span className="muted">{lines.length} lines</span>
        <div className="spacer" />
        {more && (
          <button className="btn btn-small" onClick={onMore} data-testid="logs-more">
            Load more
          </button>
        )}
      </div>
      {error && <Notice kind="warn">Logs unavailable: {error}</Notice>}
      <div
        className="logs"
        ref={ref}
        data-testid="trial-logs"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {lines.map((l) => (
          <div key={l.id} className={`log-line log-${l.level}`} data-testid="log-line">
            <span className="log-ts">{fmtTime(l.ts).slice(11)}</span>
            <span className="log-level">{l.level}</span>
            {l.attempt != null && <span className="log-attempt">a{l.attempt}</span>}
            <span className="log-msg">{l.message}</span>
          </div>
        ))}
        {lines.length === 0 && !error && <div className="muted">No log lines yet.</div>}
      </div>
    </section>
  );
}

function CheckpointsCard({ checkpoints }: { checkpoints: Checkpoint[] | null }) {
  return (
    <section className="card">
      <div className="card-head">
        <h2>Checkpoints</h2>
        <span className="muted">{checkpoints?.length ?? 0}</span>
      </div>
      <div className="table-wrap">
        <table className="table" data-testid="checkpoints-table">
          <thead>
            <tr>
              <th className="num">Step</th>
              <th className="num">Size</th>
              <th>sha256</th>
              <th>Final</th>
              <th className="num">Eval loss</th>
              <th>Created</th>
              <th>Download</th>
            </tr>
          </thead>
          <tbody>
            {(checkpoints ?? []).map((c) => {
              const evalLoss = c.metrics && typeof c.metrics === 'object' ? (c.metrics as Record<string, unknown>).evalLoss : undefined;
              return (
                <tr key={c.id} data-testid="checkpoint-row" data-checkpoint-id={c.id}>
                  <td className="num">{c.step}</td>
                  <td className="num">{fmtBytes(c.sizeBytes)}</td>
                  <td className="mono" title={c.sha256}>
                    {c.sha256.slice(0, 12)}
                  </td>
                  <td>{c.isFinal ? <span className="badge badge-succeeded">final</span> : ''}</td>
                  <td className="num">{typeof evalLoss === 'number' ? fmtNum(evalLoss) : '–'}</td>
                  <td>{fmtTime(c.createdAt)}</td>
                  <td className="downloads">
                    <a href={`/checkpoints/${c.id}/download`} data-testid="download-peft" download>
                      PEFT zip
                    </a>
                    <a
                      href={`/checkpoints/${c.id}/download?format=merged`}
                      data-testid="download-merged"
                      download
                      title="the base model with this adapter merged in (built on request)"
                    >
                      merged
                    </a>
                  </td>
                </tr>
              );
            })}
            {checkpoints && checkpoints.length === 0 && (
              <tr>
                <td colSpan={7} className="empty">
                  No checkpoints yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function ImportanceCard({ trial, importance }: { trial: TrialDetail; importance: Importance | null }) {
  const plans = importance?.plans ?? [];
  const [planId, setPlanId] = useState<string | null>(null);
  const plan = plans.find((p) => p.id === planId) ?? plans[0] ?? null;
  const knobs = (trial.hyperparams?.knobs ?? {}) as { threshold?: number; topN?: number };
  const threshold = plan ? plan.threshold : knobs.topN !== undefined ? null : (knobs.threshold ?? 0.9);
  const topN = plan ? plan.topN : (knobs.topN ?? null);
  if (!importance || importance.modules.length === 0) {
    if (trial.kind !== 'probe') return null;
    return (
      <section className="card">
        <div className="card-head">
          <h2>Module importance (LoRA-drop probe)</h2>
        </div>
        <div className="muted">No importance measured yet.</div>
      </section>
    );
  }
  return (
    <section className="card">
      <div className="card-head">
        <h2>Module importance (LoRA-drop)</h2>
        <span className="muted">
          {importance.modules.length} modules · {plan ? `plan ${plan.id.slice(0, 8)}` : 'rule from the trial’s knobs'}
        </span>
      </div>
      <div className="scroll-x">
        <ImportanceChart modules={importance.modules} selected={plan ? plan.selected : null} threshold={threshold} topN={topN} />
      </div>
      <h3>Plans</h3>
      <table className="table" data-testid="plans-table">
        <thead>
          <tr>
            <th>Plan</th>
            <th>Rule</th>
            <th className="num">Selected</th>
            <th>Modules</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {plans.map((p) => (
            <tr
              key={p.id}
              data-testid="plan-row"
              className={`clickable ${plan?.id === p.id ? 'selected' : ''}`}
              onClick={() => setPlanId(p.id)}
              title="show this plan's selection in the chart"
            >
              <td className="mono">{p.id.slice(0, 8)}</td>
              <td>{p.topN != null ? `top ${p.topN}` : `threshold ${fmtNum(p.threshold)}`}</td>
              <td className="num">{p.selected.length}</td>
              <td className="modules-cell" title={p.selected.join('\n')}>
                {p.selected.map((m) => m.replace(/^transformer\.h\./, 'h.')).join(', ')}
              </td>
              <td>{fmtTime(p.createdAt)}</td>
            </tr>
          ))}
          {plans.length === 0 && (
            <tr>
              <td colSpan={5} className="empty">
                No plans made from this probe yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}

function RanksCard({ ranks }: { ranks: RankBudget | null }) {
  const history = useMemo(() => ranks?.history ?? [], [ranks]);
  const budget: LineSeries[] = useMemo(
    () => [
      { label: 'total budget', color: '#4e79a7', xs: history.map((h) => h.step), ys: history.map((h) => h.budget) },
      {
        label: 'allocated (Σ ranks)',
        color: '#f28e2b',
        xs: history.map((h) => h.step),
        ys: history.map((h) => Object.values(h.ranks).reduce((a, b) => a + b, 0)),
        dash: [4, 3],
      },
    ],
    [history],
  );
  return (
    <section className="card">
      <div className="card-head">
        <h2>AdaLoRA rank allocation</h2>
        <span className="muted">{history.length} budget steps</span>
      </div>
      {history.length === 0 ? (
        <div className="muted" data-testid="rank-heatmap" data-modules={0} data-steps={0}>
          No rank allocation recorded yet.
        </div>
      ) : (
        <>
          <RankHeatmap history={history} />
          <div className="chart-title">Total rank budget over steps</div>
          <UPlotChart series={budget} height={200} yLabel="rank budget" attrs={{ 'data-testid': 'budget-chart' }} />
        </>
      )}
    </section>
  );
}
