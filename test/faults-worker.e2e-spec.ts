// Losing workers, on real processes: a worker killed with SIGKILL mid-trial, and one drained with
// SIGTERM. Either way the trial finishes on another worker, resumed from its last checkpoint
// (adapter, optimizer moments, data position): every metric step is recorded exactly once, the
// attempt history shows the lost/preempted attempt and the resumed one, and the final eval loss
// matches an uninterrupted run with the same seed.
import { startStack, type Stack } from './support/stack';
import { waitFor } from './support/wait';
import { startWorker, tail, type WorkerProcess } from './support/worker-process';
import { sweepTrials } from './support/sweeps';

jest.setTimeout(8 * 60_000);

const STEPS = 80;
const WORKER_ENV = { JOB_LOCK_MS: '3000', WORKER_HEARTBEAT_MS: '500' };
/** SIGTERM → checkpoint written and process gone within this (one step, a checkpoint, shutdown). */
const DRAIN_BUDGET_MS = 5_000;

const spec = (name: string) => ({
  name,
  baseModel: 'sotu-gpt2-small',
  dataset: 'moby-dick',
  variants: ['lora'],
  searchSpace: { r: [4], alpha: [8], lr: [3e-3], targetModules: [['c_attn', 'c_proj']] },
  training: {
    steps: STEPS,
    batchSize: 4,
    seqLen: 64,
    warmupSteps: 5,
    evalEvery: 20,
    evalBatches: 4,
    checkpointEvery: 20,
    logEvery: 1,
    seed: 7,
  },
});

interface Attempt {
  number: number;
  status: string;
  workerId: string | null;
  resumedFromStep: number | null;
  error: string | null;
}

