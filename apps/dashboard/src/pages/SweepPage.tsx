// One sweep: header and actions, the virtualised trials table (sort, filter, pick), the loss overlay
// of the picked trials (live), and the comparison charts.
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { Link, useLocation } from 'wouter';
import { apiGet, ApiError, errorMessage } from '../api/client';
import { liveLabel, useFrameVersion, useLive } from '../api/live';
import { fetchMetrics } from '../api/metrics';
import { fetchSweepTrials } from '../api/trials';
import { RUN_STATUSES, type MetricsEvent, type Sweep, type SweepEvent, type SweepSummary, type Trial, type TrialEvent } from '../api/types';
import { ParallelCoordinates, Scatter } from '../components/Compare';
import { ActionButton, LiveDot, Notice, ProgressBar, StatusBadge } from '../components/common';
import { UPlotChart, type LineSeries } from '../components/UPlotChart';
import { useToast } from '../context';
import { fmtNum, fmtTime, timeAgo } from '../lib/format';
import { MetricStore } from '../lib/metrics';
import { PALETTE } from '../lib/scales';
import {
  flattenHyperparams,
  hyperparamColumns,
  matchesFilter,
  parseFilter,
  sortRows,
  varyingNumericColumns,
  type Cell,
  type FlatRow,
} from '../lib/table';

const ROW_H = 30;
const MAX_SELECTED = 20;

/** The trial value a sweep metric refers to. */
export function metricOf(t: Trial, metric: string): number | null {
  switch (metric) {
    case 'best_eval_loss':
      return t.bestEvalLoss ?? t.finalEvalLoss;
    case 'tokens_per_sec':
      return t.tokensPerSec;
    case 'trainable_params':
      return t.trainableParams;
    default:
      return t.finalEvalLoss ?? t.bestEvalLoss;
  }
}

function toRow(t: Trial, metric: string): FlatRow {
  return {
    ...flattenHyperparams(t.hyperparams),
    id: t.id,
    index: t.index,
    variant: t.variant,
    kind: t.kind,
    status: t.status,
    trainableParams: t.trainableParams,
    finalEvalLoss: t.finalEvalLoss,
    bestEvalLoss: t.bestEvalLoss,
    baselineEvalLoss: t.baselineEvalLoss,
    tokensPerSec: t.tokensPerSec,
    metric: metricOf(t, metric),
  };
}

interface Column {
  key: string;
  label: string;
  width: number;
  numeric?: boolean;
  title?: string;
}

const HP_LABELS: Record<string, string> = {
  r: 'r',
  alpha: 'alpha',
  lr: 'lr',
  dropout: 'dropout',
  rslora: 'rsLoRA',
  targetModules: 'targets',
};

function hpColumn(key: string): Column {
  const label = HP_LABELS[key] ?? key.replace(/^training\./, '').replace(/^knob\./, '');
  return { key, label, width: key === 'targetModules' ? 150 : Math.max(64, Math.min(110, label.length * 8 + 28)), title: key };
}

function renderCell(v: Cell | undefined, key: string): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') return key === 'index' ? String(v) : fmtNum(v);
  return v;
}

/** Default overlay selection: the 5 best finished trials plus the running ones (at most 20). */
export function defaultSelection(trials: ReadonlyArray<Trial>, metric: string, mode: string): string[] {
  const finished = trials
    .filter((t) => (t.status === 'succeeded' || t.status === 'pruned') && metricOf(t, metric) !== null)
    .sort((a, b) => {
      const d = (metricOf(a, metric) ?? 0) - (metricOf(b, metric) ?? 0);
      return mode === 'max' ? -d : d;
    })
    .slice(0, 5)
    .map((t) => t.id);
  const running = trials.filter((t) => t.status === 'running').map((t) => t.id);
  return [...new Set([...finished, ...running])].slice(0, MAX_SELECTED);
}

