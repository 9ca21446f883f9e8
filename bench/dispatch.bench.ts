// Dispatch throughput (issue 7's orchestrator target: ≥ 500 trials/s with a no-op trainer across 8
// worker processes). Ours: one sweep of `--trials` trials submitted through the real API
// (POST /sweeps: Postgres rows + BullMQ jobs), run by `--workers` real worker processes with
// WORKER_TRAINER=noop (each job takes the whole processor path: attempt row, concurrency lease,
// trial/sweep status, metric and log writes, live events; only the training is skipped); trials/s
// from the first attempt's start to the last trial's finish (Postgres timestamps).
// Reference, same run, same Redis: as many jobs through bare BullMQ Workers doing nothing, in as
// many processes with the same concurrency; jobs/s from the first pickup to the last completion.
// Both sides are measured warm: `--warmup` trials (jobs) go through the same processes first, untimed
// (a fresh Node process runs its first few hundred jobs in V8's interpreter and baseline tiers, and
// a worker is a long-lived process: the steady state is what a fleet sees).
//   node dist/bench/dispatch.bench.js [--trials 2000] [--warmup 500] [--workers 8] [--slots 1] [--count-sql] [--cpu-prof DIR] [--no-reference]
// --count-sql preloads bench/support/worker-probe into the workers and prints the SQL statements
// they sent per trial (counted from just before the submit: heartbeats included, boot not), most frequent first;
// --cpu-prof writes a V8 CPU profile of each worker into DIR (open in Chrome DevTools).
import { Command } from 'commander';
import { redisOptions } from '@lora/config';
import { Queue, Worker } from 'bullmq';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startBenchStack, stopOnSignal } from './support/bench-stack';
import { cpuOfProcesses, markProbes, probeEnv, readProbeReports } from './support/worker-probe';

type ChildMsg = { type: 'ready' } | { type: 'reset' } | { type: 'done'; first: number; last: number; count: number };

/** Reference child: a bare BullMQ Worker that does nothing; reports its first pickup and last completion. */
async function rawChild(queueName: string, prefix: string, redisUrl: string, concurrency: number): Promise<void> {
  let first = 0;
  let last = 0;
  let count = 0;
  const w = new Worker(
    queueName,
    async () => {
      if (!first) first = Date.now();
    },
    { connection: redisOptions(redisUrl), prefix, concurrency },
  );
  w.on('completed', () => {
    last = Date.now();
    count++;
  });
  await w.waitUntilReady();
  process.send!({ type: 'ready' } satisfies ChildMsg);
  process.on('message', (m: { type: string }) => {
    if (m.type === 'reset') {
      // After the warm-up: what is timed starts now.
      first = last = count = 0;
      process.send!({ type: 'reset' } satisfies ChildMsg);
      return;
    }
    if (m.type !== 'report') return;
    void w.close().then(() => {
      process.send!({ type: 'done', first, last, count } satisfies ChildMsg, () => process.exit(0));
    });
  });
}

