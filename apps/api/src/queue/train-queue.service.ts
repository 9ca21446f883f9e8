// The one producer of train jobs. Callers hand it trials; it owns BullMQ job naming and options.
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@lora/config';
import { JobName, QueueName, TRAIN_JOB_DEFAULTS, trainJobId, type TrainTrialJobData } from '@lora/contracts';
import type { Queue } from 'bullmq';

@Injectable()
export class TrainQueueService {
  constructor(
    @InjectQueue(QueueName.Train) private readonly queue: Queue<TrainTrialJobData>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async enqueueTrials(sweepId: string, trialIds: string[], priority?: number): Promise<void> {
    await this.queue.addBulk(
      trialIds.map((trialId) => ({
        name: JobName.TrainTrial,
        data: { sweepId, trialId },
        opts: { ...TRAIN_JOB_DEFAULTS, jobId: trainJobId(trialId), attempts: this.config.jobAttempts, priority },
      })),
    );
  }

  /** Best-effort removal of jobs not yet taken (used when a submission is rolled back). */
  async removeTrials(trialIds: string[]): Promise<void> {
    await Promise.all(trialIds.map((id) => this.queue.remove(trainJobId(id)).catch(() => 0)));
  }

  counts() {
    return this.queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'paused');
  }

  async ping(): Promise<void> {
    // BullMQ types its client narrowly; it is an ioredis instance.
    const client = (await this.queue.client) as unknown as { ping(): Promise<string> };
    await client.ping();
  }
}