export function SweepPage({ id }: { id: string }) {
  const toast = useToast();
  const sweepRef = useRef<Sweep | null>(null);
  const [version, bump] = useFrameVersion();
  const [error, setError] = useState<{ status: number; message: string } | null>(null);
  const storeRef = useRef(new MetricStore((_split, name) => name === 'loss'));
  const [selected, setSelected] = useState<string[]>([]);
  const selectedRef = useRef<string[]>([]);
  selectedRef.current = selected;
  const [auto, setAuto] = useState(true);
  const [metricErrors, setMetricErrors] = useState<string | null>(null);

  const loadTrialMetrics = useCallback(
    async (tid: string) => {
      const store = storeRef.current;
      store.beginLoad(tid);
      try {
        const [train, evalPts] = await Promise.all([fetchMetrics(tid, 'train', 'loss'), fetchMetrics(tid, 'eval', 'loss')]);
        if (!selectedRef.current.includes(tid)) return store.drop(tid);
        store.finishLoad(tid, [...train, ...evalPts]);
        setMetricErrors(null);
      } catch (e) {
        store.finishLoad(tid, []);
        setMetricErrors(errorMessage(e));
      }
      bump();
    },
    [bump],
  );

  const load = useCallback(async () => {
    try {
      const summary = await apiGet<SweepSummary>(`/sweeps/${id}`);
      sweepRef.current = { ...summary, trials: await fetchSweepTrials(id) };
      setError(null);
      bump();
      await Promise.all(selectedRef.current.map((tid) => loadTrialMetrics(tid)));
    } catch (e) {
      setError({ status: e instanceof ApiError ? e.status : 0, message: errorMessage(e) });
    }
  }, [id, bump, loadTrialMetrics]);

  const apply = useCallback(
    (type: string, raw: unknown) => {
      const s = sweepRef.current;
      if (!s) return;
      if (type === 'sweep') {
        const ev = raw as SweepEvent;
        if (ev.sweepId !== s.id) return;
        sweepRef.current = { ...s, status: ev.status ?? s.status, progress: ev.progress ?? s.progress };
        bump();
      } else if (type === 'trial') {
        const ev = raw as TrialEvent;
        if (!ev.trial || ev.sweepId !== s.id) return;
        const i = s.trials.findIndex((t) => t.id === ev.trial.id);
        const trials = i >= 0 ? s.trials.map((t, j) => (j === i ? { ...t, ...ev.trial } : t)) : [...s.trials, ev.trial];
        sweepRef.current = { ...s, trials };
        bump();
      } else if (type === 'metrics') {
        const ev = raw as MetricsEvent;
        if (storeRef.current.addLive(ev.trialId, ev.points ?? [])) bump();
      }
    },
    [bump],
  );

  const live = useLive({ url: `/sweeps/${id}/events`, events: ['sweep', 'trial', 'metrics'], load, apply, pollMs: 5000 });

  const sweep = sweepRef.current;
  const trials = useMemo(() => sweep?.trials ?? [], [sweep]);

  // Default selection follows the sweep until the user picks trials.
  useEffect(() => {
    if (!auto || !sweep) return;
    const d = defaultSelection(trials, sweep.metric, sweep.metricMode);
    if (d.join() !== selectedRef.current.join()) setSelected(d);
  }, [auto, sweep, trials, version]);

  // Load curves of newly picked trials, drop the others.
  useEffect(() => {
    const store = storeRef.current;
    for (const tid of selected) if (!store.has(tid)) void loadTrialMetrics(tid);
    for (const tid of store.trialIds()) if (!selected.includes(tid)) store.drop(tid);
    bump();
  }, [selected, loadTrialMetrics, bump]);

  const toggle = (tid: string) => {
    setAuto(false);
    setSelected((cur) => {
      if (cur.includes(tid)) return cur.filter((x) => x !== tid);
      if (cur.length >= MAX_SELECTED) {
        toast.show(`At most ${MAX_SELECTED} trials in the overlay`, 'error');
        return cur;
      }
      return [...cur, tid];
    });
  };

  if (!sweep) {
    return (
      <div className="page">
        {error ? (
          <Notice kind={error.status === 404 ? 'warn' : 'error'}>
            {error.status === 404 ? `Sweep ${id} not found.` : `Could not load the sweep: ${error.message}`}{' '}
            <Link href="/">Back to the overview</Link>
          </Notice>
        ) : (
          <div className="loading">Loading sweep…</div>
        )}
      </div>
    );
  }

  return (
    <div className="page">
      <SweepHeader sweep={sweep} liveState={liveLabel(live.state)} onAction={live.reload} />
      {error && <Notice kind="error">Refresh failed: {error.message}</Notice>}
      <TrialsSection
        sweep={sweep}
        trials={trials}
        version={version}
        selected={selected}
        onToggle={toggle}
        onResetSelection={() => setAuto(true)}
        onClearSelection={() => {
          setAuto(false);
          setSelected([]);
        }}
        store={storeRef.current}
        metricErrors={metricErrors}
      />
    </div>
  );
}

