// The fleet-wide concurrency gate against the real Redis, on a key prefix of its own: the cap
// holds, a released slot is free again (sent with the next acquire or on its own shortly after),
// and shutdown sends what is pending.
import { loadConfig, redisOptions, type AppConfig } from '@lora/config';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { ConcurrencyGate, RELEASE_BATCH_MS } from './concurrency-gate.service';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ConcurrencyGate (real Redis)', () => {
  const env = loadConfig();
  const prefix = `${env.redis.prefix}-gate-${randomBytes(4).toString('hex')}`;
  const config = { ...env, redis: { url: env.redis.url, prefix } } as AppConfig;
  const redis = new Redis(redisOptions(env.redis.url));
  const key = (sweepId: string) => `${prefix}:sweep:${sweepId}:running`;
  const members = async (sweepId: string) => (await redis.zrange(key(sweepId), 0, -1)).sort();
  const gates: ConcurrencyGate[] = [];
  const gate = () => {
    const g = new ConcurrencyGate(config);
    gates.push(g);
    return g;
  };

  afterAll(async () => {
    for (const g of gates) await g.onApplicationShutdown();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('holds the cap across workers, and a slot released here is taken again by the next acquire', async () => {
    const a = gate();
    const b = gate();
    const l1 = await a.acquire('s1', 't1', 2);
    const l2 = await b.acquire('s1', 't2', 2);
    expect(l1).not.toBeNull();
    expect(l2).not.toBeNull();
    expect(await a.acquire('s1', 't3', 2)).toBeNull();
    expect(await b.acquire('s1', 't3', 2)).toBeNull();
    expect(await members('s1')).toEqual(['t1', 't2']);

    // The release waits for this worker's next acquire and goes first in its round trip.
    await l1!.release();
    const l3 = await a.acquire('s1', 't3', 2);
    expect(l3).not.toBeNull();
    expect(await members('s1')).toEqual(['t2', 't3']);
    // Another worker finds the cap full again.
    expect(await b.acquire('s1', 't4', 2)).toBeNull();
  });

  it('sends a release on its own when no acquire follows, within the batch window', async () => {
    const a = gate();
    const l = await a.acquire('s2', 't1', 1);
    expect(l).not.toBeNull();
    await l!.release();
    await l!.release(); // twice is once
    expect(await members('s2')).toEqual(['t1']);
    await sleep(RELEASE_BATCH_MS + 80);
    expect(await members('s2')).toEqual([]);
    expect(await gate().acquire('s2', 't2', 1)).not.toBeNull();
  });

  it('sends pending releases at shutdown', async () => {
    const a = new ConcurrencyGate(config);
    const l = await a.acquire('s3', 't1', 1);
    await l!.release();
    await a.onApplicationShutdown();
    expect(await members('s3')).toEqual([]);
  });
});
