// BullMQ glue for the train queue: one job = one attempt of one trial. The BullMQ Worker is built
// here (not with @Processor) because its lock and stall settings come from the config:
// - a job's lock lasts JOB_LOCK_MS and is renewed every half of it while the trial runs (training
//   is in a thread, so the event loop is free to renew);
// - a worker that dies (kill -9, host gone) stops renewing; within JOB_LOCK_MS plus half of it
//   another worker's stall check puts the job back and the trial resumes from its checkpoint;
// - on SIGTERM the worker stops taking jobs, its trials checkpoint at their next step and go back
//   to the queue (no attempt spent), then it exits.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, BeforeApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, redisOptions, type AppConfig } from '@lora/config';
import { QueueName, type TrainTrialJobData } from '@lora/contracts';
import { DelayedError, Job, UnrecoverableError, Worker } from 'bullmq';
import { HeartbeatService } from '../fleet/heartbeat.service';
import { isConnectionError } from './db-retry';
import { TrialConfigError, TrialPreemptedError, TrialRunner } from './trial-runner.service';

/** A stalled job (its worker died) goes back to the queue this many times before BullMQ fails it. */
const MAX_STALLED = 20;

@Injectable()
export class TrainProcessor implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly log = new Logger(TrainProcessor.name);
  private worker: Worker<TrainTrialJobData> | null = null;

  constructor(
    private readonly runner: TrialRunner,
    private readonly heartbeat: HeartbeatService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.heartbeat.ready;
    const lock = this.config.jobLockMs;
    this.worker = new Worker<TrainTrialJobData>(QueueName.Train, (job, token) => this.process(job, token), {
      connection: redisOptions(this.config.redis.url),
      prefix: this.config.redis.prefix,
      // One job per slot (a GPU, or a CPU share).
      concurrency: this.config.worker.slots,
      lockDuration: lock,
      stalledInterval: Math.max(500, Math.floor(lock / 2)),
      maxStalledCount: MAX_STALLED,
    });
    this.worker.on('failed', (job, err) =>
      this.log.warn(
        { jobId: job?.id, sweepId: job?.data.sweepId, trialId: job?.data.trialId, attemptsMade: job?.attemptsMade, err: err.message },
        'job failed',
      ),
    );
    this.worker.on('stalled', (jobId) => this.log.warn({ jobId }, 'a stalled job (its worker stopped renewing the lock) was put back'));
    this.worker.on('error', (err) => this.log.warn({ err: err.message }, 'train worker error'));
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
      if (e instanceof TrialPreemptedError) {
        // Back to the queue at once for another worker, without spending an attempt.
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      if (e instanceof TrialConfigError) throw new UnrecoverableError(e.message);
      if (isConnectionError(e)) {
        // Postgres stayed unreachable past the write retries: try again later, no attempt spent.
        this.log.warn({ jobId: job.id, trialId: job.data.trialId, err: (e as Error).message }, 'database unreachable; job delayed');
        await job.moveToDelayed(Date.now() + 5000, token);
        throw new DelayedError();
      }
      throw e;
    }
  }

  /** SIGTERM: take no new job, hand the running trials back (checkpointed), then close. */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    if (!this.worker) return;
    const t0 = Date.now();
    // Preempt first (the threads stop at their next step), then stop fetching: a job fetched in
    // between goes straight back (the runner refuses work while draining).
    const n = this.runner.preemptAll(`worker ${signal ?? 'shutdown'}: draining`);
    await Promise.all([this.heartbeat.draining(), this.worker.pause(true)]);
    await this.worker.close();
    this.log.log({ signal, preempted: n, ms: Date.now() - t0 }, 'train worker drained');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.worker?.close();
  }
}
