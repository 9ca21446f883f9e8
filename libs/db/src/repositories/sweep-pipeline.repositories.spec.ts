// The sweep-pipeline repositories (LoRA-drop importance and plans, AdaLoRA rank budgets, trial
// counts, leaderboard) against a real, freshly migrated Postgres schema.
import { RunStatus } from '../generated/prisma/client';
import { PrismaService } from '../prisma.service';
import { ImportanceRepository } from './importance.repository';
import { MetricRepository } from './metric.repository';
import { PlanRepository } from './plan.repository';
import { RankBudgetRepository } from './rank-budget.repository';
import { createRepositoryTestbed, RepositoryTestbed } from './repository-testbed';
import { SweepRepository } from './sweep.repository';
import { TrialRepository } from './trial.repository';

jest.setTimeout(60_000);

describe('sweep pipeline repositories', () => {
  let bed: RepositoryTestbed;
  let prisma: PrismaService;
  let sweeps: SweepRepository;
  let trials: TrialRepository;
  let importance: ImportanceRepository;
  let plans: PlanRepository;
  let budgets: RankBudgetRepository;
  let metrics: MetricRepository;
  let baseModelId: string;
  let datasetId: string;

  beforeAll(async () => {
    bed = await createRepositoryTestbed();
    ({ prisma, baseModelId, datasetId } = bed);
    sweeps = bed.moduleRef.get(SweepRepository);
    trials = bed.moduleRef.get(TrialRepository);
    importance = bed.moduleRef.get(ImportanceRepository);
    plans = bed.moduleRef.get(PlanRepository);
    budgets = bed.moduleRef.get(RankBudgetRepository);
    metrics = bed.moduleRef.get(MetricRepository);
  });
  afterAll(async () => {
    await bed?.close();
  });

  const newSweep = (trialCount: number, extra: object = {}) =>
    sweeps.createWithTrials({
      name: 's',
      baseModelId,
      datasetId,
      spec: {},
      trials: Array.from({ length: trialCount }, (_, index) => ({ index, variant: 'lora', hyperparams: { r: 4 } })),
      ...extra,
    });

  it('creates sweeps and trials with the defaults, or the given priority, limit, metric and kinds', async () => {
    const plain = await newSweep(1);
    expect(plain.sweep).toMatchObject({ priority: 0, maxConcurrent: null, metric: 'eval_loss', metricMode: 'min' });
    expect(plain.trials[0]).toMatchObject({ kind: 'train', planId: null, priority: 0, prunedReason: null, rankPattern: null });

    const s = await sweeps.createWithTrials({
      name: 's2',
      baseModelId,
      datasetId,
      spec: {},
      priority: 5,
      maxConcurrent: 2,
      metric: 'best_eval_loss',
      metricMode: 'min',
      trials: [
        { index: 0, variant: 'loradrop', hyperparams: {}, kind: 'probe', priority: 1 },
        { index: 1, variant: 'loradrop', hyperparams: {} },
      ],
    });
    expect(s.sweep).toMatchObject({ priority: 5, maxConcurrent: 2, metric: 'best_eval_loss' });
    expect(s.trials.map((t) => [t.kind, t.priority])).toEqual([
      ['probe', 1],
      ['train', 5],
    ]);
  });

  it('replaces a probe importance atomically and lists it by rank', async () => {
    const {
      trials: [probe],
    } = await newSweep(1);
    const rows = [
      { module: 'h.0.attn.c_attn', score: 3, normalized: 0.6, rank: 1 },
      { module: 'h.1.attn.c_attn', score: 2, normalized: 0.4, rank: 2 },
    ];
    expect(await importance.replaceForProbe(probe.id, rows)).toBe(2);
    expect(await importance.replaceForProbe(probe.id, [{ ...rows[1], rank: 1, normalized: 1 }])).toBe(1);
    expect((await importance.list(probe.id)).map((r) => [r.module, r.rank])).toEqual([['h.1.attn.c_attn', 1]]);
    // A duplicate module rolls the whole replacement back: the previous rows survive.
    await expect(importance.replaceForProbe(probe.id, [rows[0], rows[0]])).rejects.toMatchObject({ code: 'P2002' });
    expect(await importance.list(probe.id)).toHaveLength(1);
    expect(await importance.replaceForProbe(probe.id, [])).toBe(0);
    expect(await importance.list(probe.id)).toEqual([]);
  });

  it('keeps several plans per probe; deleting a plan unlinks its trials; deleting the probe removes its plans', async () => {
    const {
      sweep,
      trials: [probe, train],
    } = await newSweep(2);
    const p1 = await plans.create({ sweepId: sweep.id, probeTrialId: probe.id, threshold: 0.9, selected: ['a', 'b'] });
    const p2 = await plans.create({ sweepId: sweep.id, probeTrialId: probe.id, topN: 1, selected: ['a'] });
    expect(p1).toMatchObject({ threshold: 0.9, topN: null, selected: ['a', 'b'] });
    expect((await plans.findById(p2.id))?.topN).toBe(1);
    expect((await plans.listForProbe(probe.id)).map((p) => p.id)).toEqual([p1.id, p2.id]);
    expect(await plans.listForSweep(sweep.id)).toHaveLength(2);

    await trials.updateTrial(train.id, { planId: p1.id });
    await prisma.loraDropPlan.delete({ where: { id: p1.id } });
    expect((await trials.findById(train.id))?.planId).toBeNull();
    await prisma.trial.delete({ where: { id: probe.id } });
    expect(await plans.listForProbe(probe.id)).toEqual([]);
  });

  it('records rank budgets idempotently and returns them grouped by step', async () => {
    const {
      trials: [t],
    } = await newSweep(1);
    const row = (step: number, module: string, rank: number, budget: number) => ({ trialId: t.id, step, module, rank, budget });
    expect(await budgets.insertMany([row(10, 'b', 8, 16), row(10, 'a', 8, 16), row(20, 'a', 6, 12)])).toBe(3);
    expect(await budgets.insertMany([row(20, 'a', 6, 12), row(20, 'b', 6, 12)])).toBe(1);
    expect(await budgets.insertMany([])).toBe(0);
    expect(await budgets.history(t.id)).toEqual([
      { step: 10, budget: 16, ranks: { a: 8, b: 8 } },
      { step: 20, budget: 12, ranks: { a: 6, b: 6 } },
    ]);
  });

  it('counts running trials and ranks train trials by the metric, nulls last', async () => {
    const { sweep, trials: ts } = await newSweep(4);
    await trials.updateTrial(ts[0].id, { status: RunStatus.running, finalEvalLoss: 2.0, bestEvalLoss: 1.9 });
    await trials.updateTrial(ts[1].id, { status: RunStatus.running, finalEvalLoss: null, bestEvalLoss: 1.5 });
    await trials.updateTrial(ts[2].id, { status: RunStatus.succeeded, finalEvalLoss: 1.8, bestEvalLoss: 1.8 });
    await trials.updateTrial(ts[3].id, { kind: 'probe', finalEvalLoss: 0.1 });
    expect(await trials.countRunning(sweep.id)).toBe(2);
    expect((await sweeps.leaderboard(sweep.id)).map((t) => t.index)).toEqual([2, 0, 1]);
    expect((await sweeps.leaderboard(sweep.id, 'best_eval_loss', 'min', 2)).map((t) => t.index)).toEqual([1, 2]);
    expect((await sweeps.leaderboard(sweep.id, 'eval_loss', 'max')).map((t) => t.index)).toEqual([0, 2, 1]);
    expect(() => sweeps.leaderboard(sweep.id, 'accuracy')).toThrow(/unknown leaderboard metric "accuracy"/);
    // best: the leaderboard's first row, in one query; probes never count.
    expect((await sweeps.best(sweep.id))?.index).toBe(2);
    expect((await sweeps.best(sweep.id, 'eval_loss', 'max'))?.index).toBe(0);
    expect((await sweeps.best(sweep.id, 'best_eval_loss', 'min'))?.index).toBe(1);
    expect(await sweeps.best(sweep.id, 'tokens_per_sec', 'max')).toBeNull();
    expect((await sweeps.findSummary(sweep.id))?.baseModel.name).toBeDefined();
    expect(await sweeps.findSummary('00000000-0000-4000-8000-000000000000')).toBeNull();
  });

  it('reads the eval curves of a sweep per train trial', async () => {
    const { sweep, trials: ts } = await newSweep(3);
    await trials.updateTrial(ts[2].id, { kind: 'probe' });
    const p = (trialId: string, step: number, value: number, split: 'train' | 'eval' = 'eval') => ({
      trialId,
      step,
      split,
      name: 'loss',
      value,
    });
    await metrics.insertBatch([
      p(ts[0].id, 10, 2.5),
      p(ts[0].id, 0, 3),
      p(ts[0].id, 10, 9, 'train'),
      p(ts[1].id, 0, 3.1),
      p(ts[2].id, 0, 1),
    ]);
    const curves = await metrics.curvesForSweep(sweep.id);
    expect(curves.sort((a, b) => (a.trialId === ts[0].id ? -1 : b.trialId === ts[0].id ? 1 : 0))).toEqual([
      {
        trialId: ts[0].id,
        points: [
          { step: 0, value: 3 },
          { step: 10, value: 2.5 },
        ],
      },
      { trialId: ts[1].id, points: [{ step: 0, value: 3.1 }] },
    ]);
  });

  it('resumes a lost attempt from its last resumable checkpoint: later records go, the old attempt is fenced off', async () => {
    const { trials: ts } = await newSweep(1);
    const trialId = ts[0].id;
    await prisma.worker.create({ data: { id: 'w1', host: 'h', pid: 1, slots: 1, backend: 'cpu', device: 'cpu' } });
    const first = await trials.startAttempt(trialId, { workerId: 'w1' });
    expect(first.resume).toBeNull();
    await metrics.insertBatch(
      [10, 20, 25].map((step) => ({
        trialId,
        attemptId: first.attempt.id,
        step,
        split: 'train' as const,
        name: 'loss',
        value: 3 - step / 100,
      })),
    );
    await metrics.insertBatch([{ trialId, attemptId: first.attempt.id, step: 25, split: 'eval', name: 'loss', value: 1.5 }]);
    const ck = (step: number, resumeState?: Uint8Array<ArrayBuffer>) =>
      prisma.checkpoint.create({
        data: {
          trialId,
          attemptId: first.attempt.id,
          step,
          format: 'peft',
          bytes: new Uint8Array([1]),
          sizeBytes: 1,
          sha256: 'x',
          adapterConfig: {},
          resumeState,
        },
      });
    await ck(10, new Uint8Array([10]));
    await ck(20, new Uint8Array([20]));
    await ck(25); // no resume state (e.g. a variant that restarts): not a resume point
    await trials.updateTrial(trialId, { bestEvalLoss: 1.5 });

    // The worker died; the job's next attempt opens without it having closed its own.
    const second = await trials.startAttempt(trialId, { workerId: 'w1' });
    expect(second.lostAttempts).toBe(1);
    expect(second.resume).toMatchObject({ step: 20, state: new Uint8Array([20]) });
    expect(second.attempt).toMatchObject({ number: 2, resumedFromStep: 20, status: RunStatus.running });
    const old = await prisma.attempt.findUniqueOrThrow({ where: { id: first.attempt.id } });
    expect(old.status).toBe(RunStatus.preempted);
    expect(old.error).toMatch(/lost/);
    expect((await metrics.list(trialId, { take: 100 })).map((p) => p.step)).toEqual([10, 20]);
    expect((await prisma.checkpoint.findMany({ where: { trialId }, orderBy: { step: 'asc' } })).map((c) => c.step)).toEqual([10, 20]);
    expect((await prisma.trial.findUniqueOrThrow({ where: { id: trialId } })).bestEvalLoss).toBeNull();

    // Fencing: the old attempt can no longer write the trial's outcome.
    expect(await trials.attemptIsLive(first.attempt.id)).toBe(false);
    expect(await trials.attemptIsLive(second.attempt.id)).toBe(true);
    expect(await trials.finish(trialId, first.attempt.id, RunStatus.failed, { error: 'stale' })).toBe(RunStatus.preempted);
    const t = await prisma.trial.findUniqueOrThrow({ where: { id: trialId } });
    expect(t.status).toBe(RunStatus.running);
    expect(t.error).toBeNull();
    expect(await trials.finish(trialId, second.attempt.id, RunStatus.succeeded, { finalEvalLoss: 1.2 })).toBe(RunStatus.succeeded);
    expect((await prisma.sweep.findUniqueOrThrow({ where: { id: t.sweepId } })).status).toBe(RunStatus.succeeded);
  });
});
