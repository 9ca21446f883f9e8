// The demo: starts the API and one worker as real processes, submits a small LoRA sweep
// (two ranks) on the shipped base model and Moby Dick, shows progress, prints the results.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { MultiBar, Presets } from 'cli-progress';
import { loadConfig } from '@lora/config';
import { ApiTokenRepository, createPrismaClient, type PrismaService } from '@lora/db';

interface TrialView {
  id: string;
  index: number;
  status: string;
  hyperparams: { r: number; alpha: number; lr: number; targetModules: string[]; training: { steps: number } };
  trainableParams: number | null;
  baselineEvalLoss: number | null;
  finalEvalLoss: number | null;
  tokensPerSec: number | null;
  error: string | null;
}

const program = new Command()
  .name('demo')
  .option('--steps <n>', 'training steps per trial', (v) => parseInt(v, 10), 120)
  .option('--exit', 'stop the API and worker when the sweep is done (default: keep serving until Ctrl-C)', false)
  .parse();
const opts = program.opts<{ steps: number; exit: boolean }>();

const config = loadConfig();
const base = `http://${config.api.host}:${config.api.port}`;
const root = config.rootDir;
const logDir = path.join(root, 'runs');
fs.mkdirSync(logDir, { recursive: true });
const children: ChildProcess[] = [];

function start(name: string, entry: string): ChildProcess {
  const log = fs.openSync(path.join(logDir, `${name}.log`), 'w');
  const child = spawn(process.execPath, [path.join(root, entry)], { stdio: ['ignore', log, log], env: process.env });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`\n${name} exited (${code ?? signal}); see ${path.join(logDir, `${name}.log`)}`);
      process.exit(1);
    }
  });
  children.push(child);
  return child;
}

let stopping = false;
async function stop(code: number): Promise<never> {
  stopping = true;
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
  process.exit(code);
}
process.on('SIGINT', () => void stop(130));

let token = '';

/** Writes need an API token: the demo makes its own (what `lora token create` does). */
async function createDemoToken(): Promise<string> {
  const prisma = createPrismaClient(config.db);
  try {
    const repo = new ApiTokenRepository(prisma as unknown as PrismaService);
    return (await repo.create(`demo-${new Date().toISOString().replace(/[:.]/g, '-')}`)).token;
  } finally {
    await prisma.$disconnect();
  }
}

async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** Every trial of the sweep: GET /sweeps/:id is a summary, the trials come in pages. */
async function sweepTrials(id: string): Promise<TrialView[]> {
  const out: TrialView[] = [];
  for (;;) {
    const page = await api<{ total: number; items: TrialView[] }>('GET', `/sweeps/${id}/trials?take=500&skip=${out.length}`);
    out.push(...page.items);
    if (page.items.length === 0 || out.length >= page.total) return out;
  }
}

async function waitHealthy(timeoutMs: number) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    try {
      await api('GET', '/health');
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  throw new Error(`API did not become healthy at ${base} within ${timeoutMs} ms; see runs/api.log`);
}

