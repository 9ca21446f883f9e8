// A uPlot line chart sized to its container. Series are downsampled (LTTB) and aligned on x here;
// the instance is rebuilt only when the set of series changes, otherwise setData() is used.
import { useEffect, useMemo, useRef, useState, type HTMLAttributes } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { tickLabels } from '../lib/format';
import { alignSeries, lttb, MAX_POINTS_PER_SERIES } from '../lib/lttb';

export interface LineSeries {
  label: string;
  color: string;
  xs: ArrayLike<number>;
  ys: ArrayLike<number>;
  dash?: number[];
  width?: number;
  /** Draw this series on the right-hand axis. */
  right?: boolean;
  points?: boolean;
}

export interface UPlotChartProps {
  series: LineSeries[];
  height?: number;
  xLabel?: string;
  yLabel?: string;
  rightLabel?: string;
  logY?: boolean;
  /** Extra attributes for the wrapper (data-testid, data-points, …). */
  attrs?: HTMLAttributes<HTMLDivElement> & Record<`data-${string}`, string | number>;
  emptyText?: string;
  maxPoints?: number;
}

export function UPlotChart({
  series,
  height = 260,
  xLabel = 'step',
  yLabel,
  rightLabel,
  logY,
  attrs,
  emptyText,
  maxPoints,
}: UPlotChartProps) {
  const wrapRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const [width, setWidth] = useState(0);

  const data = useMemo(() => {
    const cap = maxPoints ?? MAX_POINTS_PER_SERIES;
    const ds = series.map((s) => (s.xs.length > cap ? lttb(s.xs, s.ys, cap) : s));
    return alignSeries(ds) as uPlot.AlignedData;
  }, [series, maxPoints]);

  const shape = series.map((s) => `${s.label}|${s.color}|${s.right ? 1 : 0}|${s.dash?.join(',') ?? ''}`).join(';') + `|${logY ? 1 : 0}`;

  useEffect(() => {
    const el = wrapRef.current;
    if (!el) return;
    const ro = new ResizeObserver((entries) => {
      const w = Math.floor(entries[0].contentRect.width);
      setWidth((prev) => (Math.abs(prev - w) > 1 ? w : prev));
    });
    ro.observe(el);
    setWidth(Math.floor(el.getBoundingClientRect().width));
    return () => ro.disconnect();
  }, []);

  // (Re)build when the series set changes.
  useEffect(() => {
    const el = wrapRef.current;
    if (!el || width <= 0 || series.length === 0) return;
    const hasRight = series.some((s) => s.right);
    const opts: uPlot.Options = {
      width,
      height,
      legend: { show: true, live: true },
      cursor: { drag: { x: true, y: false }, points: { size: 5 } },
      scales: {
        x: { time: false },
        y: logY ? { distr: 3 } : {},
        ...(hasRight ? { r: {} } : {}),
      },
      axes: [
        { label: xLabel, labelSize: 18, size: 36, grid: { stroke: '#eef0f3' }, ticks: { stroke: '#d0d4da' } },
        {
          label: yLabel,
          labelSize: 18,
          size: 60,
          grid: { stroke: '#eef0f3' },
          ticks: { stroke: '#d0d4da' },
          values: logY ? undefined : (_u: uPlot, splits: number[]) => tickLabels(splits),
        },
        ...(hasRight
          ? [
              {
                scale: 'r',
                side: 1 as const,
                label: rightLabel,
                labelSize: 18,
                size: 60,
                grid: { show: false },
                values: (_u: uPlot, splits: number[]) => tickLabels(splits),
              },
            ]
          : []),
      ],
      series: [
        { label: xLabel },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.width ?? 1.5,
          dash: s.dash,
          scale: s.right ? 'r' : 'y',
          spanGaps: true,
          points: { show: s.points ?? false, size: 4 },
        })),
      ],
    };
    const u = new uPlot(opts, data, el.querySelector<HTMLDivElement>('.uplot-host')!);
    plotRef.current = u;
    return () => {
      u.destroy();
      plotRef.current = null;
    };
    // data is applied by the effect below; rebuild only on shape/size changes.
  }, [shape, width, height, xLabel, yLabel, rightLabel]);

  useEffect(() => {
    plotRef.current?.setData(data);
  }, [data]);

  const empty = series.length === 0 || series.every((s) => s.xs.length === 0);
  return (
    <div className="chart" ref={wrapRef} {...attrs}>
      <div className="uplot-host" />
      {empty && <div className="chart-empty">{emptyText ?? 'no data yet'}</div>}
    </div>
  );
}
