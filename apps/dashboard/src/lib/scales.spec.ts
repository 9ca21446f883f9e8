import { extent, makeScale, niceTicks, prefersLog, viridis } from './scales';

describe('scales', () => {
  it('extent skips nulls and non-finite values', () => {
    expect(extent([3, null, 1, NaN, 7, undefined])).toEqual([1, 7]);
    expect(extent([null, NaN])).toBeNull();
    expect(extent([-1, 0, 2, 5], true)).toEqual([2, 5]);
  });

  it('maps linearly, including inverted ranges (canvas y)', () => {
    const s = makeScale([0, 10], [100, 0]);
    expect(s(0)).toBe(100);
    expect(s(10)).toBe(0);
    expect(s(2.5)).toBe(75);
  });

  it('maps in log10 when asked and the domain is positive', () => {
    const s = makeScale([1e-4, 1e-2], [0, 100], true);
    expect(s.log).toBe(true);
    expect(s(1e-3)).toBeCloseTo(50);
    expect(s.ticks()).toEqual([1e-4, 1e-3, 1e-2]);
    expect(makeScale([-1, 1], [0, 1], true).log).toBe(false);
  });

  it('maps a zero-width domain to the middle of the range', () => {
    expect(makeScale([5, 5], [0, 10])(5)).toBe(5);
  });

  it('prefers log for ranges spanning decades', () => {
    expect(prefersLog([1e-5, 1e-3])).toBe(true);
    expect(prefersLog([1, 4])).toBe(false);
    expect(prefersLog([-1, 100])).toBe(false);
  });

  it('produces round ticks inside the domain', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const t = niceTicks(2.13, 3.87, 4);
    expect(t[0]).toBeGreaterThanOrEqual(2.13);
    expect(t[t.length - 1]).toBeLessThanOrEqual(3.87);
  });

  it('clamps viridis to its ends', () => {
    expect(viridis(-1)).toBe('rgb(68,1,84)');
    expect(viridis(2)).toBe('rgb(253,231,37)');
  });
});
