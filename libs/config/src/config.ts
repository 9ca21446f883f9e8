// The one place that reads process.env: parses it once into a typed, validated object.
// Every process (api, worker, scripts) gets its settings from here.
import { z } from 'zod';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..').replace(/[\\/]dist$/, '');

const intFromEnv = (def: number) => z.coerce.number().int().default(def);

const EnvFields = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: z
    .enum(['0', '1', 'true', 'false'])
    .default('0')
    .transform((v) => v === '1' || v === 'true'),
  API_HOST: z.string().default('127.0.0.1'),
  API_PORT: intFromEnv(3000).pipe(z.number().min(0).max(65535)),
  // Writes always need an API token; reads need one too when this is "token".
  AUTH_READS: z.enum(['public', 'token']).default('public'),
  // Mark the session cookie Secure (set when the API is served over HTTPS).
  AUTH_COOKIE_SECURE: z
    .enum(['0', '1', 'true', 'false'])
    .default('0')
    .transform((v) => v === '1' || v === 'true'),
  // The built dashboard (default: dist/dashboard, written by `npm run build`).
  DASHBOARD_DIR: z.string().optional(),
  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/test'),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
    .default('public'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _ only')
    .default('lora'),
  MODELS_DIR: z.string().default(path.join(ROOT, 'models')),
  WORKER_SLOTS: intFromEnv(1).pipe(z.number().min(1).max(64)),
  WORKER_BACKEND: z.enum(['auto', 'wasm', 'cpu', 'webgpu', 'tensorflow']).default('auto'),
  // wasm threads per training thread: 'auto' (half the logical cores, up to 8) or a count (1: off).
  WORKER_WASM_THREADS: z.union([z.literal('auto'), z.coerce.number().int().min(1).max(8)]).default('auto'),
  WORKER_HEARTBEAT_MS: intFromEnv(5000).pipe(z.number().min(100)),
  WORKER_HOST: z.string().optional(),
  // The device class this worker serves (auto: gpu for webgpu/CUDA backends, else cpu).
  WORKER_DEVICE_CLASS: z.enum(['auto', 'gpu', 'cpu']).default('auto'),
  // Memory a trial may use here, for sweeps' resources.minMemoryGb (default: the host's RAM).
  WORKER_MEMORY_MB: z.coerce.number().int().min(1).optional(),
  // What runs a trial: 'tfjs' trains it (always, in production); 'noop' is the dispatch benchmark's
  // stand-in (bench/dispatch.bench.ts): the job goes through the whole processor path (attempt,
  // lease, status, metrics) but training is one recorded step. Refused when NODE_ENV=production.
  WORKER_TRAINER: z.enum(['tfjs', 'noop']).default('tfjs'),
  METRICS_FLUSH_MS: intFromEnv(500).pipe(z.number().min(10)),
  // A process publishes at most one `sweep` live event (a recount of its progress) per sweep per
  // this many ms; the last change in a window is always followed by one. 0: one per change.
  LIVE_SWEEP_EVENT_MS: intFromEnv(250).pipe(z.number().min(0).max(60_000)),
  // Live events a process publishes within this many ms go to Redis together (one pipeline, in
  // order), so a fast trial's handful of events costs one round trip. 0: each is sent at once.
  LIVE_EVENT_BATCH_MS: intFromEnv(20).pipe(z.number().min(0).max(1000)),
  JOB_ATTEMPTS: intFromEnv(3).pipe(z.number().min(1).max(100)),
  // A train job's lock: renewed every half of it; a dead worker's trial moves on after about 1.5x.
  JOB_LOCK_MS: intFromEnv(30_000).pipe(z.number().min(1000).max(600_000)),
});

const EnvSchema = EnvFields.refine((e) => !(e.WORKER_TRAINER === 'noop' && e.NODE_ENV === 'production'), {
  path: ['WORKER_TRAINER'],
  message: 'noop (benchmarks only: trials are not trained) is not allowed with NODE_ENV=production',
});

export type AppConfig = {
  env: 'development' | 'production' | 'test';
  rootDir: string;
  log: { level: string; pretty: boolean };
  api: { host: string; port: number; authReads: 'public' | 'token'; cookieSecure: boolean; dashboardDir: string };
  db: { databaseUrl: string; databaseSchema: string };
  redis: { url: string; prefix: string };
  modelsDir: string;
  worker: {
    slots: number;
    backend: 'auto' | 'wasm' | 'cpu' | 'webgpu' | 'tensorflow';
    wasmThreads: number | 'auto';
    heartbeatMs: number;
    host?: string;
    deviceClass: 'auto' | 'gpu' | 'cpu';
    memoryMb?: number;
    /** 'noop': benchmarks only (no training; see WORKER_TRAINER). */
    trainer: 'tfjs' | 'noop';
  };
  metricsFlushMs: number;
  /** At most one sweep live event per sweep per this window, per process (0: no coalescing). */
  liveSweepEventMs: number;
  /** Live events published within this window go to Redis as one pipeline (0: each at once). */
  liveEventBatchMs: number;
  jobAttempts: number;
  jobLockMs: number;
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses an environment (default: process.env) into AppConfig; throws naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid environment:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return {
    env: e.NODE_ENV,
    rootDir: ROOT,
    log: { level: e.LOG_LEVEL, pretty: e.LOG_PRETTY },
    api: {
      host: e.API_HOST,
      port: e.API_PORT,
      authReads: e.AUTH_READS,
      cookieSecure: e.AUTH_COOKIE_SECURE,
      dashboardDir: path.resolve(e.DASHBOARD_DIR ?? path.join(ROOT, 'dist', 'dashboard')),
    },
    db: { databaseUrl: e.DATABASE_URL, databaseSchema: e.DATABASE_SCHEMA },
    redis: { url: e.REDIS_URL, prefix: e.QUEUE_PREFIX },
    modelsDir: path.resolve(e.MODELS_DIR),
    worker: {
      slots: e.WORKER_SLOTS,
      backend: e.WORKER_BACKEND,
      wasmThreads: e.WORKER_WASM_THREADS,
      heartbeatMs: e.WORKER_HEARTBEAT_MS,
      host: e.WORKER_HOST,
      deviceClass: e.WORKER_DEVICE_CLASS,
      memoryMb: e.WORKER_MEMORY_MB,
      trainer: e.WORKER_TRAINER,
    },
    metricsFlushMs: e.METRICS_FLUSH_MS,
    liveSweepEventMs: e.LIVE_SWEEP_EVENT_MS,
    liveEventBatchMs: e.LIVE_EVENT_BATCH_MS,
    jobAttempts: e.JOB_ATTEMPTS,
    jobLockMs: e.JOB_LOCK_MS,
  };
}
