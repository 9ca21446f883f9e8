// Largest-Triangle-Three-Buckets downsampling (Steinarsson 2013): keeps the visual shape of a
// long series (first and last points, peaks and troughs) with `threshold` points.

/**
 * Downsamples (xs, ys) to at most `threshold` points. xs must be ascending; non-finite ys are
 * dropped first. Returns the input unchanged (as copies) when it is already short enough.
 */
export function lttb(xs: ArrayLike<number>, ys: ArrayLike<number>, threshold: number): { xs: number[]; ys: number[] } {
  const px: number[] = [];
  const py: number[] = [];
  const n0 = Math.min(xs.length, ys.length);
  for (let i = 0; i < n0; i++) {
    if (Number.isFinite(ys[i]) && Number.isFinite(xs[i])) {
      px.push(xs[i]);
      py.push(ys[i]);
    }
  }
  const n = px.length;
  if (threshold >= n || threshold < 3) return { xs: px, ys: py };

  const outX: number[] = [px[0]];
  const outY: number[] = [py[0]];
  const every = (n - 2) / (threshold - 2);
  let a = 0;
  for (let i = 0; i < threshold - 2; i++) {
    // Average of the next bucket: the third corner of the triangle.
    const nextStart = Math.floor((i + 1) * every) + 1;
    const nextEnd = Math.min(Math.floor((i + 2) * every) + 1, n);
    let avgX = 0;
    let avgY = 0;
    for (let j = nextStart; j < nextEnd; j++) {
      avgX += px[j];
      avgY += py[j];
    }
    const len = Math.max(nextEnd - nextStart, 1);
    avgX /= len;
    avgY /= len;

    const start = Math.floor(i * every) + 1;
    const end = Math.floor((i + 1) * every) + 1;
    let maxArea = -1;
    let pick = start;
    for (let j = start; j < end; j++) {
      const area = Math.abs((px[a] - avgX) * (py[j] - py[a]) - (px[a] - px[j]) * (avgY - py[a]));
      if (area > maxArea) {
        maxArea = area;
        pick = j;
      }
    }
    outX.push(px[pick]);
    outY.push(py[pick]);
    a = pick;
  }
  outX.push(px[n - 1]);
  outY.push(py[n - 1]);
  return { xs: outX, ys: outY };
}

/** Number of points a chart draws per series at most. */
export const MAX_POINTS_PER_SERIES = 1500;

/**
 * Aligns several (xs, ys) series on the union of their x values (uPlot's data layout):
 * [xs, ys1, ys2, ...] with null where a series has no point at that x.
 */
export function alignSeries(series: ReadonlyArray<{ xs: ArrayLike<number>; ys: ArrayLike<number> }>): (number | null)[][] {
  const all = new Set<number>();
  for (const s of series) for (let i = 0; i < s.xs.length; i++) all.add(s.xs[i]);
  const xs = [...all].sort((p, q) => p - q);
  const pos = new Map<number, number>();
  xs.forEach((x, i) => pos.set(x, i));
  const out: (number | null)[][] = [xs];
  for (const s of series) {
    const ys: (number | null)[] = new Array(xs.length).fill(null);
    for (let i = 0; i < s.xs.length; i++) {
      const v = s.ys[i];
      ys[pos.get(s.xs[i])!] = Number.isFinite(v) ? v : null;
    }
    out.push(ys);
  }
  return out;
}