async function main() {
  const t0 = Date.now();
  try {
    await api('GET', '/health');
    console.error(`Something already answers at ${base}: stop it or set API_PORT.`);
    process.exit(2);
  } catch {
    /* port is free */
  }
  start('api', 'dist/apps/api/src/main.js');
  start('worker', 'dist/apps/worker/src/main.js');
  await waitHealthy(60_000);
  token = await createDemoToken();
  console.log(`Dashboard: ${base}/  (live curves; log in with the token below to cancel or rerun)`);

  const spec = {
    name: 'demo: LoRA r=4 vs r=8 on Moby Dick',
    baseModel: 'sotu-gpt2-small',
    dataset: 'moby-dick',
    variants: ['lora'],
    searchSpace: { r: [4, 8], alpha: [16], lr: [3e-3], targetModules: [['c_attn', 'c_proj']] },
    training: {
      steps: opts.steps,
      batchSize: 8,
      seqLen: 128,
      warmupSteps: Math.min(10, opts.steps - 1),
      evalEvery: Math.max(1, Math.floor(opts.steps / 4)),
      checkpointEvery: Math.max(1, Math.floor(opts.steps / 2)),
      evalBatches: 16,
      logEvery: 1,
    },
  };
  const sweep = await api<{ id: string; progress: { total: number } }>('POST', '/sweeps', spec);
  console.log(`Submitted sweep ${sweep.id} with ${sweep.progress.total} trials (logs: runs/api.log, runs/worker.log)`);

  const bars = new MultiBar(
    {
      format: ' {label} |{bar}| {value}/{total} steps | loss {loss} | {status}',
      hideCursor: true,
      clearOnComplete: false,
      noTTYOutput: true,
      notTTYSchedule: 5000,
    },
    Presets.shades_classic,
  );
  const byTrial = new Map(
    (await sweepTrials(sweep.id)).map((t) => [
      t.id,
      bars.create(t.hyperparams.training.steps, 0, { label: `r=${t.hyperparams.r}`.padEnd(5), loss: '-', status: t.status }),
    ]),
  );
  let trials: TrialView[];
  for (;;) {
    const s = await api<{ status: string; progress: { done: number; total: number } }>('GET', `/sweeps/${sweep.id}`);
    trials = await sweepTrials(sweep.id);
    for (const t of trials) {
      const pts = await api<Array<{ step: number; value: number }>>('GET', `/trials/${t.id}/metrics?name=loss&split=train&take=100000`);
      const last = pts[pts.length - 1];
      byTrial.get(t.id)!.update(last?.step ?? 0, { loss: last ? last.value.toFixed(3) : '-', status: t.status });
    }
    if (s.progress.done === s.progress.total) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  bars.stop();

  console.log(`\nSweep ${sweep.id} finished in ${((Date.now() - t0) / 1000).toFixed(1)} s (wall, incl. start-up)\n`);
  console.log('trial                                 r  trainable  eval loss before → after   tokens/s  status');
  for (const t of trials) {
    const before = t.baselineEvalLoss?.toFixed(4) ?? '-';
    const after = t.finalEvalLoss?.toFixed(4) ?? '-';
    console.log(
      `${t.id}  ${String(t.hyperparams.r).padStart(2)}  ${String(t.trainableParams ?? '-').padStart(9)}  ${before.padStart(9)} → ${after.padEnd(9)}  ${(t.tokensPerSec?.toFixed(0) ?? '-').padStart(8)}  ${t.status}${t.error ? ` (${t.error})` : ''}`,
    );
  }
  console.log(`\nDashboard:  ${base}/#/sweeps/${sweep.id}`);
  console.log(`API:        ${base}   (OpenAPI: ${base}/docs, queues: ${base}/admin/queues)`);
  console.log(`API token:  ${token}   (export LORA_API_TOKEN=… for the CLI, or log in with it on the dashboard)`);
  console.log(`Sweep:      ${base}/sweeps/${sweep.id}`);
  for (const t of trials) {
    const cps = await api<Array<{ id: string; step: number; isFinal: boolean }>>('GET', `/trials/${t.id}/checkpoints`);
    const final = cps.find((c) => c.isFinal) ?? cps[cps.length - 1];
    console.log(
      `Trial r=${t.hyperparams.r}:  ${base}/trials/${t.id}/metrics` +
        (final ? `   adapter (PEFT zip): ${base}/checkpoints/${final.id}/download` : ''),
    );
  }
  const ok = trials.every((t) => t.status === 'succeeded');
  if (opts.exit) await stop(ok ? 0 : 1);
  console.log('\nAPI and worker keep running; press Ctrl-C to stop.');
}

main().catch(async (e) => {
  console.error(e instanceof Error ? e.message : e);
  await stop(1);
});