async function reference(o: { trials: number; warmup: number; workers: number; slots: number }, redisUrl: string): Promise<number> {
  const prefix = `bench-dispatch-raw-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const queue = new Queue('train', { connection: redisOptions(redisUrl), prefix });
  const children: ChildProcess[] = [];
  try {
    const reports: Array<Extract<ChildMsg, { type: 'done' }>> = [];
    await Promise.all(
      Array.from({ length: o.workers }, () => {
        const c = fork(__filename, ['--raw-child', prefix, redisUrl, String(o.slots)], { stdio: 'inherit' });
        children.push(c);
        c.on('message', (m: ChildMsg) => {
          if (m.type === 'done') reports.push(m);
        });
        return new Promise<void>((resolve, reject) => {
          c.once('message', () => resolve());
          c.once('exit', (code) => reject(new Error(`reference worker exited (${code})`)));
        });
      }),
    );
    // The same job shape as a trial's (payload, options), added in one addBulk like the API does.
    const run = async (n: number, tag: string, before: number) => {
      const sweepId = crypto.randomUUID();
      await queue.addBulk(
        Array.from({ length: n }, (_, i) => ({
          name: 'train-trial',
          data: { sweepId, trialId: crypto.randomUUID() },
          opts: {
            jobId: `raw-${tag}-${i}`,
            attempts: 3,
            backoff: { type: 'exponential', delay: 2000 },
            removeOnComplete: { count: 100_000 },
          },
        })),
      );
      for (;;) {
        const c = await queue.getJobCounts('completed');
        if (c.completed >= before + n) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    if (o.warmup > 0) {
      await run(o.warmup, 'warmup', 0);
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              const on = (m: ChildMsg) => {
                if (m.type !== 'reset') return;
                c.off('message', on);
                resolve();
              };
              c.on('message', on);
              c.send({ type: 'reset' });
            }),
        ),
      );
    }
    await run(o.trials, 'timed', o.warmup);
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            c.once('exit', () => resolve());
            c.send({ type: 'report' });
          }),
      ),
    );
    const active = reports.filter((r) => r.count > 0);
    const first = Math.min(...active.map((r) => r.first));
    const last = Math.max(...active.map((r) => r.last));
    return o.trials / ((last - first) / 1000);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}

/** Submits a sweep of exactly `n` no-op-sized trials through the API (POST /sweeps). */
function submit(stack: Awaited<ReturnType<typeof startBenchStack>>, name: string, n: number): Promise<{ id: string }> {
  return stack.http<{ id: string }>('POST', '/sweeps', {
    name,
    baseModel: 'sotu-gpt2-small',
    dataset: 'moby-dick',
    variants: ['lora'],
    searchSpace: { ...grid(n), alpha: [8], targetModules: [['c_attn']] },
    training: { steps: 1, batchSize: 1, seqLen: 8, evalEvery: 0, checkpointEvery: 0 },
    // maxConcurrent: every trial takes the sweep's concurrency lease (never the limit here).
    budget: { maxTrials: n, maxConcurrent: 1024 },
  });
}

/** Waits until none of the sweep's trials is queued or running. */
async function waitClosed(stack: Awaited<ReturnType<typeof startBenchStack>>, sweepId: string): Promise<void> {
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    const open = await stack.prisma.trial.count({ where: { sweepId, status: { in: ['queued', 'running'] } } });
    if (open === 0) return;
    if (Date.now() > deadline) throw new Error(`${open} trials still open after 30 min`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A grid of exactly `n` trials: r × lr. */
function grid(n: number): { r: number[]; lr: number[] } {
  const lrs = n % 10 === 0 && n > 1000 ? 10 : 1;
  if (n / lrs > 1024) throw new Error('--trials: at most 10,240 (and a multiple of 10 above 1,000)');
  return {
    r: Array.from({ length: n / lrs }, (_, i) => i + 1),
    lr: Array.from({ length: lrs }, (_, i) => 1e-3 * (i + 1)),
  };
}

async function main(): Promise<void> {
  const int = (v: string) => parseInt(v, 10);
  const o = new Command()
    .option('--trials <n>', 'trials in the sweep (jobs in the reference)', int, 2000)
    .option('--warmup <n>', 'untimed trials (jobs) through the same processes first (0: measure cold processes)', int, 500)
    .option('--workers <n>', 'worker processes', int, 8)
    .option('--slots <n>', 'WORKER_SLOTS of each worker (the reference Workers get the same concurrency)', int, 1)
    .option('--count-sql', 'count the SQL statements the workers send (per trial)')
    .option('--cpu-prof <dir>', 'write a V8 CPU profile of each worker process into this folder')
    .option('--no-reference', 'skip the bare BullMQ reference run')
    .parse()
    .opts<{ trials: number; warmup: number; workers: number; slots: number; countSql?: boolean; cpuProf?: string; reference: boolean }>();
  if (o.warmup < 0) throw new Error('--warmup: 0 or more');
  // Refused before anything starts: both sweeps must be exact grids.
  grid(o.trials);
  if (o.warmup > 0) grid(o.warmup);

  const stack = await startBenchStack('dispatch');
  stopOnSignal(stack.stop);
  const sqlDir = o.countSql ? fs.mkdtempSync(path.join(os.tmpdir(), 'dispatch-sql-')) : undefined;
  const cpuProfDir = o.cpuProf ? path.resolve(o.cpuProf) : undefined;
  let ours: { perSec: number; succeeded: number; wallS: number; submitMs: number };
  let cpu: { pg: number; redis: number; api: number };
  try {
    const workers = await stack.startWorkers(o.workers, {
      WORKER_TRAINER: 'noop',
      WORKER_SLOTS: String(o.slots),
      ...probeEnv({ countSql: sqlDir, cpuProfDir }),
    });
    if (o.warmup > 0) await waitClosed(stack, (await submit(stack, 'dispatch bench warm-up', o.warmup)).id);
    if (sqlDir || cpuProfDir) {
      markProbes(workers.map((w) => w.child.pid!));
      await new Promise((r) => setTimeout(r, 100));
    }
    const cpu0 = { pg: cpuOfProcesses('postgres'), redis: cpuOfProcesses('redis-server'), self: process.cpuUsage() };
    const t0 = performance.now();
    const sweep = await submit(stack, 'dispatch bench', o.trials);
    const submitMs = performance.now() - t0;
    await waitClosed(stack, sweep.id);
    const [row] = await stack.prisma.$queryRawUnsafe<Array<{ first: Date; last: Date; ok: bigint }>>(
      `SELECT (SELECT min(a."startedAt") FROM "Attempt" a JOIN "Trial" t ON t.id = a."trialId" WHERE t."sweepId" = $1) AS first,
              max("finishedAt") AS last, count(*) FILTER (WHERE status = 'succeeded') AS ok
         FROM "Trial" WHERE "sweepId" = $1`,
      sweep.id,
    );
    const wallS = (row.last.getTime() - row.first.getTime()) / 1000;
    const self = process.cpuUsage(cpu0.self);
    cpu = {
      pg: cpuOfProcesses('postgres') - cpu0.pg,
      redis: cpuOfProcesses('redis-server') - cpu0.redis,
      api: (self.user + self.system) / 1000,
    };
    ours = { perSec: o.trials / wallS, succeeded: Number(row.ok), wallS, submitMs };
  } finally {
    // Stopping the workers (SIGTERM, a clean exit) writes their SQL counts and CPU profiles.
    await stack.stop();
  }
  const ref = o.reference ? await reference(o, stack.config.redis.url) : NaN;

  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const conc = `${o.workers} processes × concurrency ${o.slots}`;
  const warm = o.warmup > 0 ? `after ${o.warmup.toLocaleString('en-US')} untimed warm-up trials/jobs` : 'cold processes (no warm-up)';
  console.log(
    `\ndispatch, ${o.trials.toLocaleString('en-US')} trials/jobs, ${conc}, ${warm}, ${os.cpus().length} CPU cores (API, workers, Postgres and Redis share them)\n`,
  );
  console.log('| what | trials/s | wall | notes |');
  console.log('| --- | --- | --- | --- |');
  console.log(
    `| ours: API submit + workers with WORKER_TRAINER=noop | ${fmt(ours.perSec)} | ${ours.wallS.toFixed(2)} s | ${ours.succeeded} succeeded; POST /sweeps took ${fmt(ours.submitMs)} ms |`,
  );
  if (o.reference)
    console.log(
      `| reference: bare BullMQ Workers, no-op processor | ${fmt(ref)} | ${(o.trials / ref).toFixed(2)} s | same Redis, ${conc} |`,
    );
  console.log(
    `\nratio ours/reference: ${o.reference ? (ours.perSec / ref).toFixed(3) : '-'}   target ≥ 500 trials/s: ${ours.perSec >= 500 ? 'met' : 'missed'}`,
  );
  if (sqlDir) {
    const sql = readProbeReports(sqlDir);
    console.log(
      `\nSQL statements sent by the ${sql.workers} workers: ${sql.statements.toLocaleString('en-US')}, ${(sql.statements / o.trials).toFixed(1)} per trial`,
    );
    const per = (ms: number) => `${(ms / o.trials).toFixed(2)} ms`;
    console.log(
      `CPU per trial (from the submit to the workers' exit): workers ${per(sql.cpuMs)}, Postgres ${per(cpu.pg)}, Redis ${per(cpu.redis)}, API + bench ${per(cpu.api)}`,
    );
    for (const [text, n] of sql.byText.slice(0, 25)) console.log(`${(n / o.trials).toFixed(2).padStart(7)}  ${text}`);
    fs.rmSync(sqlDir, { recursive: true, force: true });
  }
  if (cpuProfDir) console.log(`\nCPU profiles of the workers: ${cpuProfDir}`);
}

if (process.argv[2] === '--raw-child') {
  const [, , , prefix, redisUrl, concurrency] = process.argv;
  rawChild('train', prefix, redisUrl, parseInt(concurrency, 10)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