function SweepHeader({ sweep, liveState, onAction }: { sweep: Sweep; liveState: string; onAction: () => void }) {
  const failed = (sweep.progress.byStatus.failed ?? 0) + (sweep.progress.byStatus.cancelled ?? 0);
  const open = sweep.progress.total - sweep.progress.done;
  return (
    <section className="card header-card">
      <div className="crumbs">
        <Link href="/">Sweeps</Link> / <span className="mono">{sweep.id.slice(0, 8)}</span>
      </div>
      <div className="title-row">
        <h1>{sweep.name}</h1>
        <StatusBadge status={sweep.status} testId="sweep-status" />
        <LiveDot label={liveState} />
        <div className="spacer" />
        <ActionButton
          label="Cancel sweep"
          path={`/sweeps/${sweep.id}/cancel`}
          testId="cancel-sweep"
          danger
          confirm={`Cancel every unfinished trial of "${sweep.name}"?`}
          disabledReason={open === 0 ? 'nothing left to cancel' : null}
          onDone={onAction}
        />
        <ActionButton
          label="Rerun failed"
          path={`/sweeps/${sweep.id}/rerun-failed`}
          testId="rerun-failed"
          disabledReason={failed === 0 ? 'no failed or cancelled trials' : null}
          onDone={onAction}
        />
      </div>
      <div className="facts">
        <Fact label="Progress">
          <ProgressBar progress={sweep.progress} />
        </Fact>
        <Fact label="Base model">{sweep.baseModel?.name ?? '–'}</Fact>
        <Fact label="Dataset">{sweep.dataset?.name ?? '–'}</Fact>
        <Fact label="Metric">
          {sweep.metric} <span className="muted">({sweep.metricMode === 'max' ? 'higher is better' : 'lower is better'})</span>
        </Fact>
        <Fact label="Created">
          <span title={fmtTime(sweep.createdAt)}>{timeAgo(sweep.createdAt)}</span>
        </Fact>
        {sweep.maxConcurrent ? <Fact label="Max concurrent">{sweep.maxConcurrent}</Fact> : null}
      </div>
      {sweep.error && (
        <div className="error-box" data-testid="sweep-error">
          {sweep.error}
        </div>
      )}
    </section>
  );
}

export function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="fact">
      <div className="fact-label">{label}</div>
      <div className="fact-value">{children}</div>
    </div>
  );
}

