import { createHash, randomBytes } from 'node:crypto';
import { Test, TestingModule } from '@nestjs/testing';
import { DbModule } from './db.module';
import { Prisma, RunStatus } from './generated/prisma/client';
import { createPrismaClient, PrismaService } from './prisma.service';
import { createTestSchema, TestSchema } from './testing';

jest.setTimeout(60_000);

describe('PrismaService round trip', () => {
  let db: TestSchema;
  let moduleRef: TestingModule;
  let prisma: PrismaService;

  beforeAll(async () => {
    db = await createTestSchema();
    moduleRef = await Test.createTestingModule({
      imports: [DbModule.forRoot({ databaseUrl: db.connectionString, databaseSchema: db.schema })],
    }).compile();
    await moduleRef.init();
    prisma = moduleRef.get(PrismaService);
  });
  afterAll(async () => {
    await moduleRef?.close();
    await db?.drop();
  });

  it('runs named statements on the pool under Prisma, also after $disconnect (a draining worker still writes)', async () => {
    const p = new PrismaService({ databaseUrl: db.connectionString, databaseSchema: db.schema });
    await p.$connect();
    const sql = 'SELECT count(*)::int AS n FROM "Sweep" WHERE name = $1';
    expect(await p.statement('spec.count', sql, ['none'])).toEqual([{ n: 0 }]);
    // Prisma and the statements share one pool.
    expect(p.pg.totalCount).toBe(1);
    await p.$disconnect();
    expect(await p.statement('spec.count', sql, ['none'])).toEqual([{ n: 0 }]);
    expect(await p.sweep.count()).toBeGreaterThanOrEqual(0);
    await p.$disconnect();
    await p.pg.end();
  });

  it('writes and reads a sweep with its trial, attempt, metrics and checkpoint, then cascades', async () => {
    const baseModel = await prisma.baseModel.create({
      data: {
        name: 'sotu-tiny',
        path: '/models/sotu-tiny',
        architecture: 'gpt2',
        config: { n_embd: 64, n_layer: 2 },
        paramCount: 1_234_567,
      },
    });
    const dataset = await prisma.dataset.create({
      data: { name: 'moby', source: 'stdlib:moby-dick', format: 'text', validationFraction: 0.1, splitSeed: 7 },
    });
    const sweep = await prisma.sweep.create({
      data: { name: 's1', baseModelId: baseModel.id, datasetId: dataset.id, spec: { variants: ['lora'] }, idempotencyKey: 'key-1' },
    });
    expect(sweep.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(sweep.status).toBe(RunStatus.queued);
    expect(sweep.createdAt).toBeInstanceOf(Date);
    expect(Math.abs(sweep.createdAt.getTime() - Date.now())).toBeLessThan(60_000);

    // Idempotency-Key is unique: the second submission is a P2002 the API can map to "already exists".
    const dup = prisma.sweep.create({
      data: { name: 's1', baseModelId: baseModel.id, datasetId: dataset.id, spec: {}, idempotencyKey: 'key-1' },
    });
    await expect(dup).rejects.toMatchObject({ code: 'P2002' });
    await expect(dup).rejects.toBeInstanceOf(Prisma.PrismaClientKnownRequestError);

    const startedAt = new Date('2026-11-23T01:02:03.456Z');
    const trial = await prisma.trial.create({
      data: {
        sweepId: sweep.id,
        index: 0,
        variant: 'lora',
        hyperparams: { r: 8, alpha: 16, lr: 3e-4 },
        status: RunStatus.running,
        startedAt,
      },
    });
    const worker = await prisma.worker.create({
      data: { id: 'host-a:123:abcd', host: 'host-a', pid: 123, slots: 1, backend: 'wasm', device: 'cpu' },
    });
    const attempt = await prisma.attempt.create({
      data: {
        trialId: trial.id,
        number: 1,
        status: RunStatus.running,
        jobId: 'job-1',
        workerId: worker.id,
        backend: 'wasm',
        device: 'cpu',
      },
    });

    const points = (steps: number[]) =>
      steps.map((step) => ({ trialId: trial.id, attemptId: attempt.id, step, split: 'train', name: 'loss', value: 1 / (step + 3) }));
    expect(await prisma.metricPoint.createMany({ data: [...points([1, 2]), ...points([2])], skipDuplicates: true })).toEqual({ count: 2 });
    // A retried batch overlapping the first one inserts only the new step.
    expect(await prisma.metricPoint.createMany({ data: points([2, 3]), skipDuplicates: true })).toEqual({ count: 1 });
    await prisma.metricPoint.create({ data: { trialId: trial.id, step: 3, split: 'eval', name: 'loss', value: 0.1 + 0.2 } });

    const bytes = new Uint8Array(randomBytes(70_000));
    bytes[0] = 0;
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await prisma.checkpoint.create({
      data: {
        trialId: trial.id,
        attemptId: attempt.id,
        step: 3,
        format: 'peft-lora',
        bytes,
        sizeBytes: bytes.length,
        sha256,
        adapterConfig: { r: 8, lora_alpha: 16, target_modules: ['c_attn'] },
        metrics: { evalLoss: 0.3 },
        isFinal: true,
      },
    });

    const back = await prisma.trial.findUniqueOrThrow({
      where: { sweepId_index: { sweepId: sweep.id, index: 0 } },
      include: { attempts: true, metricPoints: { orderBy: [{ split: 'asc' }, { step: 'asc' }] }, checkpoints: true, sweep: true },
    });
    expect(back.startedAt?.toISOString()).toBe(startedAt.toISOString());
    expect(back.hyperparams).toEqual({ r: 8, alpha: 16, lr: 3e-4 });
    expect(back.sweep.spec).toEqual({ variants: ['lora'] });
    expect(back.attempts.map((a) => [a.number, a.workerId, a.status])).toEqual([[1, worker.id, 'running']]);
    expect(back.metricPoints.map((p) => [p.split, p.step, p.value])).toEqual([
      ['eval', 3, 0.1 + 0.2],
      ['train', 1, 1 / 4],
      ['train', 2, 1 / 5],
      ['train', 3, 1 / 6],
    ]);
    expect(typeof back.metricPoints[0].id).toBe('bigint');
    const [cp] = back.checkpoints;
    expect(cp.bytes).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(cp.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect(createHash('sha256').update(cp.bytes).digest('hex')).toBe(sha256);
    expect(cp.adapterConfig).toEqual({ r: 8, lora_alpha: 16, target_modules: ['c_attn'] });
    expect(cp.isFinal).toBe(true);

    // Raw SQL with unqualified names and an enum cast lands in the test schema (search_path).
    const raw = await prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM "MetricPoint" WHERE "trialId" = ${trial.id}`;
    expect(raw).toEqual([{ n: 4 }]);
    const running = await prisma.$queryRaw<{ id: string }[]>`SELECT id FROM "Trial" WHERE status = ${'running'}::"RunStatus"`;
    expect(running).toEqual([{ id: trial.id }]);

    // Interactive transactions go through the adapter too.
    await prisma.$transaction(async (tx) => {
      await tx.trial.update({ where: { id: trial.id }, data: { status: RunStatus.succeeded, finalEvalLoss: 0.3, finishedAt: new Date() } });
      await tx.attempt.update({ where: { id: attempt.id }, data: { status: RunStatus.succeeded, lastStep: 3 } });
    });
    expect((await prisma.trial.findUniqueOrThrow({ where: { id: trial.id } })).status).toBe('succeeded');

    // A worker that goes away leaves its attempts behind, unlinked.
    await prisma.worker.delete({ where: { id: worker.id } });
    expect((await prisma.attempt.findUniqueOrThrow({ where: { id: attempt.id } })).workerId).toBeNull();

    // A base model in use cannot be deleted.
    await expect(prisma.baseModel.delete({ where: { id: baseModel.id } })).rejects.toMatchObject({ code: 'P2003' });

    // Deleting the sweep removes everything under it.
    await prisma.sweep.delete({ where: { id: sweep.id } });
    expect(await prisma.trial.count()).toBe(0);
    expect(await prisma.attempt.count()).toBe(0);
    expect(await prisma.metricPoint.count()).toBe(0);
    expect(await prisma.checkpoint.count()).toBe(0);
    await prisma.baseModel.delete({ where: { id: baseModel.id } });
    await prisma.dataset.delete({ where: { id: dataset.id } });
  });

  it('createPrismaClient talks to the same schema', async () => {
    const client = createPrismaClient({ databaseUrl: db.connectionString.split('?')[0], databaseSchema: db.schema });
    try {
      await client.dataset.create({
        data: { name: 'sotu', source: 'stdlib:sotu', format: 'text', validationFraction: 0.05, splitSeed: 1 },
      });
      expect(await prisma.dataset.findUnique({ where: { name: 'sotu' } })).toMatchObject({ source: 'stdlib:sotu' });
      const [{ search_path }] = await client.$queryRaw<{ search_path: string }[]>`SHOW search_path`;
      expect(search_path.replace(/"/g, '')).toBe(db.schema);
    } finally {
      await client.$disconnect();
    }
  });
});
