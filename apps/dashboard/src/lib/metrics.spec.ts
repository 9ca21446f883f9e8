import { MetricStore, mergeIntoSeries, type MetricPoint, type Series } from './metrics';

const pt = (step: number, value: number, split = 'train', name = 'loss'): MetricPoint => ({ step, value, split, name });

describe('mergeIntoSeries', () => {
  it('appends ascending new steps', () => {
    const s: Series = { steps: [1, 2], values: [10, 20] };
    expect(mergeIntoSeries(s, [pt(3, 30), pt(4, 40)])).toBe(2);
    expect(s).toEqual({ steps: [1, 2, 3, 4], values: [10, 20, 30, 40] });
  });

  it('de-duplicates by step and re-sorts out-of-order points', () => {
    const s: Series = { steps: [1, 2, 5], values: [10, 20, 50] };
    expect(mergeIntoSeries(s, [pt(2, 21), pt(4, 40), pt(3, 30), pt(4, 41)])).toBe(2);
    expect(s.steps).toEqual([1, 2, 3, 4, 5]);
    expect(s.values).toEqual([10, 21, 30, 41, 50]);
  });
});

describe('MetricStore', () => {
  it('buffers live points while loading and replays them after the snapshot without duplicates', () => {
    const st = new MetricStore();
    st.beginLoad('t');
    expect(st.addLive('t', [pt(3, 3), pt(4, 4)])).toBe(false);
    expect(st.get('t', 'train', 'loss')).toBeUndefined();
    st.finishLoad('t', [pt(1, 1), pt(2, 2), pt(3, 3)]);
    expect(st.get('t', 'train', 'loss')!.steps).toEqual([1, 2, 3, 4]);
    expect(st.addLive('t', [pt(4, 4)])).toBe(false);
    expect(st.addLive('t', [pt(5, 5), pt(0, 9, 'eval')])).toBe(true);
    expect(st.get('t', 'train', 'loss')!.steps).toEqual([1, 2, 3, 4, 5]);
    expect(st.get('t', 'eval', 'loss')!.values).toEqual([9]);
  });

  it('ignores points of trials it does not hold and filters by the keep predicate', () => {
    const st = new MetricStore((split, name) => name === 'loss');
    expect(st.addLive('x', [pt(1, 1)])).toBe(false);
    st.finishLoad('t', [pt(1, 1), pt(1, 0.1, 'train', 'lr')]);
    expect(st.get('t', 'train', 'lr')).toBeUndefined();
    expect(st.trialIds()).toEqual(['t']);
  });
});
