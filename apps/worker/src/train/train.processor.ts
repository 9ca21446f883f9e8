// BullMQ glue for the train queue: one job = one attempt of one trial. The BullMQ Worker is built
// here (not with @Processor) because its lock and stall settings come from the config:
// - a job's lock lasts JOB_LOCK_MS and is renewed every half of it while the trial runs (training
//   is in a thread, so the event loop is free to renew);
// - a worker that dies (kill -9, host gone) stops renewing; within JOB_LOCK_MS plus half of it
//   another worker's stall check puts the job back and the trial resumes from its checkpoint;
// - on SIGTERM the worker stops taking jobs, its trials checkpoint at their next step and go back
//   to the queue (no attempt spent), then it exits.
// Routing: a worker takes jobs from the shared `train` queue and from its device class's queue
// (`train-gpu` or `train-cpu`), sharing its slots between them; a job needing more memory than
// this worker has goes back for another worker.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, BeforeApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, redisOptions, type AppConfig } from '@lora/config';
import { QueueName, trainQueueFor, type TrainTrialJobData } from '@lora/contracts';
import { DelayedError, Job, UnrecoverableError, Worker } from 'bullmq';
import { HeartbeatService } from '../fleet/heartbeat.service';
import { isConnectionError } from './db-retry';
import { TrialConfigError, TrialPreemptedError, TrialRunner } from './trial-runner.service';

/** A stalled job (its worker died) goes back to the queue this many times before BullMQ fails it. */
const MAX_STALLED = 20;
/**
 * A queue that gave this worker a job within this long counts as busy: while the slots are full
 * it is paused, so that it does not fetch jobs only to hand them back. One that has not (say, an
 * empty device queue) is left blocked on its empty list instead: each pause/resume costs BullMQ a
 * stalled-jobs scan at the resume, on every job; its first job fetched while the slots are full
 * goes back once, and from then on it is paused like the others.
 */
const ACTIVE_QUEUE_MS = 60_000;

@Injectable()
export class TrainProcessor implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly log = new Logger(TrainProcessor.name);
  private workers: Array<Worker<TrainTrialJobData>> = [];
  /** Jobs running now, over both queues (at most the worker's slots). */
  private busy = 0;
  /** Jobs running now per BullMQ Worker (queue). */
  private readonly running = new Map<Worker<TrainTrialJobData>, number>();
  /** When each BullMQ Worker (queue) last fetched a job. */
  private readonly lastFetch = new Map<Worker<TrainTrialJobData>, number>();
  private readonly tooBig = new Set<string>();
  private draining = false;

  constructor(
    private readonly runner: TrialRunner,
    private readonly heartbeat: HeartbeatService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.heartbeat.ready;
    const lock = this.config.jobLockMs;
    for (const queue of [QueueName.Train, trainQueueFor(this.heartbeat.deviceClass)]) {
      const worker: Worker<TrainTrialJobData> = new Worker<TrainTrialJobData>(queue, (job, token) => this.process(job, token, worker), {
        connection: redisOptions(this.config.redis.url),
        prefix: this.config.redis.prefix,
        // One job per slot (a GPU, or a CPU share); the slots are shared by both queues.
        concurrency: this.config.worker.slots,
        lockDuration: lock,
        stalledInterval: Math.max(500, Math.floor(lock / 2)),
        maxStalledCount: MAX_STALLED,
      });
      worker.on('failed', (job, err) =>
        this.log.warn(
          {
            queue,
            jobId: job?.id,
            sweepId: job?.data.sweepId,
            trialId: job?.data.trialId,
            attemptsMade: job?.attemptsMade,
            err: err.message,
          },
          'job failed',
        ),
      );
      worker.on('stalled', (jobId) => this.log.warn({ queue, jobId }, 'a stalled job (its worker stopped renewing the lock) was put back'));
      worker.on('error', (err) => this.log.warn({ queue, err: err.message }, 'train worker error'));
      this.workers.push(worker);
    }
    this.log.log(
      {
        queues: this.workers.map((w) => w.name),
        slots: this.config.worker.slots,
        memoryMb: this.heartbeat.memoryMb,
        trainer: this.config.worker.trainer,
      },
      'taking train jobs',
    );
    if (this.config.worker.trainer === 'noop')
      this.log.warn('WORKER_TRAINER=noop: trials are NOT trained (one recorded step each); for benchmarks only');
  }

  /** Puts a job back for later (or for another worker) without spending one of its attempts. */
  private async handBack(job: Job<TrainTrialJobData>, token: string | undefined, delayMs: number): Promise<never> {
    await job.moveToDelayed(Date.now() + delayMs, token);
    throw new DelayedError();
  }

  /** `from`: the BullMQ Worker that fetched the job (absent in unit tests). */
  async process(job: Job<TrainTrialJobData>, token?: string, from?: Worker<TrainTrialJobData>): Promise<{ finalEvalLoss: number }> {
    if (from) this.lastFetch.set(from, Date.now());
    const need = job.data.minMemoryMb;
    if (need && need > this.heartbeat.memoryMb) {
      if (!this.tooBig.has(job.id ?? '')) {
        this.tooBig.add(job.id ?? '');
        this.log.warn(
          { jobId: job.id, trialId: job.data.trialId, needMb: need, haveMb: this.heartbeat.memoryMb },
          'job needs more memory than this worker has; handed back',
        );
      }
      return this.handBack(job, token, 2000 + Math.floor(Math.random() * 2000));
    }
    // Both queues' workers share the slots: a job that finds them full goes back at once.
    if (this.busy >= this.config.worker.slots) return this.handBack(job, token, 200 + Math.floor(Math.random() * 300));
    this.busy++;
    if (from) this.running.set(from, (this.running.get(from) ?? 0) + 1);
    // Slots full: stop fetching on the busy queues that could still fetch (the rare job fetched
    // in the meantime goes back). A Worker running as many jobs as the slots fetches nothing more
    // by itself; pausing and resuming it on every job (1 slot) cost more than the job's
    // bookkeeping. A queue idle for ACTIVE_QUEUE_MS stays blocked on its empty list.
    if (this.busy >= this.config.worker.slots) {
      const now = Date.now();
      for (const w of this.workers)
        if (
          !w.isPaused() &&
          (this.running.get(w) ?? 0) < this.config.worker.slots &&
          now - (this.lastFetch.get(w) ?? -Infinity) < ACTIVE_QUEUE_MS
        )
          void w.pause(true).catch(() => undefined);
    }
    try {
      return await this.runJob(job, token);
    } finally {
      this.busy--;
      if (from) this.running.set(from, (this.running.get(from) ?? 1) - 1);
      if (!this.draining) for (const w of this.workers) if (w.isPaused()) w.resume();
    }
  }

  private async runJob(job: Job<TrainTrialJobData>, token?: string): Promise<{ finalEvalLoss: number }> {
    const attempts = job.opts.attempts ?? 1;
    try {
      const r = await this.runner.run(job.data.trialId, {
        jobId: job.id ?? '',
        sweepId: job.data.sweepId,
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
    if (this.workers.length === 0) return;
    const t0 = Date.now();
    // Preempt first (the threads stop at their next step), then stop fetching: a job fetched in
    // between goes straight back (the runner refuses work while draining).
    this.draining = true;
    const n = this.runner.preemptAll(`worker ${signal ?? 'shutdown'}: draining`);
    await Promise.all([this.heartbeat.draining(), ...this.workers.map((w) => w.pause(true))]);
    await Promise.all(this.workers.map((w) => w.close()));
    this.log.log({ signal, preempted: n, ms: Date.now() - t0 }, 'train worker drained');
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}
