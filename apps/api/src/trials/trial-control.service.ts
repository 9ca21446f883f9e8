// Cancel and rerun: trial and sweep level. Postgres says what the state is; Redis carries the
// jobs and the cancel broadcast to whichever worker runs the trial.
import { ConflictException, Injectable, Logger, NotFoundException } from '@nestjs/common';
import { RunStatus, SweepRepository, TrialRepository } from '@lora/db';
import { LiveEventsService, TrainQueueService } from '@lora/queue';

const RERUNNABLE: RunStatus[] = [RunStatus.failed, RunStatus.cancelled, RunStatus.pruned, RunStatus.succeeded];

@Injectable()
export class TrialControlService {
  private readonly log = new Logger(TrialControlService.name);

  constructor(
    private readonly trials: TrialRepository,
    private readonly sweeps: SweepRepository,
    private readonly queue: TrainQueueService,
    private readonly live: LiveEventsService,
  ) {}

  private async cancelIds(sweepId: string, ids: string[], reason: string) {
    const cancelled = await this.trials.cancel(ids, reason);
    if (cancelled.length > 0) {
      const heardBy = await this.queue.cancel(cancelled, reason);
      this.log.log({ sweepId, trials: cancelled, workersNotified: heardBy }, 'cancelled');
    }
    await this.sweeps.refreshStatus(sweepId);
    await this.live.trialsChanged(sweepId, cancelled);
    return { cancelled };
  }

  async cancelTrial(id: string) {
    const t = await this.trials.findById(id);
    if (!t) throw new NotFoundException(`trial ${id} not found`);
    return this.cancelIds(t.sweepId, [id], 'cancelled by user');
  }

  async cancelSweep(id: string) {
    if (!(await this.sweeps.findStatus(id))) throw new NotFoundException(`sweep ${id} not found`);
    const rows = await this.trials.listBySweep(id);
    return this.cancelIds(
      id,
      rows.map((t) => t.id),
      'sweep cancelled by user',
    );
  }

  async rerunTrial(id: string) {
    const t = await this.trials.findById(id);
    if (!t) throw new NotFoundException(`trial ${id} not found`);
    if (!RERUNNABLE.includes(t.status)) {
      throw new ConflictException(`trial ${id} is ${t.status}; only finished trials (${RERUNNABLE.join(', ')}) can be rerun`);
    }
    await this.queue.assertNotActive(id);
    await this.trials.resetForRerun(id);
    await this.queue.requeue(t.sweepId, id, t.priority || undefined);
    await this.sweeps.refreshStatus(t.sweepId);
    await this.live.trialsChanged(t.sweepId, [id]);
    this.log.log({ sweepId: t.sweepId, trialId: id }, 'trial requeued');
    return { requeued: [id] };
  }

  async rerunFailed(sweepId: string) {
    if (!(await this.sweeps.findStatus(sweepId))) throw new NotFoundException(`sweep ${sweepId} not found`);
    const rows = await this.trials.listBySweep(sweepId, [RunStatus.failed, RunStatus.cancelled]);
    for (const t of rows) await this.queue.assertNotActive(t.id);
    for (const t of rows) {
      await this.trials.resetForRerun(t.id);
      await this.queue.requeue(sweepId, t.id, t.priority || undefined);
    }
    const failed = rows.map((t) => t.id);
    await this.sweeps.refreshStatus(sweepId);
    await this.live.trialsChanged(sweepId, failed);
    this.log.log({ sweepId, trials: failed }, 'failed trials requeued');
    return { requeued: failed };
  }
}
