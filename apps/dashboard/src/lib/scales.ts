// Scales and colours for the canvas charts (parallel coordinates, scatter, heatmap).

export interface Scale {
  (v: number): number;
  domain: [number, number];
  log: boolean;
  ticks(count?: number): number[];
}

/** Extent of the finite values (optionally positive only); null when there are none. */
export function extent(values: Iterable<number | null | undefined>, positiveOnly = false): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v === null || v === undefined || !Number.isFinite(v) || (positiveOnly && v <= 0)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}

/** Whether a positive range spans enough decades to be read on a log axis (like learning rates). */
export function prefersLog(domain: [number, number] | null): boolean {
  return !!domain && domain[0] > 0 && domain[1] / domain[0] >= 50;
}

/**
 * Maps domain → range linearly (or in log10 when `log`); a zero-width domain maps to the range's
 * middle. Values outside the domain are extrapolated (not clamped).
 */
export function makeScale(domain: [number, number], range: [number, number], log = false): Scale {
  const useLog = log && domain[0] > 0 && domain[1] > 0;
  const t = (v: number) => (useLog ? Math.log10(v) : v);
  const d0 = t(domain[0]);
  const d1 = t(domain[1]);
  const f = ((v: number) => {
    if (d1 === d0) return (range[0] + range[1]) / 2;
    return range[0] + ((t(v) - d0) / (d1 - d0)) * (range[1] - range[0]);
  }) as Scale;
  f.domain = domain;
  f.log = useLog;
  f.ticks = (count = 5) => (useLog ? logTicks(domain) : niceTicks(domain[0], domain[1], count));
  return f;
}

/** About `count` round tick values covering [lo, hi] (1, 2, 5 × 10^k steps). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (lo === hi) return [lo];
  const raw = (hi - lo) / Math.max(count, 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function logTicks(domain: [number, number]): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(domain[0])); e <= Math.ceil(Math.log10(domain[1])); e++) {
    const v = Number(`1e${e}`);
    if (v >= domain[0] * 0.999 && v <= domain[1] * 1.001) out.push(v);
  }
  return out.length ? out : [domain[0], domain[1]];
}

// Viridis, sampled at 9 stops.
const VIRIDIS: Array<[number, number, number]> = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

/** Viridis colour for t in [0, 1] (clamped) as an rgb() string. */
export function viridis(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  const f = x - i;
  const [a, b] = [VIRIDIS[i], VIRIDIS[i + 1]];
  const c = a.map((v, k) => Math.round(v + (b[k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** A categorical palette for per-trial series (Tableau 10 + 10 more). */
export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#7f7f7f',
  '#393b79',
];
