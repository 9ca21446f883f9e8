// Fleet-wide cap on a sweep's running trials (budget.maxConcurrent): a Redis sorted set of leases
// per sweep, taken atomically (Lua), renewed while the trial runs, and expiring on its own if the
// worker dies, so a lost host cannot hold a slot for ever. A release goes out with this worker's
// next acquire (one round trip for both) or RELEASE_BATCH_MS later, whichever comes first.
import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, redisOptions, type AppConfig } from '@lora/config';
import Redis from 'ioredis';

const LEASE_MS = 30_000;
/** How long a release may wait for this worker's next acquire to travel with. */
export const RELEASE_BATCH_MS = 20;

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
  /** Released leases not yet sent (key, member), and the timer that sends them alone. */
  private releases: Array<[string, string]> = [];
  private releaseTimer: NodeJS.Timeout | null = null;

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
    let ok: unknown;
    const pending = this.takeReleases();
    if (pending.length === 0) ok = await this.redis.acquireLease(key, now, now + LEASE_MS, trialId, max, 10 * LEASE_MS);
    else {
      // The pending releases first, then the acquire, in one round trip (in this order: a slot
      // this worker just gave back is free for it again).
      const p = this.redis.pipeline() as ReturnType<Redis['pipeline']> & {
        acquireLease(key: string, now: number, expiry: number, member: string, max: number, ttlMs: number): unknown;
      };
      for (const [k, member] of pending) p.zrem(k, member);
      p.acquireLease(key, now, now + LEASE_MS, trialId, max, 10 * LEASE_MS);
      const results = await p.exec().catch((e: Error) => {
        // Not sent: they go with the next try (or expire with their leases).
        this.releases.unshift(...pending);
        this.scheduleReleases();
        throw e;
      });
      const [err, value] = results?.[results.length - 1] ?? [new Error('no reply to the lease acquire')];
      if (err) throw err;
      ok = value;
    }
    if (ok !== 1) return null;
    const timer = setInterval(() => {
      void this.redis.zadd(key, 'XX', Date.now() + LEASE_MS, trialId).catch(() => undefined);
    }, LEASE_MS / 3);
    timer.unref();
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        this.releases.push([key, trialId]);
        this.scheduleReleases();
      },
    };
  }

  /** Sends the pending releases RELEASE_BATCH_MS from now, unless an acquire takes them first. */
  private scheduleReleases(): void {
    this.releaseTimer ??= setTimeout(() => void this.sendReleases(), RELEASE_BATCH_MS);
  }

  private takeReleases(): Array<[string, string]> {
    if (this.releaseTimer) clearTimeout(this.releaseTimer);
    this.releaseTimer = null;
    const r = this.releases;
    this.releases = [];
    return r;
  }

  /** Sends the pending releases now (best effort: an unsent one expires with its lease). */
  private async sendReleases(): Promise<void> {
    const pending = this.takeReleases();
    if (pending.length === 0) return;
    const p = this.redis.pipeline();
    for (const [k, member] of pending) p.zrem(k, member);
    await p.exec().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sendReleases();
    await this.redis.quit().catch(() => undefined);
  }
}
