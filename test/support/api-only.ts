// The real API in this process (HTTP on a free port) with Postgres and Redis but no worker: for
// specs about the API itself. Its Redis prefix is the run's plus `name`, so spec files never share
// jobs; `stop()` empties and closes its queues.
import type { INestApplication } from '@nestjs/common';
import { loadConfig, redisOptions, type AppConfig } from '@lora/config';
import { QueueName } from '@lora/contracts';
import { ApiTokenRepository, createPrismaClient, type PrismaClient, type PrismaService } from '@lora/db';
import { Queue } from 'bullmq';
import { createApiApp } from '../../apps/api/src/bootstrap';

/** Starts the API on 127.0.0.1 and a free port; returns it with its base URL. */
export async function listenApi(config: AppConfig): Promise<{ app: INestApplication; base: string }> {
  const app: INestApplication = await createApiApp(config);
  await app.listen(0, '127.0.0.1');
  return { app, base: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

/** A new API token (what `lora token create` does), unique per call. */
export async function createToken(prisma: PrismaClient, name: string): Promise<string> {
  const unique = `${name}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  return (await new ApiTokenRepository(prisma as unknown as PrismaService).create(unique)).token;
}

export interface ApiOnly {
  config: AppConfig;
  prisma: PrismaClient;
  app: INestApplication;
  base: string;
  token: string;
  train: Queue;
  plan: Queue;
  stop(): Promise<void>;
}

export async function startApiOnly(name: string, tweak: (c: AppConfig) => AppConfig = (c) => c): Promise<ApiOnly> {
  const env = loadConfig();
  const config = tweak({ ...env, redis: { ...env.redis, prefix: `${env.redis.prefix}-${name}` } });
  const prisma = createPrismaClient(config.db);
  const token = await createToken(prisma, name);
  const connection = redisOptions(config.redis.url);
  const train = new Queue(QueueName.Train, { connection, prefix: config.redis.prefix });
  const plan = new Queue(QueueName.Plan, { connection, prefix: config.redis.prefix });
  const { app, base } = await listenApi(config);
  return {
    config,
    prisma,
    app,
    base,
    token,
    train,
    plan,
    async stop() {
      await app.close();
      for (const q of [train, plan]) {
        await q.obliterate({ force: true }).catch(() => undefined);
        await q.close();
      }
      await prisma.$disconnect();
    },
  };
}
