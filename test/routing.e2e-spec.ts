// Routing by need on real worker processes: a sweep can ask for a device class (its jobs go to
// that class's queue) or a minimum memory (smaller workers hand the job back without spending an
// attempt). One "cpu" worker with 2 GiB and one "gpu" worker with 16 GiB (classes set by config,
// as a CPU machine cannot show a GPU) share three sweeps; each trial lands where it must.
import { startStack, type Stack } from './support/stack';
import { waitFor } from './support/wait';
import { startWorker, type WorkerProcess } from './support/worker-process';
import { sweepWithTrials } from './support/sweeps';

jest.setTimeout(5 * 60_000);

describe('routing trials by device class and memory', () => {
  let stack: Stack;
  let gpu: WorkerProcess;

  beforeAll(async () => {
    stack = await startStack('route', { WORKER_DEVICE_CLASS: 'cpu', WORKER_MEMORY_MB: '2048' });
    gpu = startWorker({ QUEUE_PREFIX: stack.config.redis.prefix, WORKER_DEVICE_CLASS: 'gpu', WORKER_MEMORY_MB: '16384' });
    // Other spec files' workers share this run's schema: wait for this one by its pid.
    await waitFor(
      'the gpu worker to register',
      async () =>
        (await stack.http('GET', '/workers')).data.some(
          (w: { pid: number; status: string }) => w.pid === gpu.child.pid && w.status === 'online',
        ),
      60_000,
    );
  });

  afterAll(async () => {
    await gpu?.stop();
    gpu?.removeLog();
    await stack?.stop();
  });

  const sweep = async (name: string, resources: object) => {
    const r = await stack.http('POST', '/sweeps', {
      name,
      baseModel: 'sotu-gpt2-small',
      dataset: 'moby-dick',
      variants: ['lora'],
      searchSpace: { r: [2, 4] },
      training: { steps: 6, batchSize: 2, seqLen: 32, evalBatches: 2, logEvery: 1 },
      resources,
    });
    expect(r.status).toBe(201);
    return r.data.id as string;
  };

  it('runs gpu trials on the gpu worker, cpu trials on the cpu worker, big-memory trials where the memory is', async () => {
    const workers = (await stack.http('GET', '/workers')).data as Array<{ id: string; pid: number; deviceClass: string; memoryMb: number }>;
    const gpuWorker = workers.find((w) => w.pid === gpu.child.pid)!;
    const cpuWorker = workers.find((w) => w.pid === stack.worker.child.pid)!;
    expect(gpuWorker).toMatchObject({ deviceClass: 'gpu', memoryMb: 16384 });
    expect(cpuWorker).toMatchObject({ deviceClass: 'cpu', memoryMb: 2048 });

    const ids = {
      gpu: await sweep('needs a gpu', { device: 'gpu' }),
      cpu: await sweep('needs a cpu', { device: 'cpu' }),
      mem: await sweep('needs 8 GiB', { minMemoryGb: 8 }),
    };
    const queues = (await stack.http('GET', '/queues')).data as Array<{ name: string }>;
    expect(queues.map((q) => q.name)).toEqual(['train', 'train-gpu', 'train-cpu', 'plan']);
    for (const [what, id] of Object.entries(ids)) {
      const done = await waitFor(
        `the ${what} sweep`,
        async () => {
          const s = (await stack.http('GET', `/sweeps/${id}`)).data;
          return s.progress.done === s.progress.total ? sweepWithTrials(stack.http, id) : null;
        },
        3 * 60_000,
        500,
      );
      const expected = what === 'cpu' ? cpuWorker.id : gpuWorker.id;
      for (const t of done.trials as Array<{ id: string; status: string }>) {
        expect(t.status).toBe('succeeded');
        const attempts = (await stack.http('GET', `/trials/${t.id}`)).data.attempts as Array<{ workerId: string; status: string }>;
        // Exactly one attempt: a worker that could not run it handed the job back without spending one.
        expect(attempts.map((a) => ({ worker: a.workerId, status: a.status }))).toEqual([{ worker: expected, status: 'succeeded' }]);
      }
    }
  });
});
