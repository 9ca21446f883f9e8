// BullMQ glue for the train queue: one job = one attempt of one trial.
import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@lora/config';
import { QueueName, TRAIN_LOCK_DURATION_MS, type TrainTrialJobData } from '@lora/contracts';
import { DelayedError, Job, UnrecoverableError } from 'bullmq';
import { TrialConfigError, TrialRunner } from './trial-runner.service';

@Processor(QueueName.Train, { lockDuration: TRAIN_LOCK_DURATION_MS, autorun: true })
export class TrainProcessor extends WorkerHost implements OnModuleInit {
  private readonly log = new Logger(TrainProcessor.name);

  constructor(
    private readonly runner: TrialRunner,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
  }

  onModuleInit(): void {
    // One job per slot (a GPU, or a CPU share).
    this.worker.concurrency = this.config.worker.slots;
  }

  async process(job: Job<TrainTrialJobData>, token?: string): Promise<{ finalEvalLoss: number }> {
    const attempts = job.opts.attempts ?? 1;
    try {
      const r = await this.runner.run(job.data.trialId, {
        jobId: job.id ?? '',
        progress: (p) => job.updateProgress(p),
        lastAttempt: job.attemptsMade + 1 >= attempts,
      });
      if (r.throttled) {
        // The sweep is at budget.maxConcurrent: come back shortly, without spending an attempt.
        await job.moveToDelayed(Date.now() + 1000 + Math.floor(Math.random() * 1000), token);
        throw new DelayedError();
      }
      return r;
    } catch (e) {
      if (e instanceof DelayedError) throw e;
      if (e instanceof TrialConfigError) throw new UnrecoverableError(e.message);
      throw e;
    }
  }

  @OnWorkerEvent('failed')
  onFailed(job: Job<TrainTrialJobData> | undefined, err: Error): void {
    this.log.warn(
      { jobId: job?.id, sweepId: job?.data.sweepId, trialId: job?.data.trialId, attemptsMade: job?.attemptsMade, err: err.message },
      'job failed',
    );
  }
}
