import { rankMatrix } from './heatmap';

const step = (s: number, ranks: Record<string, number>) => ({ step: s, budget: Object.values(ranks).reduce((a, b) => a + b, 0), ranks });

describe('rankMatrix', () => {
  it('orders modules naturally and keeps one column per step when few', () => {
    const m = rankMatrix([step(10, { 'h.10.a': 4, 'h.2.a': 8 }), step(20, { 'h.10.a': 2, 'h.2.a': 6 })]);
    expect(m.modules).toEqual(['h.2.a', 'h.10.a']);
    expect(m.steps).toEqual([10, 20]);
    expect(m.values).toEqual([
      [8, 6],
      [4, 2],
    ]);
    expect(m.max).toBe(8);
  });

  it('bins many steps into maxColumns columns ending at the last step', () => {
    const hist = Array.from({ length: 1000 }, (_, i) => step(i + 1, { a: 1000 - i }));
    const m = rankMatrix(hist, 100);
    expect(m.steps).toHaveLength(100);
    expect(m.steps[0]).toBe(10);
    expect(m.steps[99]).toBe(1000);
    expect(m.values[0][99]).toBe(1);
    for (let i = 1; i < m.steps.length; i++) expect(m.steps[i]).toBeGreaterThan(m.steps[i - 1]);
  });

  it('marks modules missing at a step as null and handles empty history', () => {
    const m = rankMatrix([step(1, { a: 2 }), step(2, { a: 1, b: 3 })]);
    expect(m.values[1]).toEqual([null, 3]);
    expect(rankMatrix([])).toEqual({ modules: [], steps: [], values: [], max: 0 });
  });
});
