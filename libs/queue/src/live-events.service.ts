// Publishes live events (trial and sweep state, metric points, log lines, "refetch" hints) on the
// sweep's Redis channel, for API hosts to stream to dashboards. Best effort: a failed publish is
// logged and dropped, never failing the training or the request that caused it, because the
// dashboard re-reads Postgres (the record) whenever its stream reconnects.
// Sweep events (status and progress, a recount of the sweep's trials) are coalesced per process:
// at most one per sweep per LIVE_SWEEP_EVENT_MS, read when it is sent, so the last one always
// carries the state after the last change while a busy sweep costs one recount per window.
// Every event is batched per process: those published within LIVE_EVENT_BATCH_MS go to Redis as
// one pipeline, in publish order (a fast trial's five events cost one round trip, not five).
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@lora/config';
import { eventsChannel, QueueName, type LiveEvent, type LiveLogLine, type LiveMetricPoint } from '@lora/contracts';
import { SweepRepository, TrialRepository } from '@lora/db';
import type { Queue } from 'bullmq';

type TrialRow = Extract<LiveEvent, { type: 'trial' }>['trial'];

type Publisher = {
  pipeline(): { publish(channel: string, message: string): unknown; exec(): Promise<unknown> };
  publish(channel: string, message: string): Promise<number>;
};

@Injectable()
export class LiveEventsService implements OnApplicationShutdown {
  private readonly log = new Logger(LiveEventsService.name);
  /** Sweeps with a sweep event scheduled (the window's timer). */
  private readonly pending = new Map<string, NodeJS.Timeout>();
  /** Sweep events being read and published now. */
  private readonly sending = new Set<Promise<void>>();
  /** Events waiting for the batch window to close, in publish order. */
  private batch: Array<{ channel: string; message: string; sweepId: string; type: string }> = [];
  /** The open batch's timer and the promise its send settles. */
  private batchTimer: NodeJS.Timeout | null = null;
  private batchSent: Promise<void> | null = null;
  private resolveBatch: (() => void) | null = null;
  /** Set by flush(): from then on events are sent at once. */
  private stopping = false;

  constructor(
    @InjectQueue(QueueName.Train) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly sweeps: SweepRepository,
    private readonly trials: TrialRepository,
  ) {}

  /**
   * Publishes an event on its sweep's channel. Resolves once it was handed to Redis (or dropped
   * with a warning): never rejects. Within a batch window the events go out together, in order.
   */
  publish(event: LiveEvent): Promise<void> {
    const item = {
      channel: eventsChannel(this.config.redis.prefix, event.sweepId),
      message: JSON.stringify(event),
      sweepId: event.sweepId,
      type: event.type,
    };
    const ms = this.config.liveEventBatchMs;
    if (!ms || this.stopping) return this.send([item]);
    this.batch.push(item);
    if (!this.batchSent) {
      this.batchSent = new Promise<void>((resolve) => (this.resolveBatch = resolve));
      this.batchTimer = setTimeout(() => void this.sendBatch(), ms);
      this.batchTimer.unref();
    }
    return this.batchSent;
  }

  /** Sends the open batch now (its window closed, or the process is stopping). */
  private async sendBatch(): Promise<void> {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    const items = this.batch;
    const resolve = this.resolveBatch;
    this.batch = [];
    this.batchTimer = null;
    this.batchSent = null;
    this.resolveBatch = null;
    if (items.length > 0) await this.send(items);
    resolve?.();
  }

  private async send(items: Array<{ channel: string; message: string; sweepId: string; type: string }>): Promise<void> {
    try {
      // BullMQ types its client narrowly; it is an ioredis instance (not in subscriber mode).
      const client = (await this.queue.client) as unknown as Publisher;
      if (items.length === 1) {
        await client.publish(items[0].channel, items[0].message);
        return;
      }
      const p = client.pipeline();
      for (const i of items) p.publish(i.channel, i.message);
      // A pipeline's commands fail one by one; a publish only fails with the connection (caught below).
      await p.exec();
    } catch (e) {
      const sweeps = [...new Set(items.map((i) => i.sweepId))];
      this.log.warn(
        { sweepIds: sweeps, events: items.length, types: [...new Set(items.map((i) => i.type))], err: (e as Error).message },
        'live events not published',
      );
    }
  }

  metrics(sweepId: string, trialId: string, points: LiveMetricPoint[]): Promise<void> {
    return points.length === 0 ? Promise.resolve() : this.publish({ type: 'metrics', sweepId, trialId, points });
  }

  logs(sweepId: string, trialId: string, lines: LiveLogLine[]): Promise<void> {
    return lines.length === 0 ? Promise.resolve() : this.publish({ type: 'log', sweepId, trialId, lines });
  }

  hint(type: 'importance' | 'ranks' | 'checkpoint', sweepId: string, trialId: string): Promise<void> {
    return this.publish({ type, sweepId, trialId });
  }

  /** After trials changed state: publishes each trial's row (read here), then schedules the sweep's event. */
  async trialsChanged(sweepId: string, trialIds: string[]): Promise<void> {
    try {
      const rows = trialIds.length > 0 ? await this.trials.findManyByIds(trialIds) : [];
      // The row goes out as JSON (dates as ISO strings): serialised once, when published.
      for (const trial of rows) await this.publish({ type: 'trial', sweepId, trial });
    } catch (e) {
      this.log.warn({ sweepId, err: (e as Error).message }, 'trial events not published');
    }
    await this.sweepChanged(sweepId);
  }

  /** After one trial changed state, with the row its write returned: publishes it, schedules the sweep's event. */
  async trialChanged(sweepId: string, trial: object): Promise<void> {
    // The sweep's event is scheduled now, not once the trial's batch has gone out.
    await Promise.all([this.publish({ type: 'trial', sweepId, trial: trial as TrialRow }), this.sweepChanged(sweepId)]);
  }

  /**
   * The sweep's status or progress changed: its event goes out at the end of the current window
   * (LIVE_SWEEP_EVENT_MS; at once when 0), with the state read then. Changes inside one window
   * share that event; a change after the read has started gets a window of its own.
   */
  sweepChanged(sweepId: string): Promise<void> {
    const ms = this.config.liveSweepEventMs;
    if (ms <= 0 || this.stopping) return this.sendSweep(sweepId);
    if (this.pending.has(sweepId)) return Promise.resolve();
    const timer = setTimeout(() => {
      this.pending.delete(sweepId);
      const p = this.sendSweep(sweepId).finally(() => this.sending.delete(p));
      this.sending.add(p);
    }, ms);
    timer.unref();
    this.pending.set(sweepId, timer);
    return Promise.resolve();
  }

  /** At shutdown: sends the scheduled sweep events and the open batch now, and later events at once. */
  async flush(): Promise<void> {
    const ids = [...this.pending.keys()];
    for (const id of ids) clearTimeout(this.pending.get(id));
    this.pending.clear();
    this.stopping = true;
    await Promise.all([...ids.map((id) => this.sendSweep(id)), ...this.sending, this.sendBatch()]);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.flush();
  }

  private async sendSweep(sweepId: string): Promise<void> {
    try {
      const [sweep, progress] = await Promise.all([this.sweeps.findStatus(sweepId), this.sweeps.progress(sweepId)]);
      if (sweep) await this.publish({ type: 'sweep', sweepId, status: sweep.status, progress });
    } catch (e) {
      this.log.warn({ sweepId, err: (e as Error).message }, 'sweep event not published');
    }
  }
}
