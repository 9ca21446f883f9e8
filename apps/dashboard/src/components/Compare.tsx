// Comparison charts on canvas: parallel coordinates (hyperparameters → metric) and a scatter of the
// metric against one hyperparameter. Both stay fast with thousands of trials.
import { useEffect, useMemo, useRef, useState, type MouseEvent as ReactMouseEvent } from 'react';
import { fmtNum } from '../lib/format';
import { extent, makeScale, PALETTE, prefersLog, viridis, type Scale } from '../lib/scales';
import type { FlatRow } from '../lib/table';
import { setupCanvas, useWidth } from './useWidth';

const LABEL_FONT = '11px Inter, system-ui, sans-serif';
const TICK_FONT = '10px "JetBrains Mono", ui-monospace, monospace';

function label(key: string): string {
  return key === 'metric' ? 'metric' : key.replace(/^training\./, '');
}

/** Colour position of a metric value: 1 = best. */
function metricT(v: number, dom: [number, number] | null, mode: string): number {
  if (!dom || dom[1] === dom[0]) return 0.5;
  const t = (v - dom[0]) / (dom[1] - dom[0]);
  return mode === 'max' ? t : 1 - t;
}

export function ParallelCoordinates({
  rows,
  axes,
  metricKey,
  metricLabel,
  mode,
  height = 300,
}: {
  rows: FlatRow[];
  axes: string[];
  metricKey: string;
  metricLabel: string;
  mode: string;
  height?: number;
}) {
  const [wrapRef, width] = useWidth<HTMLDivElement>();
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const allAxes = useMemo(() => [...axes, metricKey], [axes, metricKey]);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || width <= 0) return;
    const ctx = setupCanvas(canvas, width, height);
    if (!ctx) return;
    const top = 28;
    const bottom = height - 22;
    const left = 50;
    const right = width - 60;
    const n = allAxes.length;
    if (n < 2) {
      ctx.fillStyle = '#8a93a0';
      ctx.font = LABEL_FONT;
      ctx.fillText('Need at least one hyperparameter that varies and a metric.', 12, height / 2);
      return;
    }
    const xs = allAxes.map((_, i) => left + ((right - left) * i) / (n - 1));
    const scales: Array<Scale | null> = allAxes.map((k) => {
      const ext = extent(rows.map((r) => (typeof r[k] === 'number' ? (r[k] as number) : null)));
      if (!ext) return null;
      const pad = ext[0] === ext[1] ? Math.abs(ext[0]) * 0.1 || 1 : 0;
      const dom: [number, number] = [ext[0] - pad, ext[1] + pad];
      return makeScale(dom, [bottom, top], prefersLog(ext) && k !== metricKey);
    });
    const mDom = extent(rows.map((r) => r[metricKey] as number | null));

    // Lines without a metric first (grey), then coloured ones bucketed by colour (one stroke per bucket).
    const BUCKETS = 24;
    const buckets: Array<Array<FlatRow>> = Array.from({ length: BUCKETS + 1 }, () => []);
    for (const r of rows) {
      const m = r[metricKey];
      if (typeof m !== 'number' || !Number.isFinite(m)) buckets[BUCKETS].push(r);
      else buckets[Math.min(BUCKETS - 1, Math.floor(metricT(m, mDom, mode) * BUCKETS))].push(r);
    }
    const alpha = rows.length > 2000 ? 0.15 : rows.length > 300 ? 0.35 : 0.75;
    const drawBucket = (list: FlatRow[], colour: string, a: number) => {
      if (list.length === 0) return;
      ctx.beginPath();
      for (const r of list) {
        let pen = false;
        for (let i = 0; i < n; i++) {
          const v = r[allAxes[i]];
          const s = scales[i];
          if (typeof v !== 'number' || !s || !Number.isFinite(v) || (s.log && v <= 0)) {
            pen = false;
            continue;
          }
          const y = s(v);
          if (pen) ctx.lineTo(xs[i], y);
          else ctx.moveTo(xs[i], y);
          pen = true;
        }
      }
      ctx.strokeStyle = colour;
      ctx.globalAlpha = a;
      ctx.lineWidth = 1;
      ctx.stroke();
    };
    drawBucket(buckets[BUCKETS], '#b8bec7', alpha * 0.6);
    for (let b = 0; b < BUCKETS; b++) drawBucket(buckets[b], viridis((b + 0.5) / BUCKETS), alpha);
    ctx.globalAlpha = 1;

    // Axes, labels and ticks.
    ctx.lineWidth = 1;
    for (let i = 0; i < n; i++) {
      const x = xs[i] + 0.5;
      ctx.strokeStyle = '#5c6673';
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, bottom);
      ctx.stroke();
      ctx.fillStyle = '#1f2933';
      ctx.font = LABEL_FONT;
      ctx.textAlign = 'center';
      ctx.fillText(allAxes[i] === metricKey ? metricLabel : label(allAxes[i]), x, top - 12);
      const s = scales[i];
      if (!s) continue;
      ctx.font = TICK_FONT;
      ctx.fillStyle = '#52606d';
      ctx.textAlign = i === n - 1 ? 'left' : 'right';
      const ticks = s.ticks(4);
      for (const t of ticks) {
        const y = s(t);
        if (y < top - 1 || y > bottom + 1) continue;
        ctx.beginPath();
        ctx.moveTo(x - 3, y);
        ctx.lineTo(x + 3, y);
        ctx.stroke();
        ctx.fillText(fmtNum(t, 3), i === n - 1 ? x + 6 : x - 6, y + 3);
      }
    }
  }, [rows, allAxes, width, height, metricKey, metricLabel, mode]);

  const mDom = extent(rows.map((r) => r[metricKey] as number | null));
  return (
    <div className="pc" ref={wrapRef}>
      <canvas ref={canvasRef} data-testid="parallel-coordinates" data-lines={rows.length} />
      <ColourLegend domain={mDom} mode={mode} label={metricLabel} />
    </div>
  );
}

