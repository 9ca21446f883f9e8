// Gives this test run its own Postgres schema (migrated) and Redis key prefix, so concurrent
// runs on one machine never collide. Children (workers, Jest workers) inherit them via env.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { applyMigrations } from '../libs/db/src/migrate';
import { RUN_FILE } from './support/run-file';

export default async function globalSetup(): Promise<void> {
  const tag = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const databaseUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
  const schema = `e2e_${tag}`;
  const prefix = `e2e-${tag}`;
  await applyMigrations({ connectionString: databaseUrl, schema });
  process.env.DATABASE_URL = databaseUrl;
  process.env.DATABASE_SCHEMA = schema;
  process.env.QUEUE_PREFIX = prefix;
  process.env.REDIS_URL ??= 'redis://127.0.0.1:6379';
  process.env.NODE_ENV = 'test';
  process.env.LOG_LEVEL ??= 'warn';
  fs.writeFileSync(RUN_FILE, JSON.stringify({ databaseUrl, schema, prefix, redisUrl: process.env.REDIS_URL }));
}
