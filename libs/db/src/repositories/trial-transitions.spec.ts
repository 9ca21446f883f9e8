// The worker's trial transitions against a real, freshly migrated Postgres schema: the one-statement
// load/open/ready/close path, fencing (an attempt taken over by a newer one cannot close the trial
// or write metrics and log lines), and the sweep's status settling from its trials' end states.
import { RunStatus } from '../generated/prisma/client';
import { PrismaService } from '../prisma.service';
import { MetricRepository } from './metric.repository';
import { createRepositoryTestbed, RepositoryTestbed } from './repository-testbed';
import { SweepRepository } from './sweep.repository';
import { TrialLogRepository } from './trial-log.repository';
import { TrialRepository } from './trial.repository';

jest.setTimeout(60_000);

describe('trial transitions', () => {
  let bed: RepositoryTestbed;
  let prisma: PrismaService;
  let sweeps: SweepRepository;
  let trials: TrialRepository;
  let metrics: MetricRepository;
  let logs: TrialLogRepository;
  let baseModelId: string;
  let datasetId: string;

  beforeAll(async () => {
    bed = await createRepositoryTestbed();
    ({ prisma, baseModelId, datasetId } = bed);
    sweeps = bed.moduleRef.get(SweepRepository);
    trials = bed.moduleRef.get(TrialRepository);
    metrics = bed.moduleRef.get(MetricRepository);
    logs = bed.moduleRef.get(TrialLogRepository);
  });
  afterAll(async () => {
    await bed?.close();
  });

  const newSweep = (trialCount: number) =>
    sweeps.createWithTrials({
      name: 's',
      baseModelId,
      datasetId,
      spec: { earlyStopping: { rule: 'median' } },
      maxConcurrent: 3,
      metricMode: 'max',
      trials: Array.from({ length: trialCount }, (_, index) => ({ index, variant: 'lora', hyperparams: { r: 4, lr: 0.01 } })),
    });
  const sweepStatus = async (id: string) => (await prisma.sweep.findUniqueOrThrow({ where: { id } })).status;
  const start = (trialId: string) => trials.startAttempt(trialId, { workerId: undefined, jobId: `job-${trialId}`, backend: 'cpu' });

  it('loads a trial for a run with its sweep, model and dataset', async () => {
    const { sweep, trials: ts } = await newSweep(1);
    const t = await trials.findForRun(ts[0].id);
    expect(t).toEqual({
      id: ts[0].id,
      sweepId: sweep.id,
      status: RunStatus.queued,
      kind: 'train',
      planId: null,
      hyperparams: { r: 4, lr: 0.01 },
      finalEvalLoss: null,
      sweep: {
        id: sweep.id,
        spec: { earlyStopping: { rule: 'median' } },
        maxConcurrent: 3,
        metricMode: 'max',
        baseModel: { name: 'm', path: '/models/m' },
        dataset: { source: 'stdlib:moby-dick', validationFraction: 0.1, splitSeed: 7 },
      },
    });
    expect(await trials.findForRun('00000000-0000-0000-0000-000000000000')).toBeNull();
  });

  it('opens the first attempt, marks trial and sweep running, records ready and closes with the row', async () => {
    const { sweep, trials: ts } = await newSweep(2);
    const opened = await start(ts[0].id);
    expect(opened.attempt).toMatchObject({ number: 1, status: RunStatus.running, jobId: `job-${ts[0].id}`, backend: 'cpu' });
    expect(opened.trial).toMatchObject({ id: ts[0].id, status: RunStatus.running, hyperparams: { r: 4, lr: 0.01 } });
    expect(opened.trial?.startedAt).toBeInstanceOf(Date);
    expect(opened.resume).toBeNull();
    const stored = await prisma.attempt.findUniqueOrThrow({ where: { id: opened.attempt.id } });
    expect(stored).toMatchObject({ trialId: ts[0].id, number: 1, status: RunStatus.running, backend: 'cpu' });
    expect(await sweepStatus(sweep.id)).toBe(RunStatus.running);

    const ready = await trials.markReady(ts[0].id, opened.attempt.id, {
      backend: 'wasm',
      device: 'cpu x2',
      trainableParams: 1234,
      baselineEvalLoss: 2.5,
    });
    expect(ready).toMatchObject({ trainableParams: 1234, baselineEvalLoss: 2.5, bestEvalLoss: 2.5, status: RunStatus.running });
    expect(await prisma.attempt.findUniqueOrThrow({ where: { id: opened.attempt.id } })).toMatchObject({
      backend: 'wasm',
      device: 'cpu x2',
    });
    // No baseline (e.g. a resumed run): the stored ones stay.
    await trials.markReady(ts[0].id, opened.attempt.id, { backend: 'wasm', device: 'cpu', trainableParams: 99, baselineEvalLoss: null });
    expect(await prisma.trial.findUniqueOrThrow({ where: { id: ts[0].id } })).toMatchObject({ trainableParams: 99, baselineEvalLoss: 2.5 });

    const closed = await trials.closeAttempt(
      ts[0].id,
      opened.attempt.id,
      RunStatus.succeeded,
      { finalEvalLoss: 1.5, tokensPerSec: 10, prunedReason: null },
      { lastStep: 8 },
    );
    expect(closed.status).toBe(RunStatus.succeeded);
    expect(closed.trial).toMatchObject({ id: ts[0].id, status: RunStatus.succeeded, finalEvalLoss: 1.5, tokensPerSec: 10, error: null });
    expect(closed.trial?.finishedAt).toBeInstanceOf(Date);
    expect(await prisma.attempt.findUniqueOrThrow({ where: { id: opened.attempt.id } })).toMatchObject({
      status: RunStatus.succeeded,
      lastStep: 8,
      error: null,
    });
    // The other trial is still queued: the sweep runs on.
    expect(await sweepStatus(sweep.id)).toBe(RunStatus.running);
  });

  it('fences a stale attempt: it cannot close the trial, write metrics or log lines, or record ready', async () => {
    const { sweep, trials: ts } = await newSweep(1);
    const trialId = ts[0].id;
    const stale = await start(trialId);
    // Its worker lost the job; the next attempt closes it as preempted.
    const fresh = await start(trialId);
    expect(fresh.lostAttempts).toBe(1);
    expect(fresh.attempt.number).toBe(2);

    expect(
      await trials.markReady(trialId, stale.attempt.id, { backend: 'x', device: 'x', trainableParams: 1, baselineEvalLoss: 9 }),
    ).toBeNull();
    const point = (attemptId: string, step: number) => ({ trialId, attemptId, step, split: 'train' as const, name: 'loss', value: step });
    expect(await metrics.insertForAttempt(stale.attempt.id, [point(stale.attempt.id, 1)])).toEqual({ live: false, count: 0 });
    expect(
      await logs.insertForAttempt(stale.attempt.id, [
        { trialId, attemptId: stale.attempt.id, attempt: 1, level: 'info', message: 'stale' },
      ]),
    ).toEqual({ live: false, rows: [] });
    expect(await trials.closeAttempt(trialId, stale.attempt.id, RunStatus.failed, { error: 'stale' }, { error: 'stale' })).toEqual({
      status: RunStatus.preempted,
      trial: null,
      logRows: [],
    });
    // Nor with its last rows carried by the close.
    expect(
      await trials.closeAttempt(
        trialId,
        stale.attempt.id,
        RunStatus.succeeded,
        { finalEvalLoss: 1 },
        { lastStep: 5 },
        {
          rows: {
            metrics: [point(stale.attempt.id, 5)],
            logs: [{ trialId, attemptId: stale.attempt.id, attempt: 1, level: 'info', message: 'x' }],
          },
          ready: { backend: 'x', device: 'x', trainableParams: 1, baselineEvalLoss: 9 },
        },
      ),
    ).toEqual({ status: RunStatus.preempted, trial: null, logRows: [] });
    const t = await prisma.trial.findUniqueOrThrow({ where: { id: trialId } });
    expect(t).toMatchObject({ status: RunStatus.running, error: null, trainableParams: null, baselineEvalLoss: null });
    expect(await prisma.metricPoint.count({ where: { trialId } })).toBe(0);
    expect(await prisma.trialLog.count({ where: { trialId } })).toBe(0);
    expect(await prisma.attempt.findUniqueOrThrow({ where: { id: stale.attempt.id } })).toMatchObject({ status: RunStatus.preempted });

    // The current attempt writes as usual, in order, and a replayed batch is not duplicated.
    expect(await metrics.insertForAttempt(fresh.attempt.id, [point(fresh.attempt.id, 1), point(fresh.attempt.id, 2)])).toEqual({
      live: true,
      count: 2,
    });
    expect(await metrics.insertForAttempt(fresh.attempt.id, [point(fresh.attempt.id, 2)])).toEqual({ live: true, count: 0 });
    const lines = await logs.insertForAttempt(
      fresh.attempt.id,
      ['one', 'two', 'three'].map((message) => ({ trialId, attemptId: fresh.attempt.id, attempt: 2, level: 'info' as const, message })),
    );
    expect(lines.live).toBe(true);
    expect(lines.rows.map((r) => r.message)).toEqual(['one', 'two', 'three']);
    expect(lines.rows[0]).toMatchObject({ trialId, attemptId: fresh.attempt.id, attempt: 2, level: 'info' });
    expect(lines.rows[0].ts).toBeInstanceOf(Date);
    expect((await logs.list(trialId, { take: 10 })).map((r) => r.id)).toEqual(lines.rows.map((r) => r.id));

    // The close carries the attempt's last rows: written in its statement, a replayed point not
    // duplicated, the log lines returned in order after the earlier ones.
    const closed = await trials.closeAttempt(
      trialId,
      fresh.attempt.id,
      RunStatus.succeeded,
      { finalEvalLoss: 1 },
      { lastStep: 3 },
      {
        rows: {
          metrics: [point(fresh.attempt.id, 2), point(fresh.attempt.id, 3)],
          logs: ['four', 'five'].map((message) => ({ trialId, attemptId: fresh.attempt.id, attempt: 2, level: 'info' as const, message })),
        },
        ready: { backend: 'wasm', device: 'cpu (2 threads)', trainableParams: 1234, baselineEvalLoss: 3.5 },
      },
    );
    expect(closed.status).toBe(RunStatus.succeeded);
    expect(closed.trial).toMatchObject({
      id: trialId,
      status: RunStatus.succeeded,
      finalEvalLoss: 1,
      trainableParams: 1234,
      baselineEvalLoss: 3.5,
      bestEvalLoss: 3.5,
    });
    expect(closed.trial).not.toHaveProperty('logRows');
    expect(closed.logRows.map((r) => r.message)).toEqual(['four', 'five']);
    expect(closed.logRows[0]).toMatchObject({ attemptId: fresh.attempt.id, attempt: 2, level: 'info' });
    expect(closed.logRows[0].ts).toBeInstanceOf(Date);
    expect((await metrics.list(trialId, { name: 'loss', take: 10 })).map((p) => p.step)).toEqual([1, 2, 3]);
    expect((await logs.list(trialId, { take: 10 })).map((r) => r.message)).toEqual(['one', 'two', 'three', 'four', 'five']);
    expect((await logs.list(trialId, { take: 10 })).slice(3).map((r) => r.id)).toEqual(closed.logRows.map((r) => r.id));
    expect(await prisma.attempt.findUniqueOrThrow({ where: { id: fresh.attempt.id } })).toMatchObject({
      status: RunStatus.succeeded,
      lastStep: 3,
      backend: 'wasm',
      device: 'cpu (2 threads)',
    });
    expect(await sweepStatus(sweep.id)).toBe(RunStatus.succeeded);
  });

  it('lets a cancel win over the outcome, and a trial cancelled before its start stays cancelled', async () => {
    const { sweep, trials: ts } = await newSweep(2);
    const a = await start(ts[0].id);
    await trials.cancel([ts[0].id, ts[1].id], 'user cancel');
    const closed = await trials.closeAttempt(ts[0].id, a.attempt.id, RunStatus.succeeded, { finalEvalLoss: 1 }, { lastStep: 3 });
    expect(closed.status).toBe(RunStatus.cancelled);
    expect(await prisma.attempt.findUniqueOrThrow({ where: { id: a.attempt.id } })).toMatchObject({ status: RunStatus.cancelled });

    const late = await start(ts[1].id);
    expect(late.trial).toBeNull();
    expect(await prisma.attempt.findUniqueOrThrow({ where: { id: late.attempt.id } })).toMatchObject({ status: RunStatus.cancelled });
    expect(await prisma.trial.findUniqueOrThrow({ where: { id: ts[1].id } })).toMatchObject({ status: RunStatus.cancelled });
    expect(await sweepStatus(sweep.id)).toBe(RunStatus.cancelled);
  });

  it('preempts an attempt back to the queue (attempt preempted) without settling the sweep', async () => {
    const { sweep, trials: ts } = await newSweep(1);
    const a = await start(ts[0].id);
    const closed = await trials.closeAttempt(
      ts[0].id,
      a.attempt.id,
      RunStatus.queued,
      {},
      { error: 'draining', status: RunStatus.preempted },
    );
    expect(closed.status).toBe(RunStatus.queued);
    expect(await prisma.attempt.findUniqueOrThrow({ where: { id: a.attempt.id } })).toMatchObject({
      status: RunStatus.preempted,
      error: 'draining',
    });
    expect(await sweepStatus(sweep.id)).toBe(RunStatus.running);
  });

  it.each([
    [[RunStatus.succeeded, RunStatus.failed, RunStatus.cancelled], RunStatus.succeeded],
    [[RunStatus.pruned, RunStatus.failed], RunStatus.succeeded],
    [[RunStatus.failed, RunStatus.cancelled], RunStatus.failed],
    [[RunStatus.failed, RunStatus.failed], RunStatus.failed],
    [[RunStatus.cancelled, RunStatus.cancelled], RunStatus.cancelled],
  ])('settles the sweep when its last trial ends: %j → %s', async (ends, expected) => {
    const { sweep, trials: ts } = await newSweep(ends.length);
    const attempts = [];
    for (const t of ts) attempts.push(await start(t.id));
    // All but the last end: the sweep still runs.
    for (let i = 0; i < ends.length - 1; i++) await trials.closeAttempt(ts[i].id, attempts[i].attempt.id, ends[i]);
    expect(await sweepStatus(sweep.id)).toBe(RunStatus.running);
    const last = ends.length - 1;
    await trials.closeAttempt(ts[last].id, attempts[last].attempt.id, ends[last]);
    const s = await prisma.sweep.findUniqueOrThrow({ where: { id: sweep.id } });
    expect(s.status).toBe(expected);
    expect(s.finishedAt).toBeInstanceOf(Date);
    // The recount the API side uses agrees.
    expect((await sweeps.refreshStatus(sweep.id)).status).toBe(expected);
  });

  it('does not settle while a trial is still queued for a retry, and settles when trials end together', async () => {
    const { sweep, trials: ts } = await newSweep(3);
    const [a, b, c] = [await start(ts[0].id), await start(ts[1].id), await start(ts[2].id)];
    // A failed attempt that will be retried puts its trial back to queued.
    await trials.closeAttempt(ts[0].id, a.attempt.id, RunStatus.queued, { error: 'boom' }, { error: 'boom', status: RunStatus.failed });
    expect(await prisma.attempt.findUniqueOrThrow({ where: { id: a.attempt.id } })).toMatchObject({ status: RunStatus.failed });
    await trials.closeAttempt(ts[1].id, b.attempt.id, RunStatus.succeeded);
    await trials.closeAttempt(ts[2].id, c.attempt.id, RunStatus.succeeded);
    expect(await sweepStatus(sweep.id)).toBe(RunStatus.running);
    expect(await sweeps.settleStatus(sweep.id)).toBeNull();

    // The retry and another sweep's trials finishing at the same moment.
    const retry = await start(ts[0].id);
    expect(retry.attempt.number).toBe(2);
    const other = await newSweep(4);
    const opened = await Promise.all(other.trials.map((t) => start(t.id)));
    await Promise.all([
      trials.closeAttempt(ts[0].id, retry.attempt.id, RunStatus.failed),
      ...other.trials.map((t, i) => trials.closeAttempt(t.id, opened[i].attempt.id, i === 0 ? RunStatus.failed : RunStatus.cancelled)),
    ]);
    expect(await sweepStatus(sweep.id)).toBe(RunStatus.succeeded);
    expect(await sweepStatus(other.sweep.id)).toBe(RunStatus.failed);
  });

  it('marks a queued sweep running once, and leaves other statuses alone', async () => {
    const { sweep } = await newSweep(1);
    expect(await sweeps.markRunning(sweep.id)).toBe(true);
    expect(await sweeps.markRunning(sweep.id)).toBe(false);
    await prisma.sweep.update({ where: { id: sweep.id }, data: { status: RunStatus.cancelled } });
    expect(await sweeps.markRunning(sweep.id)).toBe(false);
    expect(await sweepStatus(sweep.id)).toBe(RunStatus.cancelled);
  });
});
