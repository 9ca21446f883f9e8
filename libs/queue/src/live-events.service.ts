// Publishes live events (trial and sweep state, metric points, log lines, "refetch" hints) on the
// sweep's Redis channel, for API hosts to stream to dashboards. Best effort: a failed publish is
// logged and dropped, never failing the training or the request that caused it, because the
// dashboard re-reads Postgres (the record) whenever its stream reconnects.
// Sweep events (status and progress, a recount of the sweep's trials) are coalesced per process:
// at most one per sweep per LIVE_SWEEP_EVENT_MS, read when it is sent, so the last one always
// carries the state after the last change while a busy sweep costs one recount per window.
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@lora/config';
import { eventsChannel, QueueName, type LiveEvent, type LiveLogLine, type LiveMetricPoint } from '@lora/contracts';
import { SweepRepository, TrialRepository } from '@lora/db';
import type { Queue } from 'bullmq';

type Publisher = { publish(channel: string, message: string): Promise<number> };

@Injectable()
export class LiveEventsService implements OnApplicationShutdown {
  private readonly log = new Logger(LiveEventsService.name);
  /** Sweeps with a sweep event scheduled (the window's timer). */
  private readonly pending = new Map<string, NodeJS.Timeout>();
  /** Sweep events being read and published now. */
  private readonly sending = new Set<Promise<void>>();

  constructor(
    @InjectQueue(QueueName.Train) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly sweeps: SweepRepository,
    private readonly trials: TrialRepository,
  ) {}

  async publish(event: LiveEvent): Promise<void> {
    try {
      // BullMQ types its client narrowly; it is an ioredis instance (not in subscriber mode).
      const client = (await this.queue.client) as unknown as Publisher;
      await client.publish(eventsChannel(this.config.redis.prefix, event.sweepId), JSON.stringify(event));
    } catch (e) {
      this.log.warn({ sweepId: event.sweepId, type: event.type, err: (e as Error).message }, 'live event not published');
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
      for (const trial of rows) await this.publish({ type: 'trial', sweepId, trial: JSON.parse(JSON.stringify(trial)) });
    } catch (e) {
      this.log.warn({ sweepId, err: (e as Error).message }, 'trial events not published');
    }
    await this.sweepChanged(sweepId);
  }

  /** After one trial changed state, with the row its write returned: publishes it, schedules the sweep's event. */
  async trialChanged(sweepId: string, trial: object): Promise<void> {
    await this.publish({ type: 'trial', sweepId, trial: JSON.parse(JSON.stringify(trial)) });
    await this.sweepChanged(sweepId);
  }

  /**
   * The sweep's status or progress changed: its event goes out at the end of the current window
   * (LIVE_SWEEP_EVENT_MS; at once when 0), with the state read then. Changes inside one window
   * share that event; a change after the read has started gets a window of its own.
   */
  sweepChanged(sweepId: string): Promise<void> {
    const ms = this.config.liveSweepEventMs;
    if (ms <= 0) return this.sendSweep(sweepId);
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

  /** Sends the scheduled sweep events now (used at shutdown, so the last state is not lost). */
  async flush(): Promise<void> {
    const ids = [...this.pending.keys()];
    for (const id of ids) clearTimeout(this.pending.get(id));
    this.pending.clear();
    await Promise.all([...ids.map((id) => this.sendSweep(id)), ...this.sending]);
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
