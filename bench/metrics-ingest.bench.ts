// Metric ingestion into Postgres (issue 7's orchestrator target: ≥ 20k metric points/s). Ours:
// the worker's path, MetricRepository.insertBatch (one parameterised multi-row INSERT) in batches
// of 500 from `--writers` concurrent trials. Reference, same run, same table: one multi-row
// INSERT … ON CONFLICT DO NOTHING per batch through node-postgres (what Postgres takes from Node
// without an ORM). Prints points/s of both and the ratio.
//   node dist/bench/metrics-ingest.bench.js [--points 200000] [--batch 500] [--writers 4]
import { Command } from 'commander';
import { createPrismaClient, createTestSchema, MetricRepository, type MetricPointInput, type PrismaService } from '@lora/db';
import { Client } from 'pg';

async function main(): Promise<void> {
  const int = (v: string) => parseInt(v, 10);
  const o = new Command()
    .option('--points <n>', 'points per method', int, 200_000)
    .option('--batch <n>', 'points per insert (the worker flushes up to 500)', int, 500)
    .option('--writers <n>', 'concurrent writers (trials being trained)', int, 4)
    .parse()
    .opts<{ points: number; batch: number; writers: number }>();

  const db = await createTestSchema();
  const prisma = createPrismaClient({ databaseUrl: db.connectionString, databaseSchema: db.schema });
  const pg = new Client({ connectionString: db.connectionString });
  await pg.connect();
  await pg.query(`SET search_path TO "${db.schema}"`);
  try {
    const model = await prisma.baseModel.create({ data: { name: 'm', path: '/m', architecture: 'gpt2', config: {}, paramCount: 1 } });
    const data = await prisma.dataset.create({ data: { name: 'd', source: 'x', format: 'text', validationFraction: 0.1, splitSeed: 0 } });
    const sweep = await prisma.sweep.create({ data: { name: 'bench', baseModelId: model.id, datasetId: data.id, spec: {} } });
    const trialIds: string[] = [];
    for (let i = 0; i < 2 * o.writers; i++)
      trialIds.push((await prisma.trial.create({ data: { sweepId: sweep.id, index: i, variant: 'lora', hyperparams: {} } })).id);

    // Each writer: its own trial, steps 1..n, 3 train metrics per step (as the worker logs them).
    const batches = (trialId: string, n: number): MetricPointInput[][] => {
      const out: MetricPointInput[][] = [];
      let cur: MetricPointInput[] = [];
      for (let step = 1; cur.length + out.length * o.batch < n; step++) {
        for (const name of ['loss', 'lr', 'tokens_per_sec']) {
          cur.push({ trialId, step, split: 'train', name, value: Math.random() });
          if (cur.length === o.batch) {
            out.push(cur);
            cur = [];
          }
        }
      }
      if (cur.length) out.push(cur);
      return out;
    };
    const run = async (trials: string[], write: (b: MetricPointInput[]) => Promise<unknown>) => {
      const per = Math.ceil(o.points / o.writers);
      const t0 = performance.now();
      await Promise.all(
        trials.map(async (t) => {
          for (const b of batches(t, per)) await write(b);
        }),
      );
      const s = (performance.now() - t0) / 1000;
      return (per * o.writers) / s;
    };

    const repo = new MetricRepository(prisma as unknown as PrismaService);
    // Warm both paths once (connection pools, plans).
    await repo.insertBatch(batches(trialIds[0], 10)[0].map((p) => ({ ...p, step: p.step + 10_000_000 })));
    const ours = await run(trialIds.slice(0, o.writers), (b) => repo.insertBatch(b));

    const raw = async (b: MetricPointInput[]) => {
      const params: unknown[] = [];
      const rows = b.map((p, i) => {
        params.push(p.trialId, p.step, p.split, p.name, p.value);
        return `($${i * 5 + 1}, $${i * 5 + 2}, $${i * 5 + 3}, $${i * 5 + 4}, $${i * 5 + 5})`;
      });
      await pg.query(
        `INSERT INTO "MetricPoint" ("trialId", step, split, name, value) VALUES ${rows.join(',')} ON CONFLICT DO NOTHING`,
        params,
      );
    };
    // node-postgres is one connection: the reference writes its batches one after another.
    let chain: Promise<unknown> = Promise.resolve();
    const reference = await run(trialIds.slice(o.writers), (b) => (chain = chain.then(() => raw(b))));

    const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
    console.log(`metric ingestion, ${o.points.toLocaleString('en-US')} points per method, batches of ${o.batch}`);
    console.log(`  ours (MetricRepository.insertBatch, ${o.writers} concurrent writers): ${fmt(ours)} points/s`);
    console.log(`  reference (node-postgres multi-row INSERT, 1 connection): ${fmt(reference)} points/s`);
    console.log(
      `  ratio ours/reference: ${(ours / reference).toFixed(2)}   target ≥ 20,000 points/s: ${ours >= 20_000 ? 'met' : 'missed'}`,
    );
  } finally {
    await pg.end();
    await prisma.$disconnect();
    await db.drop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
