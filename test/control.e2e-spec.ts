// Cancel and rerun through the real stack: a running trial stops within seconds on the worker
// that runs it (Redis pub/sub → abort in the training thread), a sweep cancels as a unit, and
// rerun-failed trains the cancelled trials again from scratch.
import { startStack, type Stack } from './support/stack';
import { waitFor } from './support/wait';
import { tail } from './support/worker-process';
import { sweepTrials, sweepWithTrials } from './support/sweeps';

jest.setTimeout(10 * 60_000);

const STEPS = 300;

describe('cancel and rerun (real stack)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('control');
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const trainSteps = async (trialId: string) =>
    ((await stack.http('GET', `/trials/${trialId}/metrics?name=loss&split=train`)).data as Array<{ step: number }>).map((p) => p.step);

  it('cancels a running trial within seconds, cancels the sweep, reruns the cancelled trials', async () => {
    const spec = {
      name: 'e2e control',
      baseModel: 'sotu-gpt2-small',
      dataset: 'moby-dick',
      variants: ['lora'],
      searchSpace: { r: [2, 4], lr: [1e-3] },
      training: { steps: STEPS, batchSize: 2, seqLen: 16, evalBatches: 2, logEvery: 1 },
    };
    const sweep = (await stack.http('POST', '/sweeps', spec)).data;
    const [first, second] = (await sweepTrials(stack.http, sweep.id)) as Array<{ id: string }>;

    await waitFor('the first trial to be training', async () => (await trainSteps(first.id)).length >= 5, 120_000);
    const t0 = Date.now();
    const r = await stack.http('POST', `/trials/${first.id}/cancel`);
    expect(r.status).toBe(202);
    expect(r.data.cancelled).toEqual([first.id]);
    // The job ends when the worker's processor returns: that is the worker having stopped.
    await waitFor(
      'the worker to stop the cancelled trial',
      async () => ['completed', 'failed'].includes(String(await (await stack.queue.getJob(`train-${first.id}`))?.getState())),
      20_000,
      100,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n${tail(stack.worker.logFile)}`);
    });
    const stopped = (await stack.http('GET', `/trials/${first.id}`)).data;
    const stopMs = Date.now() - t0;
    expect(stopped.status).toBe('cancelled');
    expect(stopped.attempts[0].status).toBe('cancelled');
    expect(stopMs).toBeLessThan(10_000);
    const stepsAtStop = (await trainSteps(first.id)).length;
    expect(stepsAtStop).toBeLessThan(STEPS);
    await new Promise((res) => setTimeout(res, 1500));
    expect((await trainSteps(first.id)).length).toBe(stepsAtStop);

    // The worker moves on to the second trial; cancelling the sweep stops it too.
    await waitFor('the second trial to start', async () => (await trainSteps(second.id)).length >= 3, 60_000);
    const all = await stack.http('POST', `/sweeps/${sweep.id}/cancel`);
    expect(all.status).toBe(202);
    expect(all.data.cancelled).toEqual([second.id]);
    const cancelledSweep = await waitFor(
      'the sweep to be cancelled',
      async () => {
        const s = await sweepWithTrials(stack.http, sweep.id);
        return s.status === 'cancelled' && s.trials.every((t: { status: string }) => t.status === 'cancelled') ? s : null;
      },
      20_000,
    );
    expect(cancelledSweep.progress).toMatchObject({ done: 2, total: 2 });
    await waitFor('the worker to stop the second trial', async () => (await stack.queue.getActiveCount()) === 0, 20_000, 100);

    // Rerun-failed trains both again from scratch: steps 1..N exactly once each, attempt 2 succeeds.
    const rerun = await stack.http('POST', `/sweeps/${sweep.id}/rerun-failed`);
    expect(rerun.status).toBe(202);
    expect(rerun.data.requeued.sort()).toEqual([first.id, second.id].sort());
    const finished = await waitFor(
      'the rerun to finish',
      async () => {
        const s = (await stack.http('GET', `/sweeps/${sweep.id}`)).data;
        return s.progress.done === 2 && s.status === 'succeeded' ? sweepWithTrials(stack.http, sweep.id) : null;
      },
      5 * 60_000,
      500,
    );
    for (const t of finished.trials) {
      expect(t.status).toBe('succeeded');
      expect(await trainSteps(t.id)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
      const attempts = (await stack.http('GET', `/trials/${t.id}`)).data.attempts;
      expect(attempts.map((a: { status: string }) => a.status)).toEqual(['cancelled', 'succeeded']);
    }

    const board = (await stack.http('GET', `/sweeps/${sweep.id}/leaderboard`)).data;
    expect(board.map((t: { rank: number }) => t.rank)).toEqual([1, 2]);
    expect(board[0].finalEvalLoss).toBeLessThanOrEqual(board[1].finalEvalLoss);

    // A trial still queued or running cannot be rerun; an unknown one is a 404.
    expect((await stack.http('POST', `/trials/00000000-0000-4000-8000-000000000000/rerun`)).status).toBe(404);
  });

  it('prunes a clearly worse trial by the median stopping rule, with the reason', async () => {
    const steps = 40;
    const spec = {
      name: 'e2e early stopping',
      baseModel: 'sotu-gpt2-small',
      dataset: 'moby-dick',
      variants: ['lora'],
      // Trials run in order on the one worker slot: two sane learning rates, then one that wrecks the model.
      searchSpace: { r: [4], lr: [1e-3, 2e-3, 0.3] },
      training: { steps, batchSize: 4, seqLen: 32, evalEvery: 10, evalBatches: 2, logEvery: 1 },
      earlyStopping: { rule: 'median', graceSteps: 0, minTrials: 2 },
    };
    const sweep = (await stack.http('POST', '/sweeps', spec)).data;
    const done = await waitFor(
      'the sweep to finish',
      async () => {
        const s = (await stack.http('GET', `/sweeps/${sweep.id}`)).data;
        // The sweep's own status is derived just after its last trial's (refreshStatus).
        return s.progress.done === 3 && s.status !== 'running' ? sweepWithTrials(stack.http, sweep.id) : null;
      },
      5 * 60_000,
      500,
    );
    const [good1, good2, bad] = done.trials;
    expect([good1.status, good2.status]).toEqual(['succeeded', 'succeeded']);
    expect(bad.status).toBe('pruned');
    expect(bad.prunedReason).toMatch(/median rule at step 10/);
    expect(done.status).toBe('succeeded');
    const badSteps = await trainSteps(bad.id);
    expect(badSteps[badSteps.length - 1]).toBeLessThan(steps);
    expect((await stack.http('GET', `/trials/${bad.id}`)).data.attempts.map((a: { status: string }) => a.status)).toEqual(['pruned']);
  });
});
