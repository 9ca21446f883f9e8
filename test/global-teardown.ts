// Drops this run's schema and Redis keys (unless KEEP_TEST_DATA=1, for debugging).
import * as fs from 'node:fs';
import Redis from 'ioredis';
import { Client } from 'pg';
import { RUN_FILE } from './support/run-file';

export default async function globalTeardown(): Promise<void> {
  if (!fs.existsSync(RUN_FILE)) return;
  const run = JSON.parse(fs.readFileSync(RUN_FILE, 'utf8')) as { databaseUrl: string; schema: string; prefix: string; redisUrl: string };
  fs.rmSync(RUN_FILE, { force: true });
  if (process.env.KEEP_TEST_DATA === '1') {
    console.log(`kept test data: schema ${run.schema}, redis prefix ${run.prefix}`);
    return;
  }
  const pg = new Client({ connectionString: run.databaseUrl });
  await pg.connect();
  await pg.query(`DROP SCHEMA IF EXISTS "${run.schema}" CASCADE`);
  await pg.end();
  const redis = new Redis(run.redisUrl);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${run.prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}
