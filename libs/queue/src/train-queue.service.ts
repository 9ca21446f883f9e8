// The one producer of train and plan jobs (used by the API and by the worker's plan step):
// callers hand it trials; it owns BullMQ job naming, options and flows.
import { InjectFlowProducer, InjectQueue } from '@nestjs/bullmq';
import { ConflictException, Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@lora/config';
import {
  cancelChannel,
  JobName,
  planJobId,
  QueueName,
  SWEEP_FLOW_PRODUCER,
  TRAIN_JOB_DEFAULTS,
  trainJobId,
  trainQueueFor,
  type CancelMessage,
  type PlanJobData,
  type SweepSpec,
  type TrainTrialJobData,
} from '@lora/contracts';
import { SweepRepository } from '@lora/db';
import type { FlowProducer, Job, Queue } from 'bullmq';

@Injectable()
export class TrainQueueService {
  private readonly byName: Map<string, Queue<TrainTrialJobData>>;

  constructor(
    @InjectQueue(QueueName.Train) private readonly queue: Queue<TrainTrialJobData>,
    @InjectQueue(QueueName.TrainGpu) gpu: Queue<TrainTrialJobData>,
    @InjectQueue(QueueName.TrainCpu) cpu: Queue<TrainTrialJobData>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectFlowProducer(SWEEP_FLOW_PRODUCER) private readonly flows: FlowProducer,
    private readonly sweeps: SweepRepository,
  ) {
    this.byName = new Map([queue, gpu, cpu].map((q) => [q.name, q]));
  }

  /** The queue and job payload extras a sweep's trials get from its `resources`. */
  private async route(sweepId: string): Promise<{ queue: Queue<TrainTrialJobData>; minMemoryMb?: number }> {
    const spec = (await this.sweeps.findSpec(sweepId))?.spec as unknown as Partial<SweepSpec> | undefined;
    const r = spec?.resources;
    return {
      queue: this.byName.get(trainQueueFor(r?.device ?? 'any'))!,
      minMemoryMb: r?.minMemoryGb ? Math.ceil(r.minMemoryGb * 1024) : undefined,
    };
  }

  /** A trial's train job, in whichever train queue it went to. */
  private async findJob(trialId: string): Promise<Job<TrainTrialJobData> | undefined> {
    for (const q of this.byName.values()) {
      const job = await q.getJob(trainJobId(trialId));
      if (job) return job;
    }
    return undefined;
  }

  /**
   * LoRA-drop: each probe trial is a child train job; its plan job (the parent) runs when the
   * probe ends, reads the stored importance and enqueues the full runs it plans.
   */
  async enqueueProbeFlows(sweepId: string, probes: Array<{ probeTrialId: string; trainTrialIds: string[] }>, priority?: number) {
    const route = await this.route(sweepId);
    for (const p of probes) {
      await this.flows.add({
        name: JobName.PlanLoraDrop,
        queueName: QueueName.Plan,
        data: { sweepId, probeTrialId: p.probeTrialId, trainTrialIds: p.trainTrialIds } satisfies PlanJobData,
        opts: { jobId: planJobId(p.probeTrialId), priority, removeOnComplete: TRAIN_JOB_DEFAULTS.removeOnComplete },
        children: [
          {
            name: JobName.TrainTrial,
            queueName: route.queue.name,
            data: { sweepId, trialId: p.probeTrialId, minMemoryMb: route.minMemoryMb } satisfies TrainTrialJobData,
            // A failed probe still lets the plan run: it then fails the full runs with the reason.
            opts: {
              ...TRAIN_JOB_DEFAULTS,
              jobId: trainJobId(p.probeTrialId),
              attempts: this.config.jobAttempts,
              priority,
              ignoreDependencyOnFailure: true,
            },
          },
        ],
      });
    }
  }

  async enqueueTrials(sweepId: string, trialIds: string[], priority?: number): Promise<void> {
    const route = await this.route(sweepId);
    await route.queue.addBulk(
      trialIds.map((trialId) => ({
        name: JobName.TrainTrial,
        data: { sweepId, trialId, minMemoryMb: route.minMemoryMb },
        opts: { ...TRAIN_JOB_DEFAULTS, jobId: trainJobId(trialId), attempts: this.config.jobAttempts, priority },
      })),
    );
  }

  /** Best-effort removal of jobs not yet taken (used when a submission is rolled back). */
  async removeTrials(trialIds: string[]): Promise<void> {
    await Promise.all(trialIds.flatMap((id) => [...this.byName.values()].map((q) => q.remove(trainJobId(id)).catch(() => 0))));
  }

  /**
   * Removes the trials' waiting jobs and tells every worker to abort the running ones (Redis
   * pub/sub); returns how many workers heard it.
   */
  async cancel(trialIds: string[], reason: string): Promise<number> {
    await this.removeTrials(trialIds);
    const client = (await this.queue.client) as unknown as { publish(channel: string, message: string): Promise<number> };
    const message: CancelMessage = { trialIds, reason };
    return client.publish(cancelChannel(this.config.redis.prefix), JSON.stringify(message));
  }

  /** Refuses (409) while the trial's job is still active on a worker. */
  async assertNotActive(trialId: string): Promise<void> {
    const job = await this.findJob(trialId);
    if (job && (await job.getState()) === 'active') {
      throw new ConflictException(`trial ${trialId} is still stopping on its worker (job active); retry in a few seconds`);
    }
  }

  /** Enqueues a fresh job for a trial that ran before (its old job, finished, is replaced). */
  async requeue(sweepId: string, trialId: string, priority?: number): Promise<void> {
    const old = await this.findJob(trialId);
    if (old) {
      const state = await old.getState();
      if (state === 'active') {
        throw new ConflictException(`trial ${trialId} is still stopping on its worker (job active); retry in a few seconds`);
      }
      await old.remove();
    }
    await this.enqueueTrials(sweepId, [trialId], priority);
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
