// Fault injection: restart Redis (AOF on, fsync always) and, separately, Postgres in the middle
// of a sweep. Each case runs against a throwaway server of its own (the other service is this
// run's shared one) and asserts the sweep still completes with nothing lost or duplicated.
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { Client } from 'pg';
import { applyMigrations } from '../libs/db/src/migrate';
import { startStack, type Stack, type StackOverrides } from './support/stack';
import { startPostgres, startRedis, type ThrowawayServer } from './support/throwaway';
import { waitFor } from './support/wait';
import { tail } from './support/worker-process';
import { sweepTrials, sweepWithTrials } from './support/sweeps';

jest.setTimeout(6 * 60_000);

const STEPS = 60;
const EVAL_EVERY = 20;
/** How long the server stays down (FAULTS_DOWNTIME_MS to try longer outages). */
const DOWNTIME_MS = Number(process.env.FAULTS_DOWNTIME_MS ?? 2500);

const spec = (name: string) => ({
  name,
  baseModel: 'sotu-gpt2-small',
  dataset: 'moby-dick',
  variants: ['lora'],
  searchSpace: { r: [2, 4], lr: [1e-3] },
  training: { steps: STEPS, batchSize: 4, seqLen: 64, evalEvery: EVAL_EVERY, checkpointEvery: 20, evalBatches: 2, logEvery: 1 },
});

type Attempt = { number: number; status: string; workerId: string | null; error: string | null };
type Trial = { id: string; status: string; attempts: Attempt[] };

const steps = async (stack: Stack, trialId: string, split: 'train' | 'eval') =>
  ((await stack.http('GET', `/trials/${trialId}/metrics?name=loss&split=${split}&take=10000`)).data as Array<{ step: number }>).map(
    (p) => p.step,
  );

/**
 * Submits the sweep, waits until its first trial has logged ≥ 10 steps, restarts `server`,
 * then waits for the sweep to finish and checks that nothing was lost.
 */
async function sweepSurvivesRestart(stack: Stack, server: ThrowawayServer, label: string): Promise<void> {
  const submitted = await stack.http('POST', '/sweeps', spec(`faults: restart ${label}`));
  expect(submitted.status).toBe(201);
  const sweep = { id: submitted.data.id as string, trials: (await sweepTrials(stack.http, submitted.data.id)) as Array<{ id: string }> };
  expect(sweep.trials).toHaveLength(2);
  const first = sweep.trials[0].id;
  await waitFor('the first trial to log 10 steps', async () => (await steps(stack, first, 'train')).length >= 10, 120_000, 200);
  const stepsBefore = (await steps(stack, first, 'train')).length;

  const t0 = Date.now();
  const { downMs } = await server.restart({ downtimeMs: DOWNTIME_MS });
  const upAt = Date.now();
  const stepsAtUp = (await steps(stack, first, 'train')).length;
  // Recovery, seen from both stores: a train step the first trial had not logged when the server
  // came back (Postgres), and a BullMQ progress update newer than that (Redis), or the job done.
  const job = `train-${first}`;
  const recovered = { postgresMs: -1, redisMs: -1 };
  await waitFor(
    'training to make progress after the restart',
    async () => {
      const j = await stack.queue.getJob(job);
      const state = await j?.getState();
      const jobStep = (j?.progress as { step?: number } | undefined)?.step ?? 0;
      if (recovered.redisMs < 0 && (jobStep > stepsAtUp || state === 'completed')) recovered.redisMs = Date.now() - upAt;
      if (recovered.postgresMs < 0 && (await steps(stack, first, 'train')).length > stepsAtUp) recovered.postgresMs = Date.now() - upAt;
      return recovered.redisMs >= 0 && recovered.postgresMs >= 0;
    },
    120_000,
    100,
  ).catch((e) => {
    throw new Error(`${(e as Error).message}\n--- worker log ---\n${tail(stack.worker.logFile, 60)}`);
  });

  const done = await waitFor(
    'the sweep to finish',
    async () => {
      const s = (await stack.http('GET', `/sweeps/${sweep.id}`)).data;
      return s.progress?.done === 2 && !['queued', 'running'].includes(s.status) ? sweepWithTrials(stack.http, sweep.id) : null;
    },
    4 * 60_000,
    500,
  ).catch((e) => {
    throw new Error(`${(e as Error).message}\n--- worker log ---\n${tail(stack.worker.logFile, 60)}`);
  });
  const finishedMs = Date.now() - t0;

  const trials: Trial[] = [];
  for (const t of done.trials as Array<{ id: string }>) trials.push((await stack.http('GET', `/trials/${t.id}`)).data);
  const summary = trials.map(
    (t) =>
      `${t.id.slice(0, 8)}: ${t.status}, attempts ${t.attempts.map((a) => `${a.number}=${a.status}${a.error ? ` (${a.error})` : ''}`).join(', ')}`,
  );
  console.log(
    `[${label} restart] first trial at step ${stepsBefore} when the server stopped, ${stepsAtUp} when it was back; down ${downMs} ms; ` +
      `new steps in Postgres ${recovered.postgresMs} ms and new job progress in Redis ${recovered.redisMs} ms after it was back; ` +
      `sweep finished ${finishedMs} ms after the restart began\n${summary.join('\n')}`,
  );

  expect({ sweep: done.status, trials: trials.map((t) => t.status) }).toEqual({ sweep: 'succeeded', trials: ['succeeded', 'succeeded'] });
  for (const t of trials) {
    expect(await steps(stack, t.id, 'train')).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    expect(await steps(stack, t.id, 'eval')).toEqual([0, 20, 40, 60]);
    const checkpoints = (await stack.http('GET', `/trials/${t.id}/checkpoints`)).data as Array<{ step: number; isFinal: boolean }>;
    expect(checkpoints.filter((c) => c.isFinal).map((c) => c.step)).toEqual([STEPS]);
    // Attempts: numbered 1..n, exactly one succeeded (the last), none left open.
    expect(t.attempts.length).toBeGreaterThanOrEqual(1);
    expect(t.attempts.map((a) => a.number)).toEqual(t.attempts.map((_, i) => i + 1));
    expect(t.attempts.filter((a) => a.status === 'succeeded')).toHaveLength(1);
    expect(t.attempts[t.attempts.length - 1].status).toBe('succeeded');
    // Earlier attempts, if any, ended (failed or preempted): none is left open.
    const earlier = t.attempts.slice(0, -1).filter((a) => a.status === 'running' || a.status === 'queued');
    expect(earlier).toEqual([]);
  }
}

