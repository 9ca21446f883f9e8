// Publishes live events (trial and sweep state, metric points, log lines, "refetch" hints) on the
// sweep's Redis channel, for API hosts to stream to dashboards. Best effort: a failed publish is
// logged and dropped, never failing the training or the request that caused it, because the
// dashboard re-reads Postgres (the record) whenever its stream reconnects.
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@lora/config';
import { eventsChannel, QueueName, type LiveEvent, type LiveLogLine, type LiveMetricPoint } from '@lora/contracts';
import { SweepRepository, TrialRepository } from '@lora/db';
import type { Queue } from 'bullmq';

type Publisher = { publish(channel: string, message: string): Promise<number> };

@Injectable()
export class LiveEventsService {
  private readonly log = new Logger(LiveEventsService.name);

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

  /** After trials changed state: publishes each trial's row, then the sweep's status and progress. */
  async trialsChanged(sweepId: string, trialIds: string[]): Promise<void> {
    try {
      const rows = trialIds.length > 0 ? await this.trials.findManyByIds(trialIds) : [];
      for (const trial of rows) await this.publish({ type: 'trial', sweepId, trial: JSON.parse(JSON.stringify(trial)) });
      await this.sweepChanged(sweepId);
    } catch (e) {
      this.log.warn({ sweepId, err: (e as Error).message }, 'trial events not published');
    }
  }

  async sweepChanged(sweepId: string): Promise<void> {
    try {
      const [sweep, progress] = await Promise.all([this.sweeps.findStatus(sweepId), this.sweeps.progress(sweepId)]);
      if (sweep) await this.publish({ type: 'sweep', sweepId, status: sweep.status, progress });
    } catch (e) {
      this.log.warn({ sweepId, err: (e as Error).message }, 'sweep event not published');
    }
  }
}
