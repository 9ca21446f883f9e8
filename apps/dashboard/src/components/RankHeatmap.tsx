// AdaLoRA: rank per module (rows) over budget steps (columns) on canvas, with a colour legend.
import { useEffect, useMemo, useRef, useState } from 'react';
import { rankMatrix, type RankStep } from '../lib/heatmap';
import { viridis } from '../lib/scales';
import { shortModule } from './ImportanceChart';
import { setupCanvas, useWidth } from './useWidth';

const LABEL_W = 150;

export function RankHeatmap({ history }: { history: RankStep[] }) {
  const [wrapRef, width] = useWidth<HTMLDivElement>();
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const plotW = Math.max(50, width - LABEL_W - 10);
  const matrix = useMemo(() => rankMatrix(history, Math.max(1, Math.floor(plotW / 2))), [history, plotW]);
  const rowH = Math.max(5, Math.min(16, Math.floor(520 / Math.max(1, matrix.modules.length))));
  const height = matrix.modules.length * rowH + 26;
  const [hover, setHover] = useState<{ x: number; y: number; text: string } | null>(null);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || width <= 0) return;
    const ctx = setupCanvas(canvas, width, height);
    if (!ctx) return;
    const cols = matrix.steps.length;
    const cw = plotW / Math.max(cols, 1);
    const max = Math.max(matrix.max, 1);
    matrix.values.forEach((row, mi) => {
      row.forEach((v, ci) => {
        ctx.fillStyle = v === null ? '#f3f4f6' : viridis(v / max);
        ctx.fillRect(LABEL_W + ci * cw, mi * rowH, Math.ceil(cw), rowH - (rowH > 8 ? 1 : 0));
      });
      if (rowH >= 8) {
        ctx.fillStyle = '#334155';
        ctx.font = `${Math.min(11, rowH - 2)}px "JetBrains Mono", ui-monospace, monospace`;
        ctx.textAlign = 'right';
        ctx.fillText(shortModule(matrix.modules[mi]), LABEL_W - 6, mi * rowH + rowH - 3);
      }
    });
    // Step axis: first, middle, last.
    ctx.fillStyle = '#52606d';
    ctx.font = '10px "JetBrains Mono", ui-monospace, monospace';
    const y = matrix.modules.length * rowH + 14;
    if (cols > 0) {
      ctx.textAlign = 'left';
      ctx.fillText(`step ${matrix.steps[0]}`, LABEL_W, y);
      ctx.textAlign = 'right';
      ctx.fillText(`step ${matrix.steps[cols - 1]}`, LABEL_W + plotW, y);
      if (cols > 2) {
        ctx.textAlign = 'center';
        ctx.fillText(String(matrix.steps[Math.floor(cols / 2)]), LABEL_W + plotW / 2, y);
      }
    }
  }, [matrix, width, height, plotW, rowH]);

  const stops = Array.from({ length: 9 }, (_, i) => viridis(i / 8)).join(',');
  return (
    <div className="heatmap" ref={wrapRef} data-testid="rank-heatmap" data-modules={matrix.modules.length} data-steps={history.length}>
      <canvas
        ref={canvasRef}
        onMouseMove={(e) => {
          const r = e.currentTarget.getBoundingClientRect();
          const x = e.clientX - r.left;
          const yy = e.clientY - r.top;
          const mi = Math.floor(yy / rowH);
          const ci = Math.floor(((x - LABEL_W) / plotW) * matrix.steps.length);
          if (x < LABEL_W || mi < 0 || mi >= matrix.modules.length || ci < 0 || ci >= matrix.steps.length) return setHover(null);
          const v = matrix.values[mi][ci];
          setHover({ x, y: yy, text: `${matrix.modules[mi]} · step ${matrix.steps[ci]} · rank ${v ?? '–'}` });
        }}
        onMouseLeave={() => setHover(null)}
      />
      {hover && (
        <div className="tooltip" style={{ left: hover.x + 12, top: hover.y + 12 }}>
          {hover.text}
        </div>
      )}
      <div className="colour-legend">
        <span className="muted">rank</span>
        <span className="num">0</span>
        <span className="gradient" style={{ background: `linear-gradient(to right, ${stops})` }} />
        <span className="num">{matrix.max}</span>
        <span className="muted">
          {matrix.modules.length} modules × {history.length} budget steps
          {matrix.steps.length < history.length ? ` (binned to ${matrix.steps.length} columns)` : ''}
        </span>
      </div>
    </div>
  );
}
