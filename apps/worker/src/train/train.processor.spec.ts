// The slot bookkeeping of the train processor with fake BullMQ Workers and a fake runner: when the
// slots fill, only the busy queues that could still fetch a job are paused, and all resume after;
// a queue that has given this worker no job lately is left alone.
import type { AppConfig } from '@lora/config';
import type { TrainTrialJobData } from '@lora/contracts';
import type { Job, Worker } from 'bullmq';
import type { HeartbeatService } from '../fleet/heartbeat.service';
import { TrainProcessor } from './train.processor';
import type { TrialRunner } from './trial-runner.service';

function fakeWorker(name: string) {
  let paused = false;
  return {
    name,
    isPaused: () => paused,
    pause: jest.fn(async () => {
      paused = true;
    }),
    resume: jest.fn(() => {
      paused = false;
    }),
  };
}

function setup(slots: number) {
  const finish = new Map<string, () => void>();
  const runner = {
    run: jest.fn(
      (trialId: string) => new Promise<{ finalEvalLoss: number }>((resolve) => finish.set(trialId, () => resolve({ finalEvalLoss: 1 }))),
    ),
  };
  const heartbeat = { memoryMb: 1024 } as HeartbeatService;
  const config = { worker: { slots } } as AppConfig;
  const p = new TrainProcessor(runner as unknown as TrialRunner, heartbeat, config);
  const shared = fakeWorker('train');
  const device = fakeWorker('train-cpu');
  (p as unknown as { workers: unknown[] }).workers = [shared, device];
  const handedBack: string[] = [];
  const job = (trialId: string) =>
    ({
      id: `job-${trialId}`,
      data: { trialId, sweepId: 's' },
      opts: { attempts: 3 },
      attemptsMade: 0,
      moveToDelayed: jest.fn(async () => void handedBack.push(trialId)),
    }) as unknown as Job<TrainTrialJobData>;
  const run = (trialId: string, from: ReturnType<typeof fakeWorker>) =>
    p.process(job(trialId), 'token', from as unknown as Worker<TrainTrialJobData>);
  return { shared, device, run, finish: (id: string) => finish.get(id)!(), runner, handedBack };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('TrainProcessor slots', () => {
  it('with one slot, leaves an idle queue blocked; once it fetched a job, pauses it while a job runs and resumes it after', async () => {
    const t = setup(1);
    // The device queue has given this worker nothing: it stays blocked on its empty list.
    let done = t.run('t0', t.shared);
    await tick();
    expect(t.device.pause).not.toHaveBeenCalled();
    // A job it fetches while the slot is taken goes back (no attempt spent)...
    await expect(t.run('x', t.device)).rejects.toThrow();
    expect(t.handedBack).toEqual(['x']);
    t.finish('t0');
    await done;

    // ...and from then on it is paused while the slot is taken.
    done = t.run('t1', t.shared);
    await tick();
    expect(t.device.pause).toHaveBeenCalledTimes(1);
    expect(t.shared.pause).not.toHaveBeenCalled();
    t.finish('t1');
    await done;
    expect(t.device.resume).toHaveBeenCalledTimes(1);
    expect(t.device.isPaused()).toBe(false);
    expect(t.shared.resume).not.toHaveBeenCalled();
  });

  it('with two slots filled from both queues, pauses both; a queue running every slot is not paused', async () => {
    const t = setup(2);
    const a = t.run('a', t.shared);
    await tick();
    expect(t.shared.pause).not.toHaveBeenCalled();
    expect(t.device.pause).not.toHaveBeenCalled();
    const b = t.run('b', t.device);
    await tick();
    expect(t.shared.pause).toHaveBeenCalledTimes(1);
    expect(t.device.pause).toHaveBeenCalledTimes(1);
    t.finish('a');
    t.finish('b');
    await Promise.all([a, b]);
    expect(t.shared.isPaused()).toBe(false);
    expect(t.device.isPaused()).toBe(false);

    const c = t.run('c', t.shared);
    const d = t.run('d', t.shared);
    await tick();
    // The shared queue runs both slots itself: only the device queue needs stopping.
    expect(t.shared.pause).toHaveBeenCalledTimes(1);
    expect(t.device.pause).toHaveBeenCalledTimes(2);
    t.finish('c');
    t.finish('d');
    await Promise.all([c, d]);
  });
});
