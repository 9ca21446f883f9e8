// LoRA-drop importance: one bar per module (normalized importance, most important first), the
// cumulative share as a line, and the plan's threshold on the cumulative axis. Selected modules
// are filled, dropped ones hatched.
import { useWidth } from './useWidth';
import { importanceBars, type ImportanceRow } from '../lib/importance';
import { fmtNum } from '../lib/format';

export function shortModule(m: string): string {
  return m.replace(/^transformer\.h\./, 'h.').replace(/^base_model\.model\./, '');
}

export function ImportanceChart({
  modules,
  selected,
  threshold,
  topN,
}: {
  modules: ImportanceRow[];
  selected: string[] | null;
  threshold: number | null;
  topN: number | null;
}) {
  const bars = importanceBars(modules, { selected, threshold, topN });
  const n = bars.length;
  // Drawn at the container's real width (1 SVG unit = 1 CSS px), so text keeps its size.
  const [wrapRef, measured] = useWidth<HTMLDivElement>();
  const W = Math.max(640, n * 16 + 90, measured);
  const H = 300;
  const m = { l: 50, r: 44, t: 14, b: 96 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const maxNorm = Math.max(...bars.map((b) => b.normalized), 1e-9);
  const step = pw / Math.max(n, 1);
  const bw = Math.max(2, step * 0.75);
  const yL = (v: number) => m.t + ph - (v / maxNorm) * ph;
  const yR = (v: number) => m.t + ph - v * ph;
  const selectedCount = bars.filter((b) => b.selected).length;
  // The cumulative level the selection reaches (for a top-N plan the marker goes there).
  const marker = threshold ?? (selectedCount > 0 ? bars[selectedCount - 1].cumulative : null);
  const cumPath = bars
    .map((b, i) => `${i === 0 ? 'M' : 'L'}${(m.l + step * i + step / 2).toFixed(1)},${yR(b.cumulative).toFixed(1)}`)
    .join(' ');
  const leftTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * maxNorm);
  return (
    <div className="importance" ref={wrapRef}>
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} data-testid="importance-chart" role="img">
        <defs>
          <pattern id="hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">
            <rect width="6" height="6" fill="#fff" />
            <line x1="0" y1="0" x2="0" y2="6" stroke="#9aa5b1" strokeWidth="2" />
          </pattern>
        </defs>
        {leftTicks.map((t, i) => (
          <g key={i}>
            <line x1={m.l} x2={W - m.r} y1={yL(t)} y2={yL(t)} stroke="#eef0f3" />
            <text x={m.l - 6} y={yL(t) + 3} textAnchor="end" className="svg-tick">
              {fmtNum(t, 2)}
            </text>
            <text x={W - m.r + 6} y={yR(i / 4) + 3} className="svg-tick">
              {(i * 25).toString()}%
            </text>
          </g>
        ))}
        {bars.map((b, i) => {
          const x = m.l + step * i + (step - bw) / 2;
          return (
            <g key={b.module}>
              <rect
                data-testid="importance-bar"
                data-module={b.module}
                data-selected={String(b.selected)}
                x={x}
                y={yL(b.normalized)}
                width={bw}
                height={Math.max(0.5, m.t + ph - yL(b.normalized))}
                fill={b.selected ? '#4e79a7' : 'url(#hatch)'}
                stroke={b.selected ? '#3b5f86' : '#9aa5b1'}
                strokeWidth={0.8}
              >
                <title>
                  {`${b.module}\nimportance ${fmtNum(b.normalized)} (rank ${b.rank}, score ${fmtNum(b.score)})\ncumulative ${fmtNum(b.cumulative)}\n${b.selected ? 'selected' : 'dropped'}`}
                </title>
              </rect>
              <text
                x={x + bw / 2}
                y={m.t + ph + 8}
                transform={`rotate(60 ${x + bw / 2} ${m.t + ph + 8})`}
                className={`svg-label ${b.selected ? '' : 'muted-fill'}`}
              >
                {shortModule(b.module)}
              </text>
            </g>
          );
        })}
        <path d={cumPath} fill="none" stroke="#e15759" strokeWidth={1.8} />
        {marker !== null && (
          <g data-testid="importance-threshold" data-threshold={marker}>
            <line x1={m.l} x2={W - m.r} y1={yR(marker)} y2={yR(marker)} stroke="#e15759" strokeDasharray="6 4" />
            <text x={W - m.r - 4} y={yR(marker) - 5} textAnchor="end" className="svg-label strong-fill">
              {threshold !== null ? `threshold ${fmtNum(threshold)}` : `top ${topN ?? selectedCount}`}
            </text>
          </g>
        )}
        <line x1={m.l} x2={W - m.r} y1={m.t + ph} y2={m.t + ph} stroke="#5c6673" />
        <text x={12} y={m.t + ph / 2} transform={`rotate(-90 12 ${m.t + ph / 2})`} textAnchor="middle" className="svg-label">
          normalized importance
        </text>
        <text x={W - 6} y={m.t + ph / 2} transform={`rotate(90 ${W - 6} ${m.t + ph / 2})`} textAnchor="middle" className="svg-label">
          cumulative
        </text>
      </svg>
      <div className="legend-row">
        <span className="legend-item">
          <i style={{ background: '#4e79a7' }} /> selected ({selectedCount})
        </span>
        <span className="legend-item">
          <i className="hatched" /> dropped ({n - selectedCount})
        </span>
        <span className="legend-item">
          <i style={{ background: '#e15759', height: 2 }} /> cumulative importance
        </span>
      </div>
    </div>
  );
}
