// Live events with strict fakes of Redis and the repositories: trial rows go out as given, sweep
// events (a recount) are coalesced per sweep per window and always end on the state after the
// last change.
import type { AppConfig } from '@lora/config';
import type { LiveEvent } from '@lora/contracts';
import type { SweepRepository, TrialRepository } from '@lora/db';
import type { Queue } from 'bullmq';
import { LiveEventsService } from './live-events.service';

function setup(liveSweepEventMs: number, liveEventBatchMs = 0) {
  const published: LiveEvent[] = [];
  /** Round trips to Redis: a single publish or a pipeline's exec (its events in order). */
  const trips: Array<{ kind: 'publish' | 'pipeline'; channels: string[] }> = [];
  let failing = false;
  const client = {
    publish: jest.fn(async (channel: string, message: string) => {
      if (failing) throw new Error('connection lost');
      trips.push({ kind: 'publish', channels: [channel] });
      published.push(JSON.parse(message) as LiveEvent);
      return 1;
    }),
    pipeline: jest.fn(() => {
      const queued: Array<[string, string]> = [];
      const p = {
        publish: (channel: string, message: string) => {
          queued.push([channel, message]);
          return p;
        },
        exec: async () => {
          if (failing) throw new Error('connection lost');
          trips.push({ kind: 'pipeline', channels: queued.map(([c]) => c) });
          for (const [, m] of queued) published.push(JSON.parse(m) as LiveEvent);
          return queued.map(() => [null, 1]);
        },
      };
      return p;
    }),
  };
  const queue = { client: Promise.resolve(client) } as unknown as Queue;
  // The sweep's state as the recount would read it now.
  const state = { status: 'running', done: 0 };
  let reads = 0;
  let gate: Promise<void> | null = null;
  const sweeps = {
    findStatus: jest.fn(async (id: string) => {
      reads++;
      await gate;
      return { id, status: state.status, finishedAt: null };
    }),
    progress: jest.fn(async () => ({ total: 10, done: state.done, byStatus: { succeeded: state.done } })),
  };
  const trials = { findManyByIds: jest.fn(async (ids: string[]) => ids.map((id) => ({ id, status: 'running' }))) };
  const config = { redis: { url: 'redis://x', prefix: 'p' }, liveSweepEventMs, liveEventBatchMs } as AppConfig;
  const live = new LiveEventsService(queue, config, sweeps as unknown as SweepRepository, trials as unknown as TrialRepository);
  const sweepEvents = () => published.filter((e) => e.type === 'sweep');
  return {
    live,
    state,
    published,
    trips,
    fail: (v: boolean) => (failing = v),
    sweepEvents,
    trials,
    reads: () => reads,
    hold: () => {
      let release = () => undefined as void;
      gate = new Promise<void>((r) => (release = r));
      return () => {
        gate = null;
        release();
      };
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LiveEventsService', () => {
  it('publishes a changed trial row as given, without reading it again', async () => {
    const t = setup(0);
    await t.live.trialChanged('s1', { id: 't1', status: 'succeeded', finishedAt: new Date('2026-12-01T00:00:00Z') });
    expect(t.trials.findManyByIds).not.toHaveBeenCalled();
    expect(t.published[0]).toEqual({
      type: 'trial',
      sweepId: 's1',
      trial: { id: 't1', status: 'succeeded', finishedAt: '2026-12-01T00:00:00.000Z' },
    });
    // Window 0: the sweep event follows at once.
    expect(t.sweepEvents()).toHaveLength(1);
  });

  it('coalesces many changes in one window into one sweep event carrying the final state', async () => {
    const t = setup(50);
    for (let i = 1; i <= 20; i++) {
      t.state.done = i;
      await t.live.trialChanged('s1', { id: `t${i}` });
      await t.live.sweepChanged('s1');
    }
    expect(t.published.filter((e) => e.type === 'trial')).toHaveLength(20);
    expect(t.sweepEvents()).toHaveLength(0);
    await sleep(120);
    expect(t.reads()).toBe(1);
    expect(t.sweepEvents()).toEqual([
      { type: 'sweep', sweepId: 's1', status: 'running', progress: { total: 10, done: 20, byStatus: { succeeded: 20 } } },
    ]);
  });

  it('keeps sweeps apart, and a change during a recount gets an event of its own', async () => {
    const t = setup(30);
    await t.live.sweepChanged('a');
    await t.live.sweepChanged('b');
    const release = t.hold();
    await sleep(60);
    // Both recounts are under way (held); a change now must not be lost in them.
    expect(t.reads()).toBe(2);
    t.state.status = 'succeeded';
    t.state.done = 10;
    await t.live.sweepChanged('a');
    release();
    await sleep(100);
    const a = t.sweepEvents().filter((e) => e.sweepId === 'a');
    expect(a).toHaveLength(2);
    expect(a[1]).toMatchObject({ status: 'succeeded', progress: { done: 10 } });
    expect(t.sweepEvents().filter((e) => e.sweepId === 'b')).toHaveLength(1);
  });

  it('sends the pending sweep events at shutdown instead of dropping them', async () => {
    const t = setup(60_000);
    t.state.done = 7;
    await t.live.sweepChanged('s1');
    expect(t.sweepEvents()).toHaveLength(0);
    await t.live.onApplicationShutdown();
    expect(t.sweepEvents()).toEqual([expect.objectContaining({ sweepId: 's1', progress: expect.objectContaining({ done: 7 }) })]);
  });

  it('sends the events of one batch window as one pipeline, in publish order, and resolves once sent', async () => {
    const t = setup(60_000, 30);
    const sent = [
      t.live.trialChanged('s1', { id: 't1', status: 'running' }),
      t.live.metrics('s1', 't1', [{ step: 1, split: 'train', name: 'loss', value: 2 }]),
      t.live.logs('s2', 't9', [{ level: 'info', message: 'hi', ts: '2026-12-01T00:00:00.000Z', attempt: 1 } as never]),
      t.live.trialChanged('s1', { id: 't1', status: 'succeeded' }),
    ];
    await sleep(5);
    expect(t.trips).toHaveLength(0);
    await Promise.all(sent);
    expect(t.trips).toEqual([{ kind: 'pipeline', channels: ['p:events:s1', 'p:events:s1', 'p:events:s2', 'p:events:s1'] }]);
    expect(t.published.map((e) => `${e.type}:${e.type === 'trial' ? (e.trial as { status: string }).status : e.sweepId}`)).toEqual([
      'trial:running',
      'metrics:s1',
      'log:s2',
      'trial:succeeded',
    ]);
    // The next event opens a window of its own.
    await t.live.hint('checkpoint', 's1', 't1');
    expect(t.trips).toHaveLength(2);
    expect(t.trips[1]).toEqual({ kind: 'publish', channels: ['p:events:s1'] });
  });

  it('sends the open batch at shutdown, and sends later events at once', async () => {
    const t = setup(60_000, 60_000);
    t.state.done = 3;
    void t.live.trialChanged('s1', { id: 't1' });
    await t.live.onApplicationShutdown();
    expect(t.published.map((e) => e.type)).toEqual(['trial', 'sweep']);
    await t.live.hint('ranks', 's1', 't1');
    expect(t.published.map((e) => e.type)).toEqual(['trial', 'sweep', 'ranks']);
  });

  it('drops a batch Redis refused with a warning, without rejecting, and the next batch goes out', async () => {
    const t = setup(60_000, 10);
    t.fail(true);
    await expect(Promise.all([t.live.hint('ranks', 's1', 't1'), t.live.hint('checkpoint', 's1', 't1')])).resolves.toBeDefined();
    expect(t.published).toHaveLength(0);
    t.fail(false);
    await t.live.hint('importance', 's1', 't1');
    expect(t.published.map((e) => e.type)).toEqual(['importance']);
  });

  it('without a window (0), publishes one sweep event per change', async () => {
    const t = setup(0);
    await t.live.trialsChanged('s1', ['t1', 't2']);
    await t.live.sweepChanged('s1');
    expect(t.trials.findManyByIds).toHaveBeenCalledWith(['t1', 't2']);
    expect(t.published.map((e) => e.type)).toEqual(['trial', 'trial', 'sweep', 'sweep']);
  });
});
