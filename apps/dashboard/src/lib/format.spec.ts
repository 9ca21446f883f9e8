import { fmtBytes, fmtDuration, fmtNum, tickLabels, timeAgo } from './format';

describe('format', () => {
  it('formats numbers compactly', () => {
    expect(fmtNum(null)).toBe('–');
    expect(fmtNum(1234)).toBe('1,234');
    expect(fmtNum(2.3456789)).toBe('2.346');
    expect(fmtNum(0.0001)).toBe('1.00e-4');
  });

  it('formats sizes in binary units', () => {
    expect(fmtBytes(512)).toBe('512 B');
    expect(fmtBytes(1536)).toBe('1.5 KiB');
    expect(fmtBytes(5 * 1024 * 1024)).toBe('5.0 MiB');
  });

  it('formats relative times', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    expect(timeAgo('2026-01-01T00:09:57Z', now)).toBe('3 s ago');
    expect(timeAgo('2026-01-01T00:05:00Z', now)).toBe('5 min ago');
    expect(timeAgo('2025-12-31T22:10:00Z', now)).toBe('2 h ago');
    expect(timeAgo(null, now)).toBe('–');
  });

  it('formats durations', () => {
    expect(fmtDuration('2026-01-01T00:00:00Z', '2026-01-01T00:03:05Z')).toBe('3 min 05 s');
    expect(fmtDuration('2026-01-01T00:00:00Z', '2026-01-01T01:02:00Z')).toBe('1 h 02 min');
  });

  it('labels axis ticks with the decimals their spacing needs', () => {
    expect(tickLabels([0.0005, 0.001, 0.0015, 0.002])).toEqual(['0.0005', '0.0010', '0.0015', '0.0020']);
    expect(tickLabels([2, 2.25, 2.5, 2.75, 3])).toEqual(['2.00', '2.25', '2.50', '2.75', '3.00']);
    expect(tickLabels([1000, 1500, 2000])).toEqual(['1,000', '1,500', '2,000']);
    expect(tickLabels([1.6, 1.8, 2])).toEqual(['1.6', '1.8', '2.0']);
    expect(tickLabels([1e-5, 2e-5])).toEqual(['1.0e-5', '2.0e-5']);
  });
});
