// API latency under load (issue 7's orchestrator target: p99 < 50 ms at 200 requests/s with 10k
// trials stored). Ours: the real API process (dist/apps/api/src/main.js, its default LOG_LEVEL
// info) on a schema of its own, seeded by bulk SQL with `--trials` finished trials across
// `--sweeps` sweeps, each with an attempt and `--steps` steps of train metrics (loss, lr,
// tokens/s) plus an eval loss every 10 steps. This process fires `--rps` requests/s open-loop
// for `--seconds` (after a 3 s warm-up) over a mix of the dashboard's reads, and measures each
// latency from the moment the request was due (so a stalled server cannot hide its queue).
// Reference, same run, same load generator and rate: a bare Node http server in a child process
// answering one fixed JSON body.
//   node dist/bench/api-latency.bench.js [--trials 10000 --sweeps 20 --steps 30 --rps 200 --seconds 20]
import { Command } from 'commander';
import { loadConfig } from '@lora/config';
import { createTestSchema } from '@lora/db';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { deleteRedisPrefix, percentile } from './support/bench-stack';

const API_MAIN = path.resolve(__dirname, '../apps/api/src/main.js');

interface Route {
  name: string;
  weight: number;
  url: () => string;
}

/** The reference: a bare http server answering a fixed JSON body of a trial's size. */
function refServer(): void {
  const body = JSON.stringify({
    id: '00000000-0000-4000-8000-000000000000',
    sweepId: '00000000-0000-4000-8000-000000000001',
    index: 1,
    variant: 'lora',
    status: 'succeeded',
    hyperparams: { r: 8, alpha: 16, lr: 0.001, dropout: 0, targetModules: ['c_attn', 'c_proj'] },
    finalEvalLoss: 3.21,
    attempts: [{ id: 'a', number: 1, status: 'succeeded' }],
  });
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as net.AddressInfo).port }));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitHttp(url: string, child: ChildProcess, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited (${child.exitCode})`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Open-loop load: request i is due at t0 + i/rps whatever the server does; latency counts from then. */
async function load(
  base: string,
  routes: Route[],
  rps: number,
  seconds: number,
): Promise<{ byRoute: Map<string, number[]>; errors: number }> {
  const total = Math.round(rps * seconds);
  const interval = 1000 / rps;
  const weights = routes.reduce((a, r) => a + r.weight, 0);
  const pick = () => {
    let x = Math.random() * weights;
    for (const r of routes) if ((x -= r.weight) < 0) return r;
    return routes[routes.length - 1];
  };
  const byRoute = new Map<string, number[]>(routes.map((r) => [r.name, []]));
  let errors = 0;
  const inflight: Array<Promise<void>> = [];
  const fire = (due: number) => {
    const route = pick();
    inflight.push(
      fetch(`${base}${route.url()}`)
        .then(async (res) => {
          await res.arrayBuffer();
          if (!res.ok) {
            errors++;
            if (errors <= 3) console.error(`${route.name}: HTTP ${res.status}`);
          }
          byRoute.get(route.name)!.push(performance.now() - due);
        })
        .catch((e: Error) => {
          errors++;
          if (errors <= 3) console.error(`${route.name}: ${e.message} ${(e.cause as Error | undefined)?.message ?? ''}`);
        }),
    );
  };
  const t0 = performance.now() + 10;
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (i < total && t0 + i * interval <= now) fire(t0 + i++ * interval);
      if (i < total) setTimeout(tick, Math.max(0, t0 + i * interval - performance.now()));
      else resolve();
    };
    tick();
  });
  await Promise.all(inflight);
  return { byRoute, errors };
}

export async function seed(pg: Client, o: { trials: number; sweeps: number; steps: number }): Promise<void> {
  const model = await pg.query<{ id: string }>(`SELECT id FROM "BaseModel" WHERE name = 'sotu-gpt2-small'`);
  const data = await pg.query<{ id: string }>(`SELECT id FROM "Dataset" WHERE name = 'moby-dick'`);
  const training = { steps: o.steps, batchSize: 8, seqLen: 128, warmupSteps: 10, schedule: 'cosine', evalEvery: 10, evalBatches: 16 };
  const spec = {
    name: 'bench',
    baseModel: 'sotu-gpt2-small',
    dataset: 'moby-dick',
    variants: ['lora'],
    searchSpace: { r: [4, 8, 16], alpha: [16], lr: [1e-3, 3e-3], targetModules: [['c_attn', 'c_proj']] },
    training,
    budget: { maxTrials: 10_000 },
  };
  const hp = { variant: 'lora', r: 8, alpha: 16, lr: 1e-3, dropout: 0, targetModules: ['c_attn', 'c_proj'], knobs: {}, training };
  const perSweep = Math.ceil(o.trials / o.sweeps);
  await pg.query(
    `INSERT INTO "Sweep" (id, name, status, "baseModelId", "datasetId", spec, "createdAt", "updatedAt", "finishedAt")
     SELECT gen_random_uuid()::text, 'bench sweep ' || g, 'succeeded', $1, $2, $3::jsonb, now() - g * interval '1 hour', now(), now()
       FROM generate_series(1, $4) g`,
    [model.rows[0].id, data.rows[0].id, JSON.stringify(spec), o.sweeps],
  );
  await pg.query(
    `INSERT INTO "Trial" (id, "sweepId", index, variant, hyperparams, status, "trainableParams", "baselineEvalLoss", "finalEvalLoss",
                          "bestEvalLoss", "tokensPerSec", "createdAt", "updatedAt", "startedAt", "finishedAt")
     SELECT gen_random_uuid()::text, s.id, i, 'lora', $1::jsonb, 'succeeded', 12288, 4.5, 3 + random(), 3 + random(), 900 + 200 * random(),
            now(), now(), now(), now()
       FROM "Sweep" s CROSS JOIN generate_series(0, $2 - 1) i`,
    [JSON.stringify(hp), perSweep],
  );
  // The seed's exact trial count: drop the extra ones of the last sweep (perSweep is rounded up).
  await pg.query(`DELETE FROM "Trial" WHERE id IN (SELECT id FROM "Trial" ORDER BY "sweepId", index DESC LIMIT $1)`, [
    perSweep * o.sweeps - o.trials,
  ]);
  await pg.query(
    `INSERT INTO "Attempt" (id, "trialId", number, status, backend, device, "lastStep", "createdAt", "startedAt", "finishedAt")
     SELECT gen_random_uuid()::text, id, 1, 'succeeded', 'wasm', 'cpu', $1, now(), now(), now() FROM "Trial"`,
    [o.steps],
  );
  await pg.query(
    `INSERT INTO "MetricPoint" ("trialId", "attemptId", step, split, name, value)
     SELECT a."trialId", a.id, s, 'train', n, random() FROM "Attempt" a
       CROSS JOIN generate_series(1, $1) s CROSS JOIN unnest(ARRAY['loss', 'lr', 'tokens_per_sec']) n`,
    [o.steps],
  );
  await pg.query(
    `INSERT INTO "MetricPoint" ("trialId", "attemptId", step, split, name, value)
     SELECT a."trialId", a.id, s, 'eval', 'loss', 3 + random() FROM "Attempt" a CROSS JOIN generate_series(0, $1, 10) s`,
    [o.steps],
  );
  // What autovacuum does to tables this size in production: statistics, and the visibility map
  // that lets counts per sweep and status read the (sweepId, status) index alone.
  for (const t of ['Sweep', 'Trial', 'Attempt', 'MetricPoint']) await pg.query(`VACUUM ANALYZE "${t}"`);
}

async function main(): Promise<void> {
  const int = (v: string) => parseInt(v, 10);
  const o = new Command()
    .option('--trials <n>', 'trials stored', int, 10_000)
    .option('--sweeps <n>', 'sweeps they belong to', int, 20)
    .option('--steps <n>', 'train steps of metrics per trial (3 points each, plus an eval loss every 10)', int, 30)
    .option('--rps <n>', 'requests per second, open loop', int, 200)
    .option('--seconds <n>', 'measured seconds (after a 3 s warm-up)', int, 20)
    .option('--log-level <level>', "the API's LOG_LEVEL (info logs every request, as in production)", 'info')
    .option('--exclude <regex>', 'leave the routes whose name matches out of the mix (diagnosis)')
    .option('--api-node-args <args>', 'node options for the API process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"', '')
    .parse()
    .opts<{
      trials: number;
      sweeps: number;
      steps: number;
      rps: number;
      seconds: number;
      logLevel: string;
      apiNodeArgs: string;
      exclude?: string;
    }>();

  const env = loadConfig();
  const db = await createTestSchema(env.db.databaseUrl);
  const prefix = `bench-api-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const children: ChildProcess[] = [];
  const cleanup = async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await deleteRedisPrefix(env.redis.url, prefix);
    await db.drop();
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().finally(() => process.exit(130)));

  const pg = new Client({ connectionString: db.connectionString });
  let ours: Awaited<ReturnType<typeof load>>;
  let ref: Awaited<ReturnType<typeof load>>;
  let seedS: number;
  const alone = new Map<string, number>();
  try {
    await pg.connect();
    const port = await freePort();
    const api = spawn(process.execPath, [...o.apiNodeArgs.split(' ').filter(Boolean), API_MAIN], {
      env: {
        ...process.env,
        NODE_ENV: 'production',
        LOG_LEVEL: o.logLevel,
        API_HOST: '127.0.0.1',
        API_PORT: String(port),
        DATABASE_URL: env.db.databaseUrl,
        DATABASE_SCHEMA: db.schema,
        REDIS_URL: env.redis.url,
        QUEUE_PREFIX: prefix,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(api);
    const base = `http://127.0.0.1:${port}`;
    await waitHttp(`${base}/health`, api);
    // The API registers the shipped catalog at start; the seed references it.
    const t0 = performance.now();
    await seed(pg, o);
    seedS = (performance.now() - t0) / 1000;
    const sweepIds = (await pg.query<{ id: string }>(`SELECT id FROM "Sweep"`)).rows.map((r) => r.id);
    const trialIds = (await pg.query<{ id: string }>(`SELECT id FROM "Trial" ORDER BY random() LIMIT 2000`)).rows.map((r) => r.id);
    const any = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
    // The dashboard's reads (weights in %). GET /sweeps/:id is the sweep's summary (progress, best
    // trial; until 2026-12 it carried every trial, ~390 kB at 500); /sweeps/:id/trials pages them.
    const perSweep = Math.ceil(o.trials / o.sweeps);
    const mix: Route[] = [
      { name: 'GET /sweeps', weight: 10, url: () => '/sweeps?take=20' },
      { name: 'GET /sweeps/:id', weight: 5, url: () => `/sweeps/${any(sweepIds)}` },
      {
        name: 'GET /sweeps/:id/trials (pages of 50)',
        weight: 10,
        url: () => `/sweeps/${any(sweepIds)}/trials?take=50&skip=${50 * Math.floor((Math.random() * perSweep) / 50)}`,
      },
      { name: 'GET /sweeps/:id/leaderboard', weight: 10, url: () => `/sweeps/${any(sweepIds)}/leaderboard?take=50` },
      { name: 'GET /trials/:id', weight: 30, url: () => `/trials/${any(trialIds)}` },
      { name: 'GET /trials/:id/metrics (loss)', weight: 25, url: () => `/trials/${any(trialIds)}/metrics?name=loss` },
      { name: 'GET /trials/:id/metrics (all)', weight: 10, url: () => `/trials/${any(trialIds)}/metrics` },
    ];
    const routes = o.exclude ? mix.filter((r) => !new RegExp(o.exclude!).test(r.name)) : mix;
    // Each route alone, one request at a time: its service time without queueing.
    for (const r of routes) {
      const xs: number[] = [];
      for (let k = 0; k < 20; k++) {
        const t = performance.now();
        await (await fetch(`${base}${r.url()}`)).arrayBuffer();
        xs.push(performance.now() - t);
      }
      alone.set(r.name, percentile(xs, 50));
    }
    await load(base, routes, o.rps, 3);
    ours = await load(base, routes, o.rps, o.seconds);

    const refChild = fork(__filename, ['--ref-server'], { stdio: 'inherit' });
    children.push(refChild);
    const refPort = await new Promise<number>((resolve) => refChild.once('message', (m: { port: number }) => resolve(m.port)));
    const refRoutes: Route[] = [{ name: 'reference', weight: 1, url: () => '/' }];
    await load(`http://127.0.0.1:${refPort}`, refRoutes, o.rps, 3);
    ref = await load(`http://127.0.0.1:${refPort}`, refRoutes, o.rps, o.seconds);
  } finally {
    await pg.end().catch(() => undefined);
    await cleanup();
  }

  const f = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));
  const all = [...ours.byRoute.values()].flat();
  const refAll = [...ref.byRoute.values()].flat();
  console.log(
    `\nAPI latency, ${o.trials.toLocaleString('en-US')} trials in ${o.sweeps} sweeps (${o.steps} steps of metrics each; seeded in ${seedS.toFixed(0)} s), ${o.rps} requests/s open loop for ${o.seconds} s, API LOG_LEVEL=${o.logLevel}, ${os.cpus().length} CPU cores\n`,
  );
  console.log('| route | requests | p50 ms | p95 ms | p99 ms | p99 < 50 ms | alone, p50 ms |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  const row = (name: string, xs: number[]) =>
    console.log(
      `| ${name} | ${xs.length} | ${f(percentile(xs, 50))} | ${f(percentile(xs, 95))} | ${f(percentile(xs, 99))} | ${percentile(xs, 99) < 50 ? 'met' : 'missed'} | ${alone.has(name) ? f(alone.get(name)!) : ''} |`,
    );
  for (const [name, xs] of ours.byRoute) row(name, xs);
  row('**ours: all routes**', all);
  row('reference: bare node http, fixed JSON', refAll);
  console.log(
    `\nerrors: ours ${ours.errors}, reference ${ref.errors}   ratio p99 ours/reference: ${(percentile(all, 99) / percentile(refAll, 99)).toFixed(1)}x   target p99 < 50 ms: ${percentile(all, 99) < 50 && ours.errors === 0 ? 'met' : 'missed'}`,
  );
}

if (process.argv[2] === '--ref-server') refServer();
else if (require.main === module)
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