export function ColourLegend({ domain, mode, label: text }: { domain: [number, number] | null; mode: string; label: string }) {
  if (!domain) return null;
  const stops = Array.from({ length: 9 }, (_, i) => viridis(i / 8)).join(',');
  const worst = mode === 'max' ? domain[0] : domain[1];
  const best = mode === 'max' ? domain[1] : domain[0];
  return (
    <div className="colour-legend">
      <span className="muted">{text}</span>
      <span className="num">{fmtNum(worst)}</span>
      <span className="gradient" style={{ background: `linear-gradient(to right, ${stops})` }} />
      <span className="num">{fmtNum(best)}</span>
      <span className="muted">(best)</span>
    </div>
  );
}

interface Pt {
  x: number;
  y: number;
  row: FlatRow;
}

export function Scatter({
  rows,
  xKey,
  yKey,
  yLabel,
  colourKey = 'variant',
  height = 300,
  onPick,
}: {
  rows: FlatRow[];
  xKey: string;
  yKey: string;
  yLabel: string;
  colourKey?: string;
  height?: number;
  onPick?: (row: FlatRow) => void;
}) {
  const [wrapRef, width] = useWidth<HTMLDivElement>();
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const ptsRef = useRef<Pt[]>([]);
  const [hover, setHover] = useState<Pt | null>(null);
  const categories = useMemo(() => [...new Set(rows.map((r) => String(r[colourKey] ?? '–')))].sort(), [rows, colourKey]);
  const colourOf = useMemo(() => new Map(categories.map((c, i) => [c, PALETTE[i % PALETTE.length]])), [categories]);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || width <= 0) return;
    const ctx = setupCanvas(canvas, width, height);
    if (!ctx) return;
    const m = { l: 62, r: 14, t: 10, b: 34 };
    const xv = rows.map((r) => (typeof r[xKey] === 'number' ? (r[xKey] as number) : null));
    const yv = rows.map((r) => (typeof r[yKey] === 'number' ? (r[yKey] as number) : null));
    const xe = extent(xv);
    const ye = extent(yv);
    ptsRef.current = [];
    if (!xe || !ye) {
      ctx.fillStyle = '#8a93a0';
      ctx.font = LABEL_FONT;
      ctx.fillText('No finished trials with this hyperparameter yet.', 12, height / 2);
      return;
    }
    const logX = prefersLog(xe);
    const padX = xe[0] === xe[1] ? Math.abs(xe[0]) * 0.1 || 1 : logX ? 0 : (xe[1] - xe[0]) * 0.04;
    const padY = ye[0] === ye[1] ? Math.abs(ye[0]) * 0.1 || 1 : (ye[1] - ye[0]) * 0.06;
    const sx = makeScale(logX ? [xe[0] / 1.3, xe[1] * 1.3] : [xe[0] - padX, xe[1] + padX], [m.l, width - m.r], logX);
    const sy = makeScale([ye[0] - padY, ye[1] + padY], [height - m.b, m.t]);

    ctx.font = TICK_FONT;
    ctx.strokeStyle = '#eef0f3';
    ctx.fillStyle = '#52606d';
    ctx.textAlign = 'center';
    for (const t of sx.ticks(6)) {
      const x = Math.round(sx(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, m.t);
      ctx.lineTo(x, height - m.b);
      ctx.stroke();
      ctx.fillText(fmtNum(t, 3), x, height - m.b + 13);
    }
    ctx.textAlign = 'right';
    for (const t of sy.ticks(5)) {
      const y = Math.round(sy(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(m.l, y);
      ctx.lineTo(width - m.r, y);
      ctx.stroke();
      ctx.fillText(fmtNum(t, 4), m.l - 6, y + 3);
    }
    ctx.font = LABEL_FONT;
    ctx.fillStyle = '#1f2933';
    ctx.textAlign = 'center';
    ctx.fillText(label(xKey) + (logX ? ' (log)' : ''), (m.l + width - m.r) / 2, height - 6);
    ctx.save();
    ctx.translate(12, (m.t + height - m.b) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(yLabel, 0, 0);
    ctx.restore();

    const pts: Pt[] = [];
    ctx.globalAlpha = rows.length > 2000 ? 0.5 : 0.8;
    rows.forEach((r, i) => {
      const a = xv[i];
      const b = yv[i];
      if (a === null || b === null || (logX && a <= 0)) return;
      // Deterministic horizontal jitter so grid-search points do not hide each other.
      const jitter = (((r.index as number) * 2654435761) % 1000) / 1000 - 0.5;
      const p = { x: sx(a) + jitter * 6, y: sy(b), row: r };
      pts.push(p);
      ctx.fillStyle = colourOf.get(String(r[colourKey] ?? '–')) ?? '#888';
      ctx.beginPath();
      ctx.arc(p.x, p.y, 3, 0, Math.PI * 2);
      ctx.fill();
    });
    ctx.globalAlpha = 1;
    ptsRef.current = pts;
  }, [rows, xKey, yKey, yLabel, width, height, colourKey, colourOf]);

  const nearest = (e: ReactMouseEvent<HTMLCanvasElement>): Pt | null => {
    const rect = e.currentTarget.getBoundingClientRect();
    const x = e.clientX - rect.left;
    const y = e.clientY - rect.top;
    let best: Pt | null = null;
    let d = 64;
    for (const p of ptsRef.current) {
      const dd = (p.x - x) ** 2 + (p.y - y) ** 2;
      if (dd < d) {
        d = dd;
        best = p;
      }
    }
    return best;
  };

  return (
    <div className="scatter" ref={wrapRef}>
      <canvas
        ref={canvasRef}
        style={{ cursor: hover ? 'pointer' : 'default' }}
        onMouseMove={(e) => setHover(nearest(e))}
        onMouseLeave={() => setHover(null)}
        onClick={(e) => {
          const p = nearest(e);
          if (p && onPick) onPick(p.row);
        }}
      />
      {hover && (
        <div className="tooltip" style={{ left: hover.x + 10, top: hover.y + 10 }}>
          #{String(hover.row.index)} {String(hover.row.variant)} · {label(xKey)} {fmtNum(hover.row[xKey] as number)} · {yLabel}{' '}
          {fmtNum(hover.row[yKey] as number)}
        </div>
      )}
      <div className="legend-row">
        {categories.map((c) => (
          <span key={c} className="legend-item">
            <i style={{ background: colourOf.get(c) }} />
            {c}
          </span>
        ))}
      </div>
    </div>
  );
}
