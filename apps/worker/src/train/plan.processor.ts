// LoRA-drop's plan step: runs when its probe trial ends (the probe is this flow job's child),
// turns the stored importance into a selection per full run (threshold or top-n), records the
// plans, and enqueues the full runs that use them.
import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { selectImportantModules } from '@lora/adapters';
import { loraDropRule, QueueName, type PlanJobData, type TrialHyperparams } from '@lora/contracts';
import { ImportanceRepository, PlanRepository, RunStatus, SweepRepository, TrialRepository } from '@lora/db';
import { LiveEventsService, TrainQueueService } from '@lora/queue';
import type { Job } from 'bullmq';

@Processor(QueueName.Plan)
export class PlanProcessor extends WorkerHost {
  private readonly log = new Logger(PlanProcessor.name);

  constructor(
    private readonly trials: TrialRepository,
    private readonly sweeps: SweepRepository,
    private readonly importance: ImportanceRepository,
    private readonly plans: PlanRepository,
    private readonly queue: TrainQueueService,
    private readonly live: LiveEventsService,
  ) {
    super();
  }

  async process(job: Job<PlanJobData>): Promise<{ planned: number }> {
    const { sweepId, probeTrialId, trainTrialIds } = job.data;
    const bindings = { sweepId, probeTrialId, jobId: job.id };
    const probe = await this.trials.findById(probeTrialId);
    const rows = await this.importance.list(probeTrialId);
    if (!probe || probe.status !== RunStatus.succeeded || rows.length === 0) {
      const reason = `LoRA-drop probe ${probeTrialId} ${probe ? probe.status : 'is gone'}${probe?.error ? `: ${probe.error}` : ''}; nothing to plan from`;
      const failed = await this.trials.failMany(trainTrialIds, reason);
      await this.sweeps.refreshStatus(sweepId);
      await this.live.trialsChanged(sweepId, failed);
      this.log.warn({ ...bindings, failed, reason }, 'plan failed');
      return { planned: 0 };
    }
    const byRule = new Map<string, string>();
    const ready: string[] = [];
    for (const id of trainTrialIds) {
      const t = await this.trials.findById(id);
      if (!t || t.status !== RunStatus.queued) continue; // cancelled meanwhile
      const rule: { threshold?: number; topN?: number } = loraDropRule((t.hyperparams as unknown as TrialHyperparams).knobs);
      const key = JSON.stringify(rule);
      let planId = byRule.get(key);
      if (!planId) {
        const selected = selectImportantModules(rows, rule);
        const plan = await this.plans.create({
          sweepId,
          probeTrialId,
          threshold: rule.threshold ?? null,
          topN: rule.topN ?? null,
          selected,
        });
        planId = plan.id;
        byRule.set(key, planId);
        this.log.log({ ...bindings, planId, rule, selected }, 'LoRA-drop plan');
      }
      await this.trials.updateTrial(id, { planId });
      ready.push(id);
    }
    if (ready.length > 0) await this.queue.enqueueTrials(sweepId, ready, probe.priority || undefined);
    await this.live.trialsChanged(sweepId, ready);
    await this.live.hint('importance', sweepId, probeTrialId);
    return { planned: ready.length };
  }
}
