// Idempotent submission under concurrency (real API, Postgres, Redis; no worker): 20 identical
// POST /sweeps with one Idempotency-Key store one sweep, one set of trials and one train job per
// trial, and answer one 201 and 200s with the same sweep; 20 requests with one key and different
// bodies store one sweep too, and every other body gets a 409 naming the key.
import type { PrismaClient } from '@lora/db';
import type { Queue } from 'bullmq';
import { startApiOnly, type ApiOnly } from './support/api-only';
import { fetchHttp, sweepTrials } from './support/sweeps';

jest.setTimeout(120_000);

const N = 20;

describe('idempotent submit under concurrency', () => {
  let api: ApiOnly;
  let prisma: PrismaClient;
  let train: Queue;
  let plan: Queue;
  let base: string;
  let token: string;
  const run = Date.now().toString(36);

  beforeAll(async () => {
    api = await startApiOnly('idem');
    ({ prisma, train, plan, base, token } = api);
  });

  afterAll(() => api?.stop());

  const body = (name: string) => ({
    name,
    baseModel: 'sotu-gpt2-small',
    dataset: 'moby-dick',
    variants: ['lora', 'dora'],
    searchSpace: { r: [2, 4] },
    training: { steps: 2 },
  });

  const submit = async (spec: object, key: string) => {
    const r = await fetch(`${base}/sweeps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': key },
      body: JSON.stringify(spec),
    });
    return {
      status: r.status,
      data: (await r.json()) as { id?: string; message?: string; progress?: { total: number }; trials?: unknown },
    };
  };

  const snapshot = async () => ({
    sweeps: await prisma.sweep.count(),
    trials: await prisma.trial.count(),
    trainJobs: Object.values(await train.getJobCounts()).reduce((a, b) => a + b, 0),
    planJobs: Object.values(await plan.getJobCounts()).reduce((a, b) => a + b, 0),
  });

  /** The one sweep stored under the key: its trials, and its train jobs (one per trial, by job id). */
  async function stored(key: string) {
    const sweeps = await prisma.sweep.findMany({ where: { idempotencyKey: key }, include: { trials: true } });
    expect(sweeps).toHaveLength(1);
    const jobs = (await train.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'paused'])).filter(
      (j) => j.data.sweepId === sweeps[0].id,
    );
    return { sweep: sweeps[0], jobs };
  }

  it(`stores one sweep for ${N} concurrent identical requests with one key`, async () => {
    const key = `idem-same-${run}`;
    const before = await snapshot();
    const answers = await Promise.all(Array.from({ length: N }, () => submit(body('same body'), key)));

    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(N - 1);
    const ids = new Set(answers.map((a) => a.data.id));
    expect(ids.size).toBe(1);

    const { sweep, jobs } = await stored(key);
    expect([...ids]).toEqual([sweep.id]);
    expect(sweep.trials).toHaveLength(4); // 2 variants × 2 ranks
    expect(jobs.map((j) => j.data.trialId).sort()).toEqual(sweep.trials.map((t) => t.id).sort());
    expect(await snapshot()).toEqual({
      sweeps: before.sweeps + 1,
      trials: before.trials + 4,
      trainJobs: before.trainJobs + 4,
      planJobs: before.planJobs,
    });
    // Every answer is the same sweep's summary (its trials are paged at GET /sweeps/:id/trials).
    for (const a of answers) {
      expect(a.data.progress?.total).toBe(4);
      expect(a.data).not.toHaveProperty('trials');
    }
    const paged = await sweepTrials(fetchHttp(base, token), sweep.id);
    expect(paged.map((t) => t.id).sort()).toEqual(sweep.trials.map((t) => t.id).sort());
  });

  it(`stores one sweep for ${N} concurrent requests with one key and different bodies; the others get 409 naming the key`, async () => {
    const key = `idem-diff-${run}`;
    const before = await snapshot();
    // Five different bodies, four requests each: the winner's twins may replay (200).
    const names = Array.from({ length: N }, (_, i) => `body ${i % 5}`);
    const answers = await Promise.all(names.map((name) => submit(body(name), key)));

    expect(answers.map((a) => a.status).filter((s) => s >= 500)).toEqual([]);
    const created = answers.filter((a) => a.status === 201);
    expect(created).toHaveLength(1);
    const winner = names[answers.indexOf(created[0])];
    answers.forEach((a, i) => {
      if (a.status === 201) return;
      if (names[i] === winner) {
        expect(a.status).toBe(200);
        expect(a.data.id).toBe(created[0].data.id);
      } else {
        expect(a.status).toBe(409);
        expect(a.data.message).toContain(key);
      }
    });
    expect(answers.filter((a) => a.status === 409)).toHaveLength(N - 4);

    const { sweep, jobs } = await stored(key);
    expect(sweep.id).toBe(created[0].data.id);
    expect(sweep.name).toBe(winner);
    expect(jobs).toHaveLength(4);
    expect(await snapshot()).toEqual({
      sweeps: before.sweeps + 1,
      trials: before.trials + 4,
      trainJobs: before.trainJobs + 4,
      planJobs: before.planJobs,
    });
  });
});
