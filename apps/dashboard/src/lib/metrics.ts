// Metric curves held by the dashboard: one ascending (step, value) series per (trial, split, name),
// filled from a REST snapshot and live SSE batches, de-duplicated by step.

export interface MetricPoint {
  step: number;
  split: string;
  name: string;
  value: number;
}

export interface Series {
  steps: number[];
  values: number[];
}

export const seriesKey = (split: string, name: string): string => `${split}/${name}`;

/**
 * Merges points (any order, possibly overlapping) into a series in place, keeping steps strictly
 * ascending; a point at an existing step replaces its value. Returns how many steps were added.
 */
export function mergeIntoSeries(s: Series, points: ReadonlyArray<{ step: number; value: number }>): number {
  if (points.length === 0) return 0;
  const last = s.steps.length ? s.steps[s.steps.length - 1] : -Infinity;
  // Fast path: an append of new, ascending steps (the usual live batch).
  let appendable = true;
  let prev = last;
  for (const p of points) {
    if (!(p.step > prev)) {
      appendable = false;
      break;
    }
    prev = p.step;
  }
  if (appendable) {
    for (const p of points) {
      s.steps.push(p.step);
      s.values.push(p.value);
    }
    return points.length;
  }
  const byStep = new Map<number, number>();
  for (let i = 0; i < s.steps.length; i++) byStep.set(s.steps[i], s.values[i]);
  const before = byStep.size;
  for (const p of points) byStep.set(p.step, p.value);
  const steps = [...byStep.keys()].sort((a, b) => a - b);
  s.steps.length = 0;
  s.values.length = 0;
  for (const st of steps) {
    s.steps.push(st);
    s.values.push(byStep.get(st)!);
  }
  return byStep.size - before;
}

/**
 * Curves of several trials. A trial is either absent (its live points are ignored), loading
 * (live points are buffered until its snapshot lands) or loaded (live points are merged).
 */
export class MetricStore {
  private readonly loaded = new Map<string, Map<string, Series>>();
  private readonly loading = new Map<string, MetricPoint[]>();
  /** Bumped on every change; charts re-read when it moves. */
  version = 0;

  constructor(private readonly keep: (split: string, name: string) => boolean = () => true) {}

  has(trialId: string): boolean {
    return this.loaded.has(trialId) || this.loading.has(trialId);
  }

  isLoaded(trialId: string): boolean {
    return this.loaded.has(trialId);
  }

  beginLoad(trialId: string): void {
    this.loaded.delete(trialId);
    this.loading.set(trialId, []);
  }

  /** Installs the snapshot, then replays whatever arrived live meanwhile (de-duplicated). */
  finishLoad(trialId: string, snapshot: ReadonlyArray<MetricPoint>): void {
    const buffered = this.loading.get(trialId) ?? [];
    this.loading.delete(trialId);
    const m = new Map<string, Series>();
    this.loaded.set(trialId, m);
    this.mergeInto(m, snapshot);
    this.mergeInto(m, buffered);
    this.version++;
  }

  /** Applies a live batch; returns whether anything changed. */
  addLive(trialId: string, points: ReadonlyArray<MetricPoint>): boolean {
    const buf = this.loading.get(trialId);
    if (buf) {
      buf.push(...points);
      return false;
    }
    const m = this.loaded.get(trialId);
    if (!m) return false;
    const added = this.mergeInto(m, points);
    if (added > 0) this.version++;
    return added > 0;
  }

  drop(trialId: string): void {
    this.loaded.delete(trialId);
    this.loading.delete(trialId);
    this.version++;
  }

  clear(): void {
    this.loaded.clear();
    this.loading.clear();
    this.version++;
  }

  get(trialId: string, split: string, name: string): Series | undefined {
    return this.loaded.get(trialId)?.get(seriesKey(split, name));
  }

  trialIds(): string[] {
    return [...this.loaded.keys()];
  }

  private mergeInto(m: Map<string, Series>, points: ReadonlyArray<MetricPoint>): number {
    const groups = new Map<string, MetricPoint[]>();
    for (const p of points) {
      if (!this.keep(p.split, p.name) || !Number.isFinite(p.step)) continue;
      const k = seriesKey(p.split, p.name);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = []));
      g.push(p);
    }
    let added = 0;
    for (const [k, g] of groups) {
      let s = m.get(k);
      if (!s) m.set(k, (s = { steps: [], values: [] }));
      added += mergeIntoSeries(s, g);
    }
    return added;
  }
}
