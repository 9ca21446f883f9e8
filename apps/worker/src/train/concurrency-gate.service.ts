// Fleet-wide cap on a sweep's running trials (budget.maxConcurrent): a Redis sorted set of leases
// per sweep, taken atomically (Lua), renewed while the trial runs, and expiring on its own if the
// worker dies, so a lost host cannot hold a slot for ever.
import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, redisOptions, type AppConfig } from '@lora/config';
import Redis from 'ioredis';

const LEASE_MS = 30_000;

// KEYS[1] lease set; ARGV: now, expiry, member, max, key ttl ms. Returns 1 when the lease is held.
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  return 1
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0`;

type GateRedis = Redis & {
  acquireLease(key: string, now: number, expiry: number, member: string, max: number, ttlMs: number): Promise<number>;
};

export interface Lease {
  release(): Promise<void>;
}

@Injectable()
export class ConcurrencyGate implements OnApplicationShutdown {
  private readonly redis: GateRedis;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.redis = new Redis(redisOptions(config.redis.url)) as GateRedis;
    // EVALSHA of the cached script (ioredis falls back to EVAL once if Redis lost it), instead
    // of sending the script's text with every acquire.
    this.redis.defineCommand('acquireLease', { numberOfKeys: 1, lua: ACQUIRE });
  }

  private key(sweepId: string): string {
    return `${this.config.redis.prefix}:sweep:${sweepId}:running`;
  }

  /** A lease on one of the sweep's `max` slots, or null when all are taken. */
  async acquire(sweepId: string, trialId: string, max: number): Promise<Lease | null> {
    const key = this.key(sweepId);
    const now = Date.now();
    const ok = await this.redis.acquireLease(key, now, now + LEASE_MS, trialId, max, 10 * LEASE_MS);
    if (ok !== 1) return null;
    const timer = setInterval(() => {
      void this.redis.zadd(key, 'XX', Date.now() + LEASE_MS, trialId).catch(() => undefined);
    }, LEASE_MS / 3);
    timer.unref();
    return {
      release: async () => {
        clearInterval(timer);
        await this.redis.zrem(key, trialId).catch(() => undefined);
      },
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}
