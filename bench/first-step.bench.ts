// Submit → first training step latency (issue 7's orchestrator target: p50 < 1 s, model load
// excluded). Ours: `--samples` one-trial sweeps submitted one after another through the real API
// (POST /sweeps) to one real, idle worker process (the tfjs trainer) training a tiny config on the
// shipped model (sotu-gpt2-small; batch 1 × seq 16, 1 eval batch) over a small text dataset (the
// first `--chars` characters of Moby Dick, registered for the run). Latency = (the trial log's
// "step 1/…" line − the moment before POST /sweeps) − the model load, which the training thread
// measures around loadHfModel and the worker logs with "training started" (phasesMs.modelLoad).
// The worker keeps no model cache: every trial's thread loads the model, so it is subtracted.
// Reference, same run, same Redis: a bare BullMQ Queue.add → Worker processor start round trip.
//   node dist/bench/first-step.bench.js [--samples 10] [--chars 30000] [--dataset moby-dick]
import { Command } from 'commander';
import { redisOptions } from '@lora/config';
import { loadCorpus } from '@lora/engine';
import { Queue, Worker } from 'bullmq';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { percentile, startBenchStack, stopOnSignal } from './support/bench-stack';

interface Sample {
  submitToPickupMs: number;
  pickupToFirstStepMs: number;
  phasesMs: Record<string, number>;
  /** Pickup → "training started" minus the thread's phases: thread start, its imports, the runner's writes. */
  overheadMs: number;
  firstStepMs: number;
}