describe('worker faults (real processes)', () => {
  let stack: Stack;
  const extra: WorkerProcess[] = [];
  let reference: number;

  beforeAll(async () => {
    stack = await startStack('faults', WORKER_ENV);
    extra.push(startWorker({ ...WORKER_ENV, QUEUE_PREFIX: stack.config.redis.prefix }));
    await waitFor('two workers', async () => (await ourOnline()) >= 2, 60_000);
  });

  afterAll(async () => {
    for (const w of extra) {
      await w.stop('SIGKILL');
      w.removeLog();
    }
    await stack?.stop();
  });

  /** Online workers of this spec (other spec files' workers share the run's schema). */
  const ourOnline = async () => {
    const pids = new Set(
      [stack.worker, ...extra].filter((p) => p.child.exitCode === null && p.child.signalCode === null).map((p) => p.child.pid),
    );
    const rows = (await stack.http('GET', '/workers')).data as Array<{ pid: number; status: string; lost: boolean }>;
    return rows.filter((w) => pids.has(w.pid) && w.status === 'online' && !w.lost).length;
  };
  const submit = async (name: string) => {
    const r = await stack.http('POST', '/sweeps', spec(name));
    expect(r.status).toBe(201);
    return (await sweepTrials(stack.http, r.data.id))[0].id as string;
  };
  const trial = async (id: string) => (await stack.http('GET', `/trials/${id}`)).data;
  const lastStep = async (id: string) => {
    const pts = (await stack.http('GET', `/trials/${id}/metrics?name=loss&split=train`)).data as Array<{ step: number }>;
    return pts.length ? pts[pts.length - 1].step : 0;
  };
  const processOf = async (workerId: string) => {
    const w = ((await stack.http('GET', '/workers')).data as Array<{ id: string; pid: number }>).find((x) => x.id === workerId)!;
    const proc = [stack.worker, ...extra].find((p) => p.child.pid === w.pid);
    if (!proc) throw new Error(`no process for worker ${workerId}`);
    return proc;
  };
  const finished = (id: string) =>
    waitFor(
      `trial ${id} to finish`,
      async () => {
        const t = await trial(id);
        if (t.status === 'failed') throw new Error(`trial failed: ${t.error}`);
        return t.status === 'succeeded' ? t : null;
      },
      4 * 60_000,
      500,
    );
  const checkSteps = async (id: string) => {
    const train = (await stack.http('GET', `/trials/${id}/metrics?name=loss&split=train`)).data as Array<{ step: number }>;
    expect(train.map((p) => p.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    const evals = (await stack.http('GET', `/trials/${id}/metrics?name=loss&split=eval`)).data as Array<{ step: number }>;
    return evals.map((p) => p.step);
  };

  it('an uninterrupted run (the reference)', async () => {
    const id = await submit('reference');
    const t = await finished(id);
    reference = t.finalEvalLoss;
    expect(await checkSteps(id)).toEqual([0, 20, 40, 60, 80]);
  });

  it('kill -9 mid-trial: the trial resumes on the other worker from its last checkpoint', async () => {
    const id = await submit('kill -9');
    const running = await waitFor(
      'the trial to pass its step-40 checkpoint',
      async () => {
        const t = await trial(id);
        const a = (t.attempts as Attempt[]).find((x) => x.status === 'running');
        return a && (await lastStep(id)) >= 45 ? a : null;
      },
      3 * 60_000,
      200,
    );
    const victim = await processOf(running.workerId!);
    victim.child.kill('SIGKILL');
    const t0 = Date.now();
    const t = await finished(id);
    console.log(
      `kill -9 → trial finished ${((Date.now() - t0) / 1000).toFixed(1)} s later; final eval loss ${t.finalEvalLoss} vs reference ${reference}`,
    );
    const attempts = (t.attempts as Attempt[]).sort((a, b) => a.number - b.number);
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toMatchObject({ status: 'preempted', workerId: running.workerId });
    expect(attempts[0].error).toMatch(/lost/);
    expect(attempts[1].status).toBe('succeeded');
    expect(attempts[1].workerId).not.toBe(running.workerId);
    expect(attempts[1].resumedFromStep).toBe(40);
    expect(await checkSteps(id)).toEqual([0, 20, 40, 60, 80]);
    expect(Math.abs(t.finalEvalLoss - reference)).toBeLessThan(1e-4);
    // The lost worker is marked lost once its heartbeat is 3 intervals old.
    await waitFor(
      'the killed worker to show as lost',
      async () =>
        ((await stack.http('GET', '/workers')).data as Array<{ id: string; lost: boolean }>).find((w) => w.id === running.workerId)?.lost,
      10_000,
    );
    // Replace it so the next test has two workers again.
    extra.push(startWorker({ ...WORKER_ENV, QUEUE_PREFIX: stack.config.redis.prefix }));
  });

  it(`SIGTERM: the worker checkpoints, hands the trial back and exits within ${DRAIN_BUDGET_MS / 1000} s; the trial resumes`, async () => {
    await waitFor('two live workers', async () => (await ourOnline()) >= 2, 60_000);
    const id = await submit('sigterm');
    const running = await waitFor(
      'the trial to be past step 30',
      async () => {
        const t = await trial(id);
        const a = (t.attempts as Attempt[]).find((x) => x.status === 'running');
        return a && (await lastStep(id)) >= 30 ? a : null;
      },
      3 * 60_000,
      200,
    );
    const victim = await processOf(running.workerId!);
    const seen = await lastStep(id);
    const t0 = Date.now();
    await victim.stop('SIGTERM');
    const drainMs = Date.now() - t0;
    console.log(`SIGTERM → worker gone after ${drainMs} ms`);
    expect(drainMs).toBeLessThan(DRAIN_BUDGET_MS);
    // Nest re-raises the signal once shut down: the process ends by SIGTERM, not by the SIGKILL fallback.
    expect(victim.child.signalCode === 'SIGTERM' || victim.child.exitCode === 0).toBe(true);
    const t = await finished(id);
    const attempts = (t.attempts as Attempt[]).sort((a, b) => a.number - b.number);
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toMatchObject({ status: 'preempted', workerId: running.workerId });
    expect(attempts[1].status).toBe('succeeded');
    // It checkpointed at its next step, not at the last periodic checkpoint (step 20).
    expect(attempts[1].resumedFromStep).toBeGreaterThanOrEqual(seen);
    expect(attempts[1].resumedFromStep).toBeLessThanOrEqual(seen + 10);
    const evals = await checkSteps(id);
    expect(evals).toEqual(expect.arrayContaining([0, 20, 60, 80]));
    console.log(`resumed at step ${attempts[1].resumedFromStep}; final eval loss ${t.finalEvalLoss} vs reference ${reference}`);
    expect(Math.abs(t.finalEvalLoss - reference)).toBeLessThan(1e-4);
    const log = tail(victim.logFile, 400);
    expect(log).toMatch(/attempt preempted/);
  });
});
