import { importanceBars } from './importance';

const rows = [
  { module: 'b', score: 2, normalized: 0.2, rank: 2 },
  { module: 'a', score: 5, normalized: 0.5, rank: 1 },
  { module: 'd', score: 1, normalized: 0.1, rank: 4 },
  { module: 'c', score: 2, normalized: 0.2, rank: 3 },
];

describe('importanceBars', () => {
  it('sorts by importance and accumulates', () => {
    const bars = importanceBars(rows);
    expect(bars.map((b) => b.module)).toEqual(['a', 'b', 'c', 'd']);
    expect(bars.map((b) => b.cumulative)).toEqual([0.5, 0.7, expect.closeTo(0.9), expect.closeTo(1)]);
    expect(bars.every((b) => !b.selected)).toBe(true);
  });

  it('selects until the cumulative importance reaches the threshold', () => {
    expect(
      importanceBars(rows, { threshold: 0.6 })
        .filter((b) => b.selected)
        .map((b) => b.module),
    ).toEqual(['a', 'b']);
    expect(
      importanceBars(rows, { threshold: 0.5 })
        .filter((b) => b.selected)
        .map((b) => b.module),
    ).toEqual(['a']);
  });

  it('selects the top N, or exactly the plan’s modules when given', () => {
    expect(importanceBars(rows, { topN: 3 }).filter((b) => b.selected)).toHaveLength(3);
    expect(
      importanceBars(rows, { selected: ['d'], threshold: 0.9 })
        .filter((b) => b.selected)
        .map((b) => b.module),
    ).toEqual(['d']);
  });
});