async function reference(redisUrl: string, prefix: string, samples: number): Promise<number[]> {
  const connection = redisOptions(redisUrl);
  const queue = new Queue('rt', { connection, prefix });
  let started: ((t: number) => void) | null = null;
  const worker = new Worker(
    'rt',
    async () => {
      started?.(performance.now());
    },
    { connection, prefix },
  );
  await worker.waitUntilReady();
  const out: number[] = [];
  try {
    for (let i = 0; i < samples + 1; i++) {
      const picked = new Promise<number>((r) => (started = r));
      // An idle worker blocks on Redis between jobs, as the real one does between trials.
      await new Promise((r) => setTimeout(r, 200));
      const t0 = performance.now();
      await queue.add('train-trial', { sweepId: 'x', trialId: `t${i}` }, { attempts: 3, removeOnComplete: true });
      const ms = (await picked) - t0;
      if (i > 0) out.push(ms);
    }
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
  return out;
}

async function main(): Promise<void> {
  const int = (v: string) => parseInt(v, 10);
  const o = new Command()
    .option('--samples <n>', 'one-trial sweeps measured (after one warm-up)', int, 10)
    .option('--chars <n>', 'characters of Moby Dick in the run’s dataset', int, 30_000)
    .option('--dataset <name>', 'a registered dataset instead (e.g. moby-dick: the whole book, tokenized per trial)')
    .parse()
    .opts<{ samples: number; chars: number; dataset?: string }>();

  const stack = await startBenchStack('first-step');
  stopOnSignal(stack.stop);
  const corpus = path.join(os.tmpdir(), `bench-first-step-${process.pid}.txt`);
  const samples: Sample[] = [];
  let ref: number[];
  try {
    let dataset = o.dataset;
    if (!dataset) {
      const text = (await loadCorpus('stdlib:moby-dick')).map((d) => d.text).join('\n\n');
      fs.writeFileSync(corpus, text.slice(0, o.chars));
      dataset = 'bench-small-text';
      await stack.prisma.dataset.create({
        data: { name: dataset, source: `file:${corpus}`, format: 'text', validationFraction: 0.1, splitSeed: 0 },
      });
    }
    const [worker] = await stack.startWorkers(1, { LOG_LEVEL: 'info' });
    for (let i = 0; i < o.samples + 1; i++) {
      // The worker is idle (blocked on Redis) when the sweep arrives.
      await new Promise((r) => setTimeout(r, 200));
      const submitAt = Date.now();
      const sweep = await stack.http<{ id: string }>('POST', '/sweeps', {
        name: `first-step ${i}`,
        baseModel: 'sotu-gpt2-small',
        dataset,
        variants: ['lora'],
        searchSpace: { r: [4], alpha: [8], lr: [1e-3], targetModules: [['c_attn']] },
        training: { steps: 2, batchSize: 1, seqLen: 16, evalEvery: 0, evalBatches: 1, checkpointEvery: 0, logEvery: 1, warmupSteps: 0 },
      });
      const trialId = (await stack.http<{ items: Array<{ id: string }> }>('GET', `/sweeps/${sweep.id}/trials?take=1`)).items[0].id;
      const deadline = Date.now() + 120_000;
      for (;;) {
        const t = await stack.prisma.trial.findUniqueOrThrow({ where: { id: trialId }, select: { status: true, error: true } });
        if (t.status === 'failed') throw new Error(`trial failed: ${t.error}`);
        if (t.status === 'succeeded') break;
        if (Date.now() > deadline) throw new Error('trial did not finish within 120 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      // The trial's log lines are flushed as the attempt closes, and the worker's own log is written
      // asynchronously: wait for both.
      const readings = async () => {
        const step1 = await stack.prisma.trialLog.findFirst({
          where: { trialId, message: { startsWith: 'step 1/' } },
          select: { ts: true },
        });
        const attempt = await stack.prisma.attempt.findFirst({ where: { trialId }, select: { startedAt: true } });
        const started = fs
          .readFileSync(worker.logFile, 'utf8')
          .split('\n')
          .filter((l) => l.includes('"training started"') && l.includes(trialId))
          .map((l) => JSON.parse(l) as { time: string | number; phasesMs: Record<string, number> })[0];
        return step1 && attempt?.startedAt && started ? { step1, attempt: { startedAt: attempt.startedAt }, started } : null;
      };
      let got = await readings();
      for (let k = 0; !got && k < 100; k++) {
        await new Promise((r) => setTimeout(r, 100));
        got = await readings();
      }
      if (!got) throw new Error(`trial ${trialId}: no step-1 log line, attempt start or "training started" line`);
      const { step1, attempt, started } = got;
      const pickup = attempt.startedAt.getTime();
      const first = step1.ts.getTime();
      if (i === 0) continue; // warm-up: the worker's first trial also compiles/JITs its code paths
      samples.push({
        submitToPickupMs: pickup - submitAt,
        pickupToFirstStepMs: first - pickup - started.phasesMs.modelLoad,
        phasesMs: started.phasesMs,
        overheadMs: new Date(started.time).getTime() - pickup - Object.values(started.phasesMs).reduce((a, b) => a + b, 0),
        firstStepMs: first - new Date(started.time).getTime(),
      });
    }
    ref = await reference(stack.config.redis.url, `${stack.config.redis.prefix}-ref`, o.samples);
  } finally {
    fs.rmSync(corpus, { force: true });
    await stack.stop();
  }

  const p50 = (f: (s: Sample) => number) => percentile(samples.map(f), 50);
  const ms = (x: number) => `${Math.round(x).toLocaleString('en-US')} ms`;
  const total = (s: Sample) => s.submitToPickupMs + s.pickupToFirstStepMs;
  const rows: Array<[string, number]> = [
    ['submit → job pickup (POST /sweeps, Postgres rows, BullMQ job, attempt row)', p50((s) => s.submitToPickupMs)],
    ['pickup → first step, model load excluded', p50((s) => s.pickupToFirstStepMs)],
    ['  of which: attempt bookkeeping, thread start and its imports, "ready" writes', p50((s) => s.overheadMs)],
    ['  of which: thread backend init', p50((s) => s.phasesMs.backend)],
    ['  of which: dataset load + split + tokenize', p50((s) => s.phasesMs.data)],
    ['  of which: adapter attach', p50((s) => s.phasesMs.attach)],
    ['  of which: baseline eval (1 batch)', p50((s) => s.phasesMs.baselineEval)],
    ['  of which: "training started" → step 1 logged', p50((s) => s.firstStepMs)],
    ['model load (excluded; loadHfModel in the thread)', p50((s) => s.phasesMs.modelLoad)],
  ];
  const ours = percentile(samples.map(total), 50);
  const refP50 = percentile(ref, 50);
  console.log(
    `\nsubmit → first step, ${samples.length} one-trial sweeps, dataset ${o.dataset ?? `${o.chars} chars of Moby Dick`}, ${os.cpus().length} CPU cores\n`,
  );
  console.log('| what (p50) | ms |');
  console.log('| --- | --- |');
  for (const [k, v] of rows) console.log(`| ${k} | ${ms(v)} |`);
  console.log(`| **ours: submit → first step, model load excluded** | **${ms(ours)}** (p90 ${ms(percentile(samples.map(total), 90))}) |`);
  console.log(`| reference: bare BullMQ add → processor start | ${refP50.toFixed(2)} ms |`);
  console.log(`\nratio ours/reference: ${(ours / refP50).toFixed(0)}x   target p50 < 1 s: ${ours < 1000 ? 'met' : 'missed'}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