describe('fault injection: server restarts during a sweep', () => {
  describe('Redis (AOF, fsync always) restarts', () => {
    let redis: ThrowawayServer | undefined;
    let stack: Stack | undefined;
    beforeAll(async () => {
      redis = await startRedis({ aof: true });
    });
    afterAll(async () => {
      await stack?.stop();
      await redis?.stop();
    });

    it('self-check: the throwaway Redis keeps its data across a restart (AOF reload)', async () => {
      const c = new Redis(redis!.url, { maxRetriesPerRequest: null });
      await c.set('faults:self-check', 'kept');
      c.disconnect();
      await redis!.restart();
      const d = new Redis(redis!.url);
      expect(await d.get('faults:self-check')).toBe('kept');
      await d.del('faults:self-check');
      d.disconnect();
    });

    it('completes the sweep with nothing lost', async () => {
      stack = await startStack('restart-redis', {}, { redisUrl: redis!.url });
      await sweepSurvivesRestart(stack, redis!, 'Redis');
    });
  });

  describe('Postgres restarts', () => {
    let pg: ThrowawayServer | undefined;
    let stack: Stack | undefined;
    const overrides: StackOverrides = {};
    beforeAll(async () => {
      pg = await startPostgres();
      overrides.databaseUrl = pg.url;
      overrides.databaseSchema = `faults_${randomBytes(3).toString('hex')}`;
      await applyMigrations({ connectionString: pg.url, schema: overrides.databaseSchema });
    });
    afterAll(async () => {
      await stack?.stop();
      await pg?.stop();
      // The queue prefix lives in the shared Redis: global teardown removes its keys.
    });

    it('self-check: the throwaway Postgres keeps its data across a restart', async () => {
      const q = async (sql: string) => {
        const c = new Client({ connectionString: pg!.url });
        await c.connect();
        try {
          return (await c.query(sql)).rows;
        } finally {
          await c.end();
        }
      };
      await q("CREATE TABLE self_check (v text); INSERT INTO self_check VALUES ('kept')");
      await pg!.restart();
      expect(await q('SELECT v FROM self_check')).toEqual([{ v: 'kept' }]);
      await q('DROP TABLE self_check');
    });

    it('completes the sweep with nothing lost', async () => {
      stack = await startStack('restart-postgres', {}, overrides);
      await sweepSurvivesRestart(stack, pg!, 'Postgres');
    });
  });
});
