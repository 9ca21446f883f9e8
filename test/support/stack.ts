// The real stack for one e2e spec file: the API in this process (real HTTP) and a worker process,
// on this run's Postgres schema, with a Redis key prefix of the file's own so that spec files
// running in parallel never take each other's jobs.
import { loadConfig, redisOptions, type AppConfig } from '@lora/config';
import { QueueName } from '@lora/contracts';
import { createPrismaClient, type PrismaClient } from '@lora/db';
import { Queue } from 'bullmq';
import { createToken, listenApi } from './api-only';
import { waitFor } from './wait';
import { startWorker, tail, type WorkerProcess } from './worker-process';

export interface Stack {
  config: AppConfig;
  base: string;
  /** An API token of this stack's; `http` sends it unless the headers set `authorization`. */
  token: string;
  worker: WorkerProcess;
  prisma: PrismaClient;
  queue: Queue;
  http: (
    method: string,
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) => Promise<{ status: number; data: any; headers: Headers }>;
  stop(): Promise<void>;
}

/** Where the stack's API and worker connect, instead of this run's shared Postgres/Redis (fault tests). */
export interface StackOverrides {
  databaseUrl?: string;
  databaseSchema?: string;
  redisUrl?: string;
  /** The API's heartbeat interval (it flags a worker lost after 3); give the worker the same via WORKER_HEARTBEAT_MS. */
  heartbeatMs?: number;
  /** Command words put before `node main.js` for the worker (e.g. `ip netns exec <ns>`). */
  workerWrap?: string[];
}

export async function startStack(name: string, workerEnv: Record<string, string> = {}, overrides: StackOverrides = {}): Promise<Stack> {
  const env = loadConfig();
  const prefix = `${env.redis.prefix}-${name}`;
  const config: AppConfig = {
    ...env,
    db: {
      databaseUrl: overrides.databaseUrl ?? env.db.databaseUrl,
      databaseSchema: overrides.databaseSchema ?? env.db.databaseSchema,
    },
    redis: { url: overrides.redisUrl ?? env.redis.url, prefix },
    worker: { ...env.worker, heartbeatMs: overrides.heartbeatMs ?? env.worker.heartbeatMs },
  };
  const prisma = createPrismaClient(config.db);
  const queue = new Queue(QueueName.Train, { connection: redisOptions(config.redis.url), prefix });
  const token = await createToken(prisma, `e2e-${name}`);
  const { app, base } = await listenApi(config);
  const http: Stack['http'] = async (method, url, body, headers = {}) => {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...('authorization' in headers ? {} : { authorization: `Bearer ${token}` }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const type = res.headers.get('content-type') ?? '';
    const data = type.includes('json') ? await res.json() : new Uint8Array(await res.arrayBuffer());
    return { status: res.status, data, headers: res.headers };
  };
  // The worker gets the API's database and Redis unless workerEnv says otherwise (another host's view).
  const worker = startWorker(
    {
      DATABASE_URL: config.db.databaseUrl,
      DATABASE_SCHEMA: config.db.databaseSchema,
      REDIS_URL: config.redis.url,
      ...workerEnv,
      QUEUE_PREFIX: prefix,
    },
    overrides.workerWrap,
  );
  await waitFor(
    'the worker to register',
    async () => {
      if (worker.child.exitCode !== null) throw new Error(`worker exited: ${tail(worker.logFile)}`);
      const r = await http('GET', '/workers');
      return r.data.some((w: { status: string; pid: number }) => w.status === 'online' && w.pid === worker.child.pid);
    },
    60_000,
  );
  return {
    config,
    base,
    token,
    worker,
    prisma,
    queue,
    http,
    async stop() {
      await worker.stop();
      worker.removeLog();
      await queue.close();
      await app.close();
      await prisma.$disconnect();
    },
  };
}
