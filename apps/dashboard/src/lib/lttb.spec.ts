import { alignSeries, lttb } from './lttb';

describe('lttb', () => {
  const n = 10_000;
  const xs = Array.from({ length: n }, (_, i) => i);
  const ys = xs.map((x) => Math.sin(x / 300) + (x === 4321 ? 50 : 0) + (x === 777 ? -40 : 0));

  it('returns exactly threshold points, keeping first and last', () => {
    const out = lttb(xs, ys, 1500);
    expect(out.xs).toHaveLength(1500);
    expect(out.ys).toHaveLength(1500);
    expect(out.xs[0]).toBe(0);
    expect(out.ys[0]).toBe(ys[0]);
    expect(out.xs[1499]).toBe(n - 1);
    expect(out.ys[1499]).toBe(ys[n - 1]);
  });

  it('keeps the extremes (spikes) of the series', () => {
    const out = lttb(xs, ys, 500);
    expect(out.xs).toContain(4321);
    expect(out.xs).toContain(777);
    expect(Math.max(...out.ys)).toBe(Math.max(...ys));
    expect(Math.min(...out.ys)).toBe(Math.min(...ys));
  });

  it('keeps x strictly increasing', () => {
    const out = lttb(xs, ys, 1000);
    for (let i = 1; i < out.xs.length; i++) expect(out.xs[i]).toBeGreaterThan(out.xs[i - 1]);
  });

  it('returns short series unchanged and drops non-finite values', () => {
    expect(lttb([1, 2, 3], [4, 5, 6], 1500)).toEqual({ xs: [1, 2, 3], ys: [4, 5, 6] });
    expect(lttb([1, 2, 3, 4], [1, NaN, Infinity, 2], 10)).toEqual({ xs: [1, 4], ys: [1, 2] });
  });
});

describe('alignSeries', () => {
  it('joins series on the union of x with nulls for gaps', () => {
    const out = alignSeries([
      { xs: [1, 3], ys: [10, 30] },
      { xs: [2, 3, 5], ys: [20, 31, 50] },
    ]);
    expect(out).toEqual([
      [1, 2, 3, 5],
      [10, null, 30, null],
      [null, 20, 31, 50],
    ]);
  });
});
