// End to end on real parts: the API (in this process, real HTTP), a worker process, Postgres and
// Redis. A 2-trial LoRA sweep trains on the shipped base model and Moby Dick; bad input is refused.
import type { INestApplication } from '@nestjs/common';
import { loadConfig, redisOptions, type AppConfig } from '@lora/config';
import { QueueName } from '@lora/contracts';
import { ApiTokenRepository, createPrismaClient, type PrismaClient, type PrismaService } from '@lora/db';
import { Queue } from 'bullmq';
import { unzipSync } from 'fflate';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createApiApp } from '../apps/api/src/bootstrap';
import { evaluateCheckpoint } from '../apps/worker/src/train/trial-data';
import { waitFor } from './support/wait';
import { startWorker, tail, type WorkerProcess } from './support/worker-process';
import { sweepWithTrials } from './support/sweeps';

const STEPS = 24;
jest.setTimeout(10 * 60_000);

describe('walking skeleton (real API, worker process, Postgres, Redis)', () => {
  let config: AppConfig;
  let app: INestApplication;
  let base: string;
  let worker: WorkerProcess;
  let prisma: PrismaClient;
  let queue: Queue;
  let token: string;

  const http = async (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...('authorization' in headers ? {} : { authorization: `Bearer ${token}` }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const type = res.headers.get('content-type') ?? '';
    const data = type.includes('json') ? await res.json() : new Uint8Array(await res.arrayBuffer());
    return { status: res.status, data: data as any, headers: res.headers };
  };

  beforeAll(async () => {
    config = loadConfig();
    prisma = createPrismaClient(config.db);
    token = (await new ApiTokenRepository(prisma as unknown as PrismaService).create(`e2e-skeleton-${Date.now().toString(36)}`)).token;
    queue = new Queue(QueueName.Train, { connection: redisOptions(config.redis.url), prefix: config.redis.prefix });
    app = await createApiApp(config);
    await app.listen(0, '127.0.0.1');
    base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    worker = startWorker();
    await waitFor(
      'the worker to register',
      async () => {
        if (worker.child.exitCode !== null) throw new Error(`worker exited: ${tail(worker.logFile)}`);
        const r = await http('GET', '/workers');
        return r.data.some((w: { status: string }) => w.status === 'online');
      },
      60_000,
    );
  });

  afterAll(async () => {
    await worker?.stop();
    worker?.removeLog();
    await queue?.close();
    await app?.close();
    await prisma?.$disconnect();
  });

  it('reports health of Postgres and Redis', async () => {
    const r = await http('GET', '/health');
    expect(r.status).toBe(200);
    expect(r.data).toMatchObject({ status: 'ok', postgres: { status: 'up' }, redis: { status: 'up' } });
  });

  it('registers the shipped base model and datasets', async () => {
    const models = await http('GET', '/models');
    expect(models.data.map((m: { name: string }) => m.name)).toContain('sotu-gpt2-small');
    const datasets = await http('GET', '/datasets');
    expect(datasets.data.map((d: { name: string }) => d.name)).toEqual(expect.arrayContaining(['moby-dick', 'sotu']));
  });

  describe('bad input: 400 naming the field, nothing written', () => {
    const good = { baseModel: 'sotu-gpt2-small', dataset: 'moby-dick', variants: ['lora'] };
    const cases: Array<[string, unknown, string]> = [
      ['a missing field', { dataset: 'moby-dick', variants: ['lora'] }, 'baseModel'],
      ['an unknown variant', { ...good, variants: ['lora', 'lorax'] }, 'variants.1'],
      ['rank 0', { ...good, searchSpace: { r: [8, 0] } }, 'searchSpace.r.1'],
      ['a negative rank', { ...good, searchSpace: { r: -4 } }, 'searchSpace.r.0'],
      ['an unknown dataset', { ...good, dataset: 'no-such-data' }, 'dataset'],
      ['an unknown base model', { ...good, baseModel: 'gpt-9' }, 'baseModel'],
      ['a target module the model lacks', { ...good, searchSpace: { targetModules: [['q_proj']] } }, 'searchSpace.targetModules.0.0'],
      ['an unknown field', { ...good, rank: 8 }, 'rank'],
      ['a sequence longer than the context', { ...good, training: { seqLen: 100000 } }, 'training.seqLen'],
    ];
    it.each(cases)('%s', async (_what, body, field) => {
      const before = await Promise.all([prisma.sweep.count(), prisma.trial.count(), queue.count()]);
      const r = await http('POST', '/sweeps', body);
      expect(r.status).toBe(400);
      expect(r.data.errors.map((e: { field: string }) => e.field)).toContain(field);
      expect(r.data.message).toContain(field);
      const after = await Promise.all([prisma.sweep.count(), prisma.trial.count(), queue.count()]);
      expect(after).toEqual(before);
    });
    it('malformed JSON', async () => {
      const r = await http('POST', '/sweeps', '{"baseModel": ');
      expect(r.status).toBe(400);
    });
    it('unknown and malformed ids', async () => {
      expect((await http('GET', '/sweeps/00000000-0000-4000-8000-000000000000')).status).toBe(404);
      expect((await http('GET', '/trials/00000000-0000-4000-8000-000000000000')).status).toBe(404);
      expect((await http('GET', '/checkpoints/00000000-0000-4000-8000-000000000000/download')).status).toBe(404);
      const bad = await http('GET', '/sweeps/not-a-uuid');
      expect(bad.status).toBe(400);
      expect(bad.data.errors[0].field).toBeDefined();
    });
  });

  it('trains a 2-trial LoRA sweep: loss drops, metrics and checkpoints are recorded and reproducible', async () => {
    const spec = {
      name: 'e2e skeleton',
      baseModel: 'sotu-gpt2-small',
      dataset: 'moby-dick',
      variants: ['lora'],
      searchSpace: { r: [2, 4], alpha: [16], lr: [3e-3], targetModules: [['c_attn']] },
      training: { steps: STEPS, batchSize: 4, seqLen: 64, warmupSteps: 2, evalEvery: 12, checkpointEvery: 12, evalBatches: 4, logEvery: 1 },
    };
    const key = `e2e-${Date.now()}`;
    const submitted = await http('POST', '/sweeps', spec, { 'Idempotency-Key': key });
    expect(submitted.status).toBe(201);
    expect(submitted.data.progress).toMatchObject({ total: 2, done: 0 });
    expect(submitted.data).not.toHaveProperty('trials');
    const sweepId: string = submitted.data.id;

    const done = await waitFor(
      'both trials to finish',
      async () => {
        if (worker.child.exitCode !== null) throw new Error(`worker exited: ${tail(worker.logFile)}`);
        const s = await http('GET', `/sweeps/${sweepId}`);
        return s.data.progress.done === 2 ? sweepWithTrials(http, sweepId) : null;
      },
      8 * 60_000,
      500,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\nworker log:\n${tail(worker.logFile)}`);
    });
    expect(done.status).toBe('succeeded');

    for (const t of done.trials) {
      expect(t.status).toBe('succeeded');
      expect(t.trainableParams).toBeGreaterThan(0);
      expect(t.finalEvalLoss).toBeLessThan(t.baselineEvalLoss);
      expect(t.bestEvalLoss).toBeLessThanOrEqual(Math.min(t.finalEvalLoss, t.baselineEvalLoss));

      const trial = await http('GET', `/trials/${t.id}`);
      expect(trial.data.attempts).toHaveLength(1);
      expect(trial.data.attempts[0]).toMatchObject({ status: 'succeeded', number: 1, lastStep: STEPS });
      expect(['wasm', 'cpu', 'tensorflow', 'webgpu']).toContain(trial.data.attempts[0].backend);

      const train = await http('GET', `/trials/${t.id}/metrics?name=loss&split=train`);
      expect(train.data.map((p: { step: number }) => p.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
      const evals = await http('GET', `/trials/${t.id}/metrics?name=loss&split=eval`);
      expect(evals.data.map((p: { step: number }) => p.step)).toEqual([0, 12, 24]);
      expect(evals.data[0].value).toBeCloseTo(t.baselineEvalLoss, 10);
      expect(evals.data[2].value).toBeCloseTo(t.finalEvalLoss, 10);

      const cps = await http('GET', `/trials/${t.id}/checkpoints`);
      expect(cps.data.map((c: { step: number }) => c.step)).toEqual([12, 24]);
      const final = cps.data.find((c: { isFinal: boolean }) => c.isFinal);
      expect(final.step).toBe(STEPS);

      const zip = await http('GET', `/checkpoints/${final.id}/download`);
      expect(zip.status).toBe(200);
      expect(zip.headers.get('x-checkpoint-sha256')).toBe(final.sha256);
      const files = unzipSync(zip.data as Uint8Array);
      const names = Object.keys(files)
        .filter((n) => !n.endsWith('/'))
        .map((n) => n.split('/').pop());
      expect(names.sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
      const weights = Object.entries(files).find(([n]) => n.endsWith('.safetensors'))![1];
      expect(createHash('sha256').update(weights).digest('hex')).toBe(final.sha256);
      const adapterConfig = JSON.parse(Buffer.from(Object.entries(files).find(([n]) => n.endsWith('.json'))![1]).toString('utf8'));
      expect(adapterConfig).toMatchObject({ peft_type: 'LORA', r: t.hyperparams.r, lora_alpha: 16, fan_in_fan_out: true });

      // The stored adapter, loaded back onto the base model, reproduces the recorded eval loss.
      const reproduced = await evaluateCheckpoint({
        modelDir: `${config.modelsDir}/sotu-gpt2-small`,
        datasetSource: 'stdlib:moby-dick',
        validationFraction: 0.1,
        splitSeed: 0,
        hyperparams: t.hyperparams,
        adapterConfig,
        safetensors: weights,
      });
      expect(Math.abs(reproduced - t.finalEvalLoss)).toBeLessThan(1e-4);

      // The merged download is a plain HF model folder with the same eval loss, no adapter needed.
      const merged = await http('GET', `/checkpoints/${final.id}/download?format=merged`);
      expect(merged.status).toBe(200);
      const mergedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'merged-'));
      for (const [name, bytes] of Object.entries(unzipSync(merged.data as Uint8Array))) {
        if (!name.endsWith('/')) fs.writeFileSync(path.join(mergedDir, path.basename(name)), bytes);
      }
      expect(fs.readdirSync(mergedDir).sort()).toEqual(['config.json', 'model.safetensors']);
      const mergedLoss = await evaluateCheckpoint({
        modelDir: mergedDir,
        datasetSource: 'stdlib:moby-dick',
        validationFraction: 0.1,
        splitSeed: 0,
        hyperparams: t.hyperparams,
      });
      fs.rmSync(mergedDir, { recursive: true, force: true });
      expect(Math.abs(mergedLoss - t.finalEvalLoss)).toBeLessThan(1e-4);
    }

    // Resubmitting with the same key returns the same sweep; another body under that key is a conflict.
    const jobsBefore = await queue.count();
    const again = await http('POST', '/sweeps', spec, { 'Idempotency-Key': key });
    expect(again.status).toBe(200);
    expect(again.data.id).toBe(sweepId);
    expect(await prisma.sweep.count({ where: { name: 'e2e skeleton' } })).toBe(1);
    expect(await queue.count()).toBe(jobsBefore);
    const conflict = await http('POST', '/sweeps', { ...spec, name: 'other' }, { 'Idempotency-Key': key });
    expect(conflict.status).toBe(409);
  });
});
