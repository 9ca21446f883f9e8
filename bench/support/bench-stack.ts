// The orchestrator benchmarks' own stack: a fresh migrated Postgres schema, a Redis key prefix of
// their own, the real API in this process (HTTP on 127.0.0.1) and real worker processes (the
// built dist/ entry point). `stop()` stops the workers and the API, deletes every Redis key under
// the prefix and drops the schema, so a run leaves nothing behind.
import type { INestApplication } from '@nestjs/common';
import { loadConfig, redisOptions, type AppConfig } from '@lora/config';
import { createPrismaClient, createTestSchema, type PrismaClient } from '@lora/db';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { createToken, listenApi } from '../../test/support/api-only';
import { waitFor } from '../../test/support/wait';
import { startWorker, tail, type WorkerProcess } from '../../test/support/worker-process';

export interface BenchStack {
  config: AppConfig;
  prisma: PrismaClient;
  app: INestApplication;
  base: string;
  token: string;
  workers: WorkerProcess[];
  /** JSON request to the API with the stack's token; throws on a non-2xx answer. */
  http<T = unknown>(method: string, url: string, body?: unknown): Promise<T>;
  /** Starts `n` more worker processes with `env` and waits until they are online. */
  startWorkers(n: number, env?: Record<string, string>): Promise<WorkerProcess[]>;
  stop(): Promise<void>;
}

export async function startBenchStack(name: string): Promise<BenchStack> {
  const env = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const db = await createTestSchema(env.db.databaseUrl);
  const prefix = `bench-${name}-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const config: AppConfig = {
    ...env,
    db: { databaseUrl: env.db.databaseUrl, databaseSchema: db.schema },
    redis: { url: env.redis.url, prefix },
  };
  const prisma = createPrismaClient(config.db);
  const workers: WorkerProcess[] = [];
  let app: INestApplication | null = null;
  const stop = async () => {
    await Promise.all(workers.map((w) => w.stop()));
    for (const w of workers) w.removeLog();
    await app?.close();
    await prisma.$disconnect();
    await deleteRedisPrefix(config.redis.url, prefix);
    await db.drop();
  };
  try {
    const token = await createToken(prisma, name);
    const listening = await listenApi(config);
    app = listening.app;
    const base = listening.base;
    const http = async (method: string, url: string, body?: unknown) => {
      const res = await fetch(`${base}${url}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const data = await res.json();
      if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(data).slice(0, 500)}`);
      return data;
    };
    const startWorkers = async (n: number, extra: Record<string, string> = {}) => {
      const started = Array.from({ length: n }, () =>
        startWorker({
          DATABASE_URL: config.db.databaseUrl,
          DATABASE_SCHEMA: config.db.databaseSchema,
          REDIS_URL: config.redis.url,
          QUEUE_PREFIX: prefix,
          NODE_ENV: 'test',
          LOG_LEVEL: 'warn',
          ...extra,
        }),
      );
      workers.push(...started);
      await waitFor(
        `${n} workers to register`,
        async () => {
          for (const w of started) if (w.child.exitCode !== null) throw new Error(`worker exited: ${tail(w.logFile)}`);
          const online = await prisma.worker.count({ where: { status: 'online', pid: { in: started.map((w) => w.child.pid!) } } });
          return online === n;
        },
        120_000,
      );
      return started;
    };
    return { config, prisma, app, base, token, workers, http, startWorkers, stop };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

/** Deletes every Redis key under `prefix:`. */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(redisOptions(url));
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** p-th percentile (0..100) of `xs`, nearest rank. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Ends the process on Ctrl-C after cleaning up (the stack's `stop`). */
export function stopOnSignal(stop: () => Promise<void>): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      void stop().finally(() => process.exit(130));
    });
}
