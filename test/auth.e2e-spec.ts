// API tokens on the real API (HTTP, Postgres, Redis; no worker needed): writes need a live token,
// reads need one only with AUTH_READS=token, the dashboard's session cookie works like a bearer
// token, and bull-board sits behind the same check.
import type { INestApplication } from '@nestjs/common';
import { loadConfig, redisOptions, type AppConfig } from '@lora/config';
import { QueueName } from '@lora/contracts';
import { ApiTokenRepository, createPrismaClient, type PrismaClient, type PrismaService } from '@lora/db';
import { Queue } from 'bullmq';
import { createApiApp } from '../apps/api/src/bootstrap';

jest.setTimeout(120_000);

async function start(config: AppConfig) {
  const app: INestApplication = await createApiApp(config);
  await app.listen(0, '127.0.0.1');
  return { app, base: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

describe('API tokens', () => {
  const env = loadConfig();
  const config: AppConfig = { ...env, redis: { ...env.redis, prefix: `${env.redis.prefix}-auth` } };
  let prisma: PrismaClient;
  let tokens: ApiTokenRepository;
  let queue: Queue;
  let open: { app: INestApplication; base: string };
  let closed: { app: INestApplication; base: string };
  let token: string;
  const suffix = Date.now().toString(36);
  const spec = { baseModel: 'sotu-gpt2-small', dataset: 'moby-dick', variants: ['lora'], training: { steps: 2 } };

  beforeAll(async () => {
    prisma = createPrismaClient(config.db);
    tokens = new ApiTokenRepository(prisma as unknown as PrismaService);
    queue = new Queue(QueueName.Train, { connection: redisOptions(config.redis.url), prefix: config.redis.prefix });
    token = (await tokens.create(`auth-${suffix}`)).token;
    open = await start(config);
    closed = await start({ ...config, api: { ...config.api, authReads: 'token' } });
  });

  afterAll(async () => {
    await open?.app.close();
    await closed?.app.close();
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    await prisma?.$disconnect();
  });

  const call = (base: string, method: string, url: string, opts: { token?: string; cookie?: string; body?: unknown } = {}) =>
    fetch(`${base}${url}`, {
      method,
      redirect: 'manual',
      headers: {
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.cookie ? { cookie: opts.cookie } : {}),
      },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
  const counts = () => Promise.all([prisma.sweep.count(), prisma.trial.count(), queue.count()]);

  it('refuses a write without a token, or with an unknown one, with 401 and writes nothing', async () => {
    const before = await counts();
    const none = await call(open.base, 'POST', '/sweeps', { body: spec });
    expect(none.status).toBe(401);
    expect((await none.json()).message).toMatch(/API token/);
    const bogus = await call(open.base, 'POST', '/sweeps', { body: spec, token: 'lora_not-a-real-token' });
    expect(bogus.status).toBe(401);
    expect((await bogus.json()).message).toMatch(/unknown or revoked/);
    expect((await call(open.base, 'POST', '/sweeps/00000000-0000-4000-8000-000000000000/cancel')).status).toBe(401);
    expect(await counts()).toEqual(before);
  });

  it('accepts a write with a live token and stores only its hash', async () => {
    const r = await call(open.base, 'POST', '/sweeps', { body: spec, token });
    expect(r.status).toBe(201);
    const row = await prisma.apiToken.findUnique({ where: { name: `auth-${suffix}` } });
    expect(row?.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(token);
    expect(row?.lastUsedAt).not.toBeNull();
    const id = (await r.json()).id as string;
    expect((await call(open.base, 'POST', `/sweeps/${id}/cancel`, { token })).status).toBe(202);
  });

  it('serves reads to anyone by default, and only with a token when AUTH_READS=token', async () => {
    expect((await call(open.base, 'GET', '/sweeps')).status).toBe(200);
    const denied = await call(closed.base, 'GET', '/sweeps');
    expect(denied.status).toBe(401);
    expect((await denied.json()).message).toMatch(/reads need an API token/);
    expect((await call(closed.base, 'GET', '/sweeps', { token })).status).toBe(200);
    expect((await call(closed.base, 'GET', '/health')).status).toBe(200);
    expect((await call(closed.base, 'GET', '/auth/session')).status).toBe(200);
  });

  it('logs the dashboard in with an HttpOnly cookie that authenticates writes, reads and logout', async () => {
    const bad = await call(closed.base, 'POST', '/auth/session', { body: { token: 'lora_wrong' } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();
    const login = await call(closed.base, 'POST', '/auth/session', { body: { token } });
    expect(login.status).toBe(204);
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/lora_session=/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    const cookie = setCookie.split(';')[0];
    const me = await (await call(closed.base, 'GET', '/auth/session', { cookie })).json();
    expect(me).toEqual({ authenticated: true, name: `auth-${suffix}`, readsNeedToken: true });
    expect((await call(closed.base, 'GET', '/sweeps', { cookie })).status).toBe(200);
    // A write with the cookie gets past auth (404: no such trial, not 401).
    expect((await call(closed.base, 'POST', '/trials/00000000-0000-4000-8000-000000000000/cancel', { cookie })).status).toBe(404);
    const out = await call(closed.base, 'DELETE', '/auth/session', { cookie });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/lora_session=;/);
  });

  it('puts bull-board behind the token', async () => {
    expect((await call(open.base, 'GET', '/admin/queues')).status).toBe(401);
    const page = await call(open.base, 'GET', '/admin/queues', { token });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    const api = await call(open.base, 'GET', '/admin/queues/api/queues?activeQueue=train&page=1&jobsPerPage=10', { token });
    expect(api.status).toBe(200);
    const names = ((await api.json()).queues as Array<{ name: string }>).map((q) => q.name).sort();
    expect(names).toEqual(['plan', 'train', 'train-cpu', 'train-gpu']);
  });

  it('serves the dashboard at / (built by npm run build)', async () => {
    const r = await call(open.base, 'GET', '/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
    expect(await r.text()).toMatch(/<div id="root">/);
  });

  it('refuses a revoked token', async () => {
    const { token: t } = await tokens.create(`auth-revoke-${suffix}`);
    expect((await call(open.base, 'POST', '/trials/00000000-0000-4000-8000-000000000000/cancel', { token: t })).status).toBe(404);
    expect(await tokens.revoke(`auth-revoke-${suffix}`)).toBe(true);
    expect((await call(open.base, 'POST', '/trials/00000000-0000-4000-8000-000000000000/cancel', { token: t })).status).toBe(401);
  });
});
