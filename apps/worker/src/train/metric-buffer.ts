// Batches metric points so a fast trainer costs one INSERT per flush, not one per point.
import type { MetricPointInput, MetricRepository } from '@lora/db';

export class MetricBuffer {
  private points: MetricPointInput[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inflight: Promise<void> = Promise.resolve();
  private failure: Error | null = null;

  constructor(
    private readonly repo: MetricRepository,
    private readonly flushMs: number,
    private readonly maxBatch = 500,
  ) {}

  push(p: MetricPointInput): void {
    this.points.push(p);
    if (this.points.length >= this.maxBatch) void this.flush();
    else if (!this.timer) this.timer = setTimeout(() => void this.flush(), this.flushMs);
  }

  /** Writes everything pushed so far; flushes are serialised so batches land in order. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.points;
    this.points = [];
    this.inflight = this.inflight.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.repo.insertBatch(batch);
      } catch (e) {
        // Keep the points for the next flush; close() surfaces the error if it persists.
        this.points = batch.concat(this.points);
        this.failure = e as Error;
        return;
      }
      this.failure = null;
    });
    return this.inflight;
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.points.length > 0) await this.flush();
    if (this.failure) throw this.failure;
  }
}