function TrialsSection({
  sweep,
  trials,
  version,
  selected,
  onToggle,
  onResetSelection,
  onClearSelection,
  store,
  metricErrors,
}: {
  sweep: Sweep;
  trials: Trial[];
  version: number;
  selected: string[];
  onToggle: (id: string) => void;
  onResetSelection: () => void;
  onClearSelection: () => void;
  store: MetricStore;
  metricErrors: string | null;
}) {
  const [, navigate] = useLocation();
  const [filter, setFilter] = useState('');
  const [statusFilter, setStatusFilter] = useState('');
  const [sort, setSort] = useState<{ key: string | null; dir: 'asc' | 'desc' }>({ key: 'index', dir: 'asc' });
  const [showEval, setShowEval] = useState(false);

  const rows = useMemo(() => trials.map((t) => toRow(t, sweep.metric)), [trials, sweep.metric]);
  const hpCols = useMemo(() => hyperparamColumns(trials.map((t) => flattenHyperparams(t.hyperparams))), [trials]);
  const columns: Column[] = useMemo(
    () => [
      { key: 'index', label: '#', width: 56, numeric: true },
      { key: 'variant', label: 'variant', width: 92 },
      { key: 'kind', label: 'kind', width: 62 },
      ...hpCols.map(hpColumn),
      { key: 'status', label: 'status', width: 96 },
      { key: 'trainableParams', label: 'trainable', width: 96, numeric: true, title: 'trainable parameters' },
      { key: 'finalEvalLoss', label: 'final eval', width: 92, numeric: true, title: 'final eval loss' },
      { key: 'bestEvalLoss', label: 'best eval', width: 92, numeric: true, title: 'best eval loss' },
      { key: 'tokensPerSec', label: 'tok/s', width: 84, numeric: true, title: 'tokens per second' },
    ],
    [hpCols],
  );

  const terms = useMemo(() => parseFilter(filter), [filter]);
  const textKeys = useMemo(() => ['variant', 'status', 'kind', ...hpCols], [hpCols]);
  const filtered = useMemo(
    () => rows.filter((r) => (!statusFilter || r.status === statusFilter) && matchesFilter(r, terms, textKeys)),
    [rows, statusFilter, terms, textKeys],
  );
  const view = useMemo(() => sortRows(filtered, sort.key, sort.dir), [filtered, sort]);

  const onSort = (key: string) => setSort((s) => (s.key === key ? { key, dir: s.dir === 'asc' ? 'desc' : 'asc' } : { key, dir: 'asc' }));

  const parentRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: view.length,
    getScrollElement: () => parentRef.current,
    estimateSize: () => ROW_H,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const padTop = items.length ? items[0].start : 0;
  const padBottom = items.length ? virtualizer.getTotalSize() - items[items.length - 1].end : 0;
  const tableWidth = 34 + columns.reduce((a, c) => a + c.width, 0);
  const selectedSet = useMemo(() => new Set(selected), [selected]);
  const colourOf = useMemo(() => new Map(selected.map((tid, i) => [tid, PALETTE[i % PALETTE.length]])), [selected]);
  const knownKeys = useMemo(() => {
    const k = new Set<string>(['id', 'metric', 'baselineevalloss']);
    for (const c of columns) k.add(c.key.toLowerCase());
    for (const c of hpCols) k.add(c.toLowerCase().replace(/^knob\./, ''));
    if (rows[0]) for (const c of Object.keys(rows[0])) k.add(c.toLowerCase());
    return k;
  }, [columns, hpCols, rows]);
  const unknownKeys = terms.filter((t) => t.kind === 'cmp' && !knownKeys.has(t.key.toLowerCase()));

  return (
    <>
      <section className="card">
        <div className="card-head">
          <h2>Trials</h2>
          <span className="muted" title="trials matching the filter">
            <span data-testid="trial-count">{view.length}</span> of {rows.length}
          </span>
          <div className="spacer" />
          <input
            className="input filter-input"
            data-testid="trial-filter"
            placeholder="filter: text, r=8, lr<0.001, variant=dora …"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
          />
          <select className="input" data-testid="status-filter" value={statusFilter} onChange={(e) => setStatusFilter(e.target.value)}>
            <option value="">all statuses</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s} ({sweep.progress.byStatus[s] ?? 0})
              </option>
            ))}
          </select>
        </div>
        {unknownKeys.length > 0 && (
          <Notice kind="warn">
            Unknown column{unknownKeys.length > 1 ? 's' : ''}: {unknownKeys.map((t) => (t.kind === 'cmp' ? t.key : '')).join(', ')}.
            Columns: {columns.map((c) => c.key).join(', ')}
          </Notice>
        )}
        <div className="trials-scroll" ref={parentRef} data-testid="trials-table">
          <table className="table vtable" style={{ width: tableWidth }}>
            <colgroup>
              <col style={{ width: 34 }} />
              {columns.map((c) => (
                <col key={c.key} style={{ width: c.width }} />
              ))}
            </colgroup>
            <thead>
              <tr>
                <th title="show in the overlay chart">⧉</th>
                {columns.map((c) => (
                  <th
                    key={c.key}
                    data-testid={`th-${c.key}`}
                    className={`sortable ${isNumericCol(c.key, rows) ? 'num' : ''} ${sort.key === c.key ? 'sorted' : ''}`}
                    title={c.title ?? c.key}
                    aria-sort={sort.key === c.key ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none'}
                    onClick={() => onSort(c.key)}
                  >
                    {c.label}
                    <span className="sort-arrow">{sort.key === c.key ? (sort.dir === 'asc' ? '▲' : '▼') : ''}</span>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {padTop > 0 && (
                <tr className="spacer-row" style={{ height: padTop }}>
                  <td colSpan={columns.length + 1} />
                </tr>
              )}
              {items.map((vi) => {
                const r = view[vi.index];
                const tid = r.id as string;
                const isSel = selectedSet.has(tid);
                return (
                  <tr
                    key={tid}
                    style={{ height: ROW_H }}
                    className={`clickable ${isSel ? 'selected' : ''}`}
                    data-testid="trial-row"
                    data-trial-id={tid}
                    data-status={String(r.status)}
                    data-variant={String(r.variant)}
                    data-kind={String(r.kind)}
                    onClick={(e) => {
                      const el = e.target as HTMLElement;
                      if (el.closest('a,input,label')) return;
                      navigate(`/trials/${tid}`);
                    }}
                  >
                    <td className="center">
                      <input
                        type="checkbox"
                        data-testid="trial-select"
                        checked={isSel}
                        onChange={() => onToggle(tid)}
                        aria-label={`overlay trial ${String(r.index)}`}
                      />
                      {isSel && <i className="swatch" style={{ background: colourOf.get(tid) }} />}
                    </td>
                    {columns.map((c) =>
                      c.key === 'status' ? (
                        <td key={c.key}>
                          <StatusBadge status={String(r.status)} />
                        </td>
                      ) : c.key === 'index' ? (
                        <td key={c.key} className="num">
                          <Link href={`/trials/${tid}`}>{String(r.index)}</Link>
                        </td>
                      ) : (
                        <td key={c.key} className={typeof r[c.key] === 'number' ? 'num' : ''} title={String(r[c.key] ?? '')}>
                          {renderCell(r[c.key], c.key)}
                        </td>
                      ),
                    )}
                  </tr>
                );
              })}
              {padBottom > 0 && (
                <tr className="spacer-row" style={{ height: padBottom }}>
                  <td colSpan={columns.length + 1} />
                </tr>
              )}
            </tbody>
          </table>
          {view.length === 0 && <div className="empty">No trials match.</div>}
        </div>
      </section>

      <section className="card">
        <div className="card-head">
          <h2>Loss of selected trials</h2>
          <span className="muted">{selected.length} selected</span>
          <div className="spacer" />
          <label className="check">
            <input type="checkbox" checked={showEval} onChange={(e) => setShowEval(e.target.checked)} data-testid="toggle-eval" /> eval loss
          </label>
          <button className="btn btn-small" onClick={onResetSelection} title="the 5 best finished plus the running trials">
            Default selection
          </button>
          <button className="btn btn-small" onClick={onClearSelection}>
            Clear
          </button>
        </div>
        {metricErrors && <Notice kind="error">Could not load some curves: {metricErrors}</Notice>}
        <OverlayChart trials={trials} selected={selected} colourOf={colourOf} store={store} version={version} showEval={showEval} />
      </section>

      <CompareSection sweep={sweep} rows={view} hpCols={hpCols} onPick={(tid) => navigate(`/trials/${tid}`)} />
    </>
  );
}

function isNumericCol(key: string, rows: FlatRow[]): boolean {
  for (const r of rows) {
    const v = r[key];
    if (v !== null && v !== undefined) return typeof v === 'number';
  }
  return false;
}

function OverlayChart({
  trials,
  selected,
  colourOf,
  store,
  version,
  showEval,
}: {
  trials: Trial[];
  selected: string[];
  colourOf: Map<string, string>;
  store: MetricStore;
  version: number;
  showEval: boolean;
}) {
  const byId = useMemo(() => new Map(trials.map((t) => [t.id, t])), [trials]);
  const { series, points } = useMemo(() => {
    const out: LineSeries[] = [];
    let total = 0;
    for (const tid of selected) {
      const t = byId.get(tid);
      const name = t ? `#${t.index} ${t.variant}` : tid.slice(0, 8);
      const colour = colourOf.get(tid) ?? '#888';
      const tr = store.get(tid, 'train', 'loss');
      if (tr && tr.steps.length) {
        out.push({ label: `${name} train`, color: colour, xs: tr.steps.slice(), ys: tr.values.slice() });
        total += tr.steps.length;
      }
      if (showEval) {
        const ev = store.get(tid, 'eval', 'loss');
        if (ev && ev.steps.length) {
          out.push({
            label: `${name} eval`,
            color: colour,
            xs: ev.steps.slice(),
            ys: ev.values.slice(),
            dash: [5, 4],
            points: true,
            width: 2,
          });
          total += ev.steps.length;
        }
      }
    }
    return { series: out, points: total };
    // version: the store is mutable; re-read it when it moves.
  }, [selected, byId, colourOf, store, version, showEval]);

  return (
    <UPlotChart
      series={series}
      height={320}
      yLabel="loss"
      emptyText={selected.length === 0 ? 'Pick trials in the table (checkbox) to overlay their loss curves.' : 'No loss points yet.'}
      attrs={{ 'data-testid': 'overlay-chart', 'data-series': series.length, 'data-points': points }}
    />
  );
}

function CompareSection({
  sweep,
  rows,
  hpCols,
  onPick,
}: {
  sweep: Sweep;
  rows: FlatRow[];
  hpCols: string[];
  onPick: (trialId: string) => void;
}) {
  const trainRows = useMemo(() => rows.filter((r) => r.kind !== 'probe'), [rows]);
  const numeric = useMemo(() => varyingNumericColumns(trainRows, hpCols), [trainRows, hpCols]);
  const allNumeric = useMemo(() => hpCols.filter((c) => isNumericCol(c, trainRows)), [hpCols, trainRows]);
  const [xKey, setXKey] = useState<string>('');
  const x = xKey && allNumeric.includes(xKey) ? xKey : numeric.includes('lr') ? 'lr' : (numeric[0] ?? allNumeric[0] ?? 'r');
  const withMetric = trainRows.filter((r) => typeof r.metric === 'number').length;
  return (
    <section className="card" data-testid="compare-chart">
      <div className="card-head">
        <h2>Compare</h2>
        <span className="muted">
          {withMetric} of {trainRows.length} train trials have a {sweep.metric} (filtered rows only)
        </span>
      </div>
      <div className="compare-grid">
        <div>
          <div className="chart-title">Parallel coordinates — hyperparameters that vary → {sweep.metric}</div>
          <ParallelCoordinates rows={trainRows} axes={numeric} metricKey="metric" metricLabel={sweep.metric} mode={sweep.metricMode} />
        </div>
        <div>
          <div className="chart-title">
            {sweep.metric} vs{' '}
            <select className="input input-small" value={x} onChange={(e) => setXKey(e.target.value)} data-testid="scatter-x">
              {allNumeric.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </div>
          <Scatter rows={trainRows} xKey={x} yKey="metric" yLabel={sweep.metric} onPick={(r) => onPick(String(r.id))} />
        </div>
      </div>
    </section>
  );
}
