import { mergeLogs, type LogLine } from './logs';

const line = (id: string, sec: number): LogLine => ({
  id,
  attempt: 1,
  ts: new Date(Date.UTC(2026, 0, 1, 0, 0, sec)).toISOString(),
  level: 'info',
  message: `m${id}`,
});

describe('mergeLogs', () => {
  it('appends new lines and drops duplicates', () => {
    const a = mergeLogs([], [line('1', 1), line('2', 2)]);
    const b = mergeLogs(a, [line('2', 2), line('3', 3)]);
    expect(b.map((l) => l.id)).toEqual(['1', '2', '3']);
    expect(mergeLogs(b, [line('3', 3)])).toBe(b);
  });

  it('sorts out-of-order lines by time then numeric id', () => {
    const out = mergeLogs([line('10', 5)], [line('9', 5), line('2', 1)]);
    expect(out.map((l) => l.id)).toEqual(['2', '9', '10']);
  });

  it('keeps only the newest max lines', () => {
    const many = Array.from({ length: 20 }, (_, i) => line(String(i), i));
    expect(mergeLogs([], many, 5).map((l) => l.id)).toEqual(['15', '16', '17', '18', '19']);
  });
});
