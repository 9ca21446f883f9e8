// Re-planning a LoRA-drop probe: a new selection (threshold or top-n) from the importance the
// probe already stored — no new probe run — and a new full run that trains it.
import { BadRequestException, ConflictException, Injectable, Logger, NotFoundException } from '@nestjs/common';
import { selectImportantModules } from '@lora/adapters';
import type { TrialHyperparams } from '@lora/contracts';
import { ImportanceRepository, PlanRepository, Prisma, RunStatus, SweepRepository, TrialRepository } from '@lora/db';
import { LiveEventsService, TrainQueueService } from '@lora/queue';

@Injectable()
export class ReplanService {
  private readonly log = new Logger(ReplanService.name);

  constructor(
    private readonly trials: TrialRepository,
    private readonly sweeps: SweepRepository,
    private readonly importance: ImportanceRepository,
    private readonly plans: PlanRepository,
    private readonly queue: TrainQueueService,
    private readonly live: LiveEventsService,
  ) {}

  async replan(probeId: string, rule: { threshold?: number; topN?: number }) {
    const probe = await this.trials.findById(probeId);
    if (!probe) throw new NotFoundException(`trial ${probeId} not found`);
    if (probe.kind !== 'probe')
      throw new BadRequestException({
        statusCode: 400,
        message: `trial ${probeId} is not a LoRA-drop probe`,
        errors: [{ field: 'id', message: 'not a probe trial' }],
      });
    const rows = await this.importance.list(probeId);
    if (probe.status !== RunStatus.succeeded || rows.length === 0)
      throw new ConflictException(`probe ${probeId} is ${probe.status}; it has no importance to plan from yet`);
    const previous = await this.plans.listForProbe(probeId);
    const template = await this.trials.findOneByPlans(previous.map((p) => p.id));
    if (!template) throw new ConflictException(`no full run of probe ${probeId} exists to take settings from`);
    const selected = selectImportantModules(rows, rule);
    const plan = await this.plans.create({
      sweepId: probe.sweepId,
      probeTrialId: probeId,
      threshold: rule.threshold ?? null,
      topN: rule.topN ?? null,
      selected,
    });
    const hp = template.hyperparams as unknown as TrialHyperparams;
    const knobs = { ...hp.knobs, threshold: rule.threshold, topN: rule.topN };
    const trial = await this.trials.addToSweep(probe.sweepId, {
      variant: 'loradrop',
      kind: 'train',
      planId: plan.id,
      priority: template.priority,
      hyperparams: JSON.parse(JSON.stringify({ ...hp, knobs })) as Prisma.InputJsonValue,
    });
    await this.queue.enqueueTrials(probe.sweepId, [trial.id], template.priority || undefined);
    await this.sweeps.refreshStatus(probe.sweepId);
    await this.live.trialsChanged(probe.sweepId, [trial.id]);
    this.log.log({ sweepId: probe.sweepId, probeTrialId: probeId, planId: plan.id, trialId: trial.id, selected }, 'LoRA-drop re-planned');
    return { plan, trial };
  }
}
