// Batches rows (metric points, log lines) so a fast trainer costs one INSERT per flush, not one
// per row. `write` gets each batch in order; a batch that fails is kept for the next flush.

export class WriteBuffer<T> {
  private points: T[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inflight: Promise<void> = Promise.resolve();
  private failure: Error | null = null;

  constructor(
    private readonly write: (batch: T[]) => Promise<unknown>,
    private readonly flushMs: number,
    private readonly maxBatch = 500,
  ) {}

  push(p: T): void {
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
        await this.write(batch);
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

  /**
   * Waits for the flushes under way, then hands over what is still pending (and forgets it): the
   * caller writes those rows itself, e.g. in the statement that closes the attempt.
   */
  async drain(): Promise<T[]> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inflight;
    const rows = this.points;
    this.points = [];
    this.failure = null;
    return rows;
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.points.length > 0) await this.flush();
    if (this.failure) throw this.failure;
  }
}
