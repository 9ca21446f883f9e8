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
  type CancelMessage,
  type PlanJobData,
  type TrainTrialJobData,
} from '@lora/contracts';
import type { FlowProducer, Queue } from 'bullmq';

@Injectable()
export class TrainQueueService {
  constructor(
    @InjectQueue(QueueName.Train) private readonly queue: Queue<TrainTrialJobData>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectFlowProducer(SWEEP_FLOW_PRODUCER) private readonly flows: FlowProducer,
  ) {}

  /**
   * LoRA-drop: each probe trial is a child train job; its plan job (the parent) runs when the
   * probe ends, reads the stored importance and enqueues the full runs it plans.
   */
  async enqueueProbeFlows(sweepId: string, probes: Array<{ probeTrialId: string; trainTrialIds: string[] }>, priority?: number) {
    for (const p of probes) {
      await this.flows.add({
        name: JobName.PlanLoraDrop,
        queueName: QueueName.Plan,
        data: { sweepId, probeTrialId: p.probeTrialId, trainTrialIds: p.trainTrialIds } satisfies PlanJobData,
        opts: { jobId: planJobId(p.probeTrialId), priority, removeOnComplete: TRAIN_JOB_DEFAULTS.removeOnComplete },
        children: [
          {
            name: JobName.TrainTrial,
            queueName: QueueName.Train,
            data: { sweepId, trialId: p.probeTrialId } satisfies TrainTrialJobData,
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
    const job = await this.queue.getJob(trainJobId(trialId));
    if (job && (await job.getState()) === 'active') {
      throw new ConflictException(`trial ${trialId} is still stopping on its worker (job active); retry in a few seconds`);
    }
  }

  /** Enqueues a fresh job for a trial that ran before (its old job, finished, is replaced). */
  async requeue(sweepId: string, trialId: string, priority?: number): Promise<void> {
    const old = await this.queue.getJob(trainJobId(trialId));
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
