// budget.maxConcurrent holds across the fleet: measured from the attempts' start and end times,
// a sweep never runs more trials at once than its cap, even on a worker with spare slots.
import { startStack, type Stack } from './support/stack';
import { waitFor } from './support/wait';

jest.setTimeout(10 * 60_000);

interface Interval {
  start: number;
  end: number;
}

/** The most intervals open at one instant (an end at t closes before a start at t opens). */
function maxOverlap(xs: Interval[]): number {
  const events = xs.flatMap((x) => [
    [x.start, 1],
    [x.end, -1],
  ]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let max = 0;
  for (const [, d] of events) max = Math.max(max, (open += d));
  return max;
}

describe('sweep concurrency cap (real stack, one worker with 2 slots)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('concurrency', { WORKER_SLOTS: '2' });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const runSweep = async (maxConcurrent: number) => {
    const spec = {
      name: `e2e cap ${maxConcurrent}`,
      baseModel: 'sotu-gpt2-small',
      dataset: 'moby-dick',
      variants: ['lora'],
      searchSpace: { r: [2, 4, 6, 8], lr: [1e-3] },
      training: { steps: 30, batchSize: 2, seqLen: 32, evalBatches: 2, logEvery: 5 },
      budget: { maxConcurrent },
    };
    const sweep = (await stack.http('POST', '/sweeps', spec)).data;
    await waitFor(
      'the sweep to finish',
      async () => (await stack.http('GET', `/sweeps/${sweep.id}`)).data.progress.done === 4,
      5 * 60_000,
      500,
    );
    const attempts = await stack.prisma.attempt.findMany({ where: { trial: { sweepId: sweep.id } } });
    expect(attempts.every((a) => a.status === 'succeeded')).toBe(true);
    expect(attempts).toHaveLength(4);
    return maxOverlap(attempts.map((a) => ({ start: a.startedAt!.getTime(), end: a.finishedAt!.getTime() })));
  };

  it('never runs more than maxConcurrent trials of a sweep at once', async () => {
    expect(await runSweep(1)).toBe(1);
    // With a cap of 2 the worker's two slots do run two at once: the cap is what held it to 1.
    expect(await runSweep(2)).toBe(2);
  });
});
