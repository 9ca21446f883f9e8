// GET /sweeps/:id and POST /sweeps answer the sweep's summary (real API and Postgres, no worker):
// its fields, model and dataset, trial counts per status and the best train trial by the sweep's
// metric and mode, without trials (those are paged at GET /sweeps/:id/trials). Trial results are
// written straight into Postgres, as a worker would.
import type { PrismaClient } from '@lora/db';
import { startApiOnly, type ApiOnly } from './support/api-only';
import { fetchHttp, sweepTrials, type Http } from './support/sweeps';

jest.setTimeout(60_000);

describe('sweep summary', () => {
  let api: ApiOnly;
  let prisma: PrismaClient;
  let http: Http;
  let sweepId: string;
  let ids: string[];

  beforeAll(async () => {
    api = await startApiOnly('summary');
    prisma = api.prisma;
    http = fetchHttp(api.base, api.token);
  });

  afterAll(() => api?.stop());

  const get = async () => {
    const r = await http('GET', `/sweeps/${sweepId}`);
    expect(r.status).toBe(200);
    return r.data;
  };

  it('POST /sweeps answers the summary: progress, no best yet, no trials', async () => {
    const res = await fetch(`${api.base}/sweeps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${api.token}` },
      body: JSON.stringify({
        name: 'summary e2e',
        baseModel: 'sotu-gpt2-small',
        dataset: 'moby-dick',
        variants: ['lora'],
        searchSpace: { r: [2, 4, 8, 16] },
        training: { steps: 2 },
      }),
    });
    expect(res.status).toBe(201);
    const created = await res.json();
    sweepId = created.id;
    expect(created).toMatchObject({
      name: 'summary e2e',
      status: 'queued',
      metric: 'eval_loss',
      metricMode: 'min',
      baseModel: { name: 'sotu-gpt2-small' },
      dataset: { name: 'moby-dick' },
      progress: { total: 4, done: 0, byStatus: { queued: 4 } },
      best: null,
    });
    expect(created).not.toHaveProperty('trials');
    expect(await get()).toEqual(created);
    ids = (await sweepTrials(http, sweepId)).map((t) => t.id);
    expect(ids).toHaveLength(4);
  });

  it('counts trials per status and names the best by the sweep metric, in min and in max mode', async () => {
    const [a, b, c, d] = ids;
    const set = (id: string, data: object) => prisma.trial.update({ where: { id }, data });
    await set(a, { status: 'succeeded', finalEvalLoss: 2.0, bestEvalLoss: 1.9, tokensPerSec: 100 });
    await set(b, { status: 'succeeded', finalEvalLoss: 1.5, bestEvalLoss: 1.5, tokensPerSec: 50 });
    await set(c, { status: 'failed', error: 'out of memory' });
    // Running: no final loss yet, its best eval so far is the lowest of all, and it is the fastest.
    await set(d, { status: 'running', bestEvalLoss: 1.0, tokensPerSec: 300 });

    const s = await get();
    expect(s.progress).toEqual({ total: 4, done: 3, byStatus: { succeeded: 2, failed: 1, running: 1 } });
    expect(s).not.toHaveProperty('trials');
    // eval_loss (final eval loss, lower is better): b; d has no final loss and comes after every trial with one.
    expect(s.best).toMatchObject({ id: b, finalEvalLoss: 1.5, status: 'succeeded' });
    const board = (await http('GET', `/sweeps/${sweepId}/leaderboard`)).data;
    expect(board[0].id).toBe(s.best.id);

    await prisma.sweep.update({ where: { id: sweepId }, data: { metric: 'eval_loss', metricMode: 'max' } });
    expect((await get()).best.id).toBe(a);

    await prisma.sweep.update({ where: { id: sweepId }, data: { metric: 'tokens_per_sec', metricMode: 'max' } });
    expect((await get()).best).toMatchObject({ id: d, tokensPerSec: 300 });

    await prisma.sweep.update({ where: { id: sweepId }, data: { metric: 'tokens_per_sec', metricMode: 'min' } });
    expect((await get()).best.id).toBe(b);

    await prisma.sweep.update({ where: { id: sweepId }, data: { metric: 'best_eval_loss', metricMode: 'min' } });
    expect((await get()).best.id).toBe(d);
  });

  it('keeps the trials at GET /sweeps/:id/trials, paged', async () => {
    const page = (await http('GET', `/sweeps/${sweepId}/trials?take=3&skip=2`)).data;
    expect(page.total).toBe(4);
    expect(page.items.map((t: { id: string }) => t.id)).toEqual(ids.slice(2));
  });

  it('documents the summary in the OpenAPI document', async () => {
    const doc = (await http('GET', '/docs-json')).data;
    const schema = doc.paths['/sweeps/{id}'].get.responses['200'].content['application/json'].schema;
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['progress', 'best', 'metric', 'metricMode', 'baseModel']));
    expect(schema.properties).not.toHaveProperty('trials');
    expect(doc.paths['/sweeps'].post.responses['201'].content['application/json'].schema.properties).toHaveProperty('best');
    expect(doc.paths['/sweeps/{id}/trials'].get.responses['200'].content['application/json'].schema.properties.items.type).toBe('array');
  });

  it('answers a malformed id with the 400 naming it, and an unknown one with the 404', async () => {
    const bad = await http('GET', '/sweeps/not-a-uuid');
    expect(bad.status).toBe(400);
    expect(bad.data.errors).toEqual([{ field: 'id', message: expect.stringMatching(/UUID/) }]);
    const unknown = '00000000-0000-4000-8000-000000000000';
    const missing = await http('GET', `/sweeps/${unknown}`);
    expect(missing.status).toBe(404);
    expect(missing.data.message).toBe(`sweep ${unknown} not found`);
  });
});
