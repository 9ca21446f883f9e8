// Sweep submission and reads: validates against the catalog, writes Sweep + Trials in one
// transaction, then enqueues one train job per trial (rolled back if Redis refuses).
import { ConflictException, Injectable, Logger, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { CatalogRepository, Prisma, progressOf, SweepRepository, type SweepProgress } from '@lora/db';
import { gpt2ModulePaths, selectModules, type FieldError, type SweepSpec } from '@lora/contracts';
import { expandSweep, planProbes, SweepExpansionError } from '@lora/orchestration';
import { isDeepStrictEqual } from 'node:util';
import { ValidationFailed } from '../common/zod-validation.pipe';
import { TrainQueueService } from '@lora/queue';

/** GET /sweeps/:id and POST /sweeps (documented in sweep.openapi.ts). */
export type SweepSummary = NonNullable<Awaited<ReturnType<SweepRepository['findSummary']>>> & {
  progress: SweepProgress;
  best: Awaited<ReturnType<SweepRepository['best']>>;
};

@Injectable()
export class SweepsService {
  private readonly log = new Logger(SweepsService.name);

  constructor(
    private readonly sweeps: SweepRepository,
    private readonly catalog: CatalogRepository,
    private readonly queue: TrainQueueService,
  ) {}

  /** Returns the sweep and whether it was created now (false: an idempotent replay). */
  async submit(spec: SweepSpec, idempotencyKey?: string) {
    if (idempotencyKey) {
      const existing = await this.replay(spec, idempotencyKey);
      if (existing) return { created: false, sweep: existing };
    }
    const [baseModel, dataset] = await Promise.all([
      this.catalog.findBaseModelByName(spec.baseModel),
      this.catalog.findDatasetByName(spec.dataset),
    ]);
    const errors: FieldError[] = [];
    if (!baseModel) {
      const known = (await this.catalog.listBaseModels()).map((m) => m.name);
      errors.push({ field: 'baseModel', message: `unknown base model "${spec.baseModel}"; registered: ${known.join(', ') || 'none'}` });
    }
    if (!dataset) {
      const known = (await this.catalog.listDatasets()).map((d) => d.name);
      errors.push({ field: 'dataset', message: `unknown dataset "${spec.dataset}"; registered: ${known.join(', ') || 'none'}` });
    }
    if (baseModel) errors.push(...this.checkAgainstModel(spec, baseModel.config as Record<string, unknown>));
    let planned;
    try {
      planned = expandSweep(spec);
    } catch (e) {
      if (!(e instanceof SweepExpansionError)) throw e;
      errors.push({ field: e.field, message: e.message });
    }
    if (errors.length > 0 || !baseModel || !dataset || !planned) throw new ValidationFailed(errors, 'sweep');

    // LoRA-drop runs wait for their probe's plan: probes are trials of their own (kind 'probe').
    const probes = planProbes(planned);
    let created;
    try {
      created = await this.sweeps.createWithTrials({
        name: spec.name ?? `${spec.variants.join('+')} on ${spec.dataset}`,
        baseModelId: baseModel.id,
        datasetId: dataset.id,
        spec: spec as unknown as Prisma.InputJsonValue,
        idempotencyKey,
        priority: spec.priority,
        maxConcurrent: spec.budget.maxConcurrent,
        trials: [
          ...planned.map((t) => ({
            index: t.index,
            variant: t.variant,
            hyperparams: t.hyperparams as unknown as Prisma.InputJsonValue,
          })),
          ...probes.map((p) => ({
            index: p.index,
            variant: p.hyperparams.variant,
            kind: 'probe',
            hyperparams: p.hyperparams as unknown as Prisma.InputJsonValue,
          })),
        ],
      });
    } catch (e) {
      // Two concurrent requests with one key: the loser returns the winner's sweep.
      if (idempotencyKey && e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2002') {
        const existing = await this.replay(spec, idempotencyKey);
        if (existing) return { created: false, sweep: existing };
        // The winner rolled back (its enqueue failed) between our insert and the replay.
        throw new ConflictException(
          `Idempotency-Key "${idempotencyKey}" is in use by a concurrent submission that did not complete; retry`,
        );
      }
      throw e;
    }
    const trialIds = created.trials.map((t) => t.id);
    const idOf = new Map(created.trials.map((t) => [t.index, t.id]));
    const waiting = new Set(probes.flatMap((p) => [p.index, ...p.trainIndexes]));
    try {
      const now = created.trials.filter((t) => !waiting.has(t.index)).map((t) => t.id);
      if (now.length > 0) await this.queue.enqueueTrials(created.sweep.id, now, spec.priority || undefined);
      if (probes.length > 0) {
        await this.queue.enqueueProbeFlows(
          created.sweep.id,
          probes.map((p) => ({ probeTrialId: idOf.get(p.index)!, trainTrialIds: p.trainIndexes.map((i) => idOf.get(i)!) })),
          spec.priority || undefined,
        );
      }
    } catch (e) {
      this.log.error({ sweepId: created.sweep.id, err: e }, 'enqueue failed; rolling the sweep back');
      await this.queue.removeTrials(trialIds);
      await this.sweeps.delete(created.sweep.id);
      throw new ServiceUnavailableException(`the job queue is unavailable (${(e as Error).message}); nothing was saved, retry later`);
    }
    this.log.log({ sweepId: created.sweep.id, trials: trialIds.length }, 'sweep submitted');
    return { created: true, sweep: await this.get(created.sweep.id) };
  }

  private async replay(spec: SweepSpec, key: string) {
    const existing = await this.sweeps.findByIdempotencyKey(key);
    if (!existing) return null;
    if (!isDeepStrictEqual(JSON.parse(JSON.stringify(spec)), existing.spec)) {
      throw new ConflictException(`Idempotency-Key "${key}" was already used for a different sweep body (sweep ${existing.id})`);
    }
    return this.get(existing.id);
  }

  private checkAgainstModel(spec: SweepSpec, config: Record<string, unknown>): FieldError[] {
    const errors: FieldError[] = [];
    const nLayer = Number(config.n_layer ?? 0);
    const nPositions = Number(config.n_positions ?? 0);
    const paths = gpt2ModulePaths(nLayer);
    spec.searchSpace.targetModules.forEach((targets, i) =>
      targets.forEach((t, j) => {
        if (selectModules(paths, [t]).length === 0) {
          errors.push({
            field: `searchSpace.targetModules.${i}.${j}`,
            message: `"${t}" matches no module of ${spec.baseModel}; modules are like transformer.h.0.attn.c_attn (targets: c_attn, c_proj, c_fc, attn.c_proj, mlp.c_proj)`,
          });
        }
      }),
    );
    if (nPositions > 0 && spec.training.seqLen > nPositions) {
      errors.push({ field: 'training.seqLen', message: `${spec.training.seqLen} exceeds the model's context of ${nPositions} positions` });
    }
    return errors;
  }

  /**
   * The sweep's summary: its fields, model and dataset names, trial counts per status (one GROUP
   * BY) and the best trial by its metric (one ORDER BY … LIMIT 1). No trials: those are paged at
   * GET /sweeps/:id/trials (returning all of them made this 390 kB and ~25 ms at 500 trials).
   */
  async get(id: string): Promise<SweepSummary> {
    const [sweep, progress] = await Promise.all([this.sweeps.findSummary(id), this.sweeps.progress(id)]);
    if (!sweep) throw new NotFoundException(`sweep ${id} not found`);
    const best = await this.sweeps.best(id, sweep.metric, sweep.metricMode === 'max' ? 'max' : 'min');
    return { ...sweep, progress, best };
  }

  async list(take: number, skip: number) {
    const [items, total] = await this.sweeps.list({ take, skip });
    const counts = await this.sweeps.statusCounts(items.map((s) => s.id));
    return { total, items: items.map((s) => ({ ...s, progress: progressOf(counts.get(s.id) ?? {}) })) };
  }

  /** A page of the sweep's trials in index order. */
  async trials(id: string, take: number, skip: number) {
    const [sweep, [items, total]] = await Promise.all([this.sweeps.findStatus(id), this.sweeps.trialsPage(id, take, skip)]);
    if (!sweep) throw new NotFoundException(`sweep ${id} not found`);
    return { total, items };
  }

  /** Trials best first by a metric (default: the sweep's own), unfinished ones last. */
  async leaderboard(id: string, take: number, metric?: string, mode?: 'min' | 'max') {
    // Only the ranking settings, not the whole sweep row.
    const sweep = await this.sweeps.findRanking(id);
    if (!sweep) throw new NotFoundException(`sweep ${id} not found`);
    const m = metric ?? sweep.metric;
    const natural: Record<string, 'min' | 'max'> = {
      eval_loss: 'min',
      best_eval_loss: 'min',
      tokens_per_sec: 'max',
      trainable_params: 'min',
    };
    const order = mode ?? (m === sweep.metric ? (sweep.metricMode as 'min' | 'max') : (natural[m] ?? 'min'));
    const rows = await this.sweeps.leaderboard(id, m, order, take);
    return rows.map((t, i) => ({ rank: i + 1, ...t }));
  }
}
