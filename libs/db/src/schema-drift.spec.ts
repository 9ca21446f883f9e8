// "The migrated database matches the schema's models": migrations are hand-written SQL (Prisma's
// schema engine cannot run here), so this compares the DMMF of prisma/schema.prisma with what the
// migrations actually build. Adding a field to the schema without a migration fails here.
import { Client } from 'pg';
import { diffDatabaseAgainstModels, DmmfDatamodel, loadDmmf } from './schema-drift';
import { createTestSchema, TestSchema } from './testing';

jest.setTimeout(60_000);

describe('the migrated database matches the schema models', () => {
  let db: TestSchema;
  let client: Client;
  let dm: DmmfDatamodel;

  beforeAll(async () => {
    dm = loadDmmf().datamodel;
    db = await createTestSchema();
    client = new Client({ connectionString: db.connectionString });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  it('has every model, column, enum, key, index and foreign key, and nothing else', async () => {
    expect(dm.models.length).toBeGreaterThanOrEqual(8);
    expect(await diffDatabaseAgainstModels(client, db.schema, dm)).toEqual([]);
  });

  it('notices a field added to the schema without a migration', async () => {
    const changed: DmmfDatamodel = structuredClone(dm);
    const trial = changed.models.find((m) => m.name === 'Trial')!;
    trial.fields.push({ name: 'notes', kind: 'scalar', type: 'String', isList: false, isRequired: false, hasDefaultValue: false });
    const sweep = changed.models.find((m) => m.name === 'Sweep')!;
    sweep.fields.find((f) => f.name === 'error')!.isRequired = true;
    changed.indexes.push({ model: 'Trial', type: 'unique', fields: [{ name: 'variant' }] });
    expect(await diffDatabaseAgainstModels(client, db.schema, changed)).toEqual([
      'column Sweep.error: NULL in the database, required in the schema',
      'column Trial.notes: missing in the database (field Trial.notes has no migration)',
      'unique index Trial(variant): missing in the database',
    ]);
  });

  it('notices database changes no model describes', async () => {
    await client.query('BEGIN');
    try {
      await client.query('ALTER TABLE "Worker" ADD COLUMN "extra" INTEGER');
      await client.query('ALTER TABLE "Attempt" ALTER COLUMN "jobId" SET NOT NULL');
      await client.query('DROP INDEX "MetricPoint_trialId_split_name_step_key"');
      await client.query('ALTER TABLE "Trial" DROP CONSTRAINT "Trial_sweepId_fkey"');
      await client.query(
        `ALTER TABLE "Trial" ADD CONSTRAINT "Trial_sweepId_fkey" FOREIGN KEY ("sweepId") REFERENCES "Sweep"("id") ON DELETE RESTRICT ON UPDATE CASCADE`,
      );
      await client.query(`ALTER TYPE "RunStatus" ADD VALUE 'paused'`);
      const problems = await diffDatabaseAgainstModels(client, db.schema, dm);
      expect(problems).toEqual(
        expect.arrayContaining([
          'column Worker.extra: in the database but not in model Worker',
          'column Attempt.jobId: NOT NULL in the database, optional in the schema',
          'unique index MetricPoint(trialId, split, name, step): missing in the database',
          'foreign key Trial(sweepId) -> Sweep(id): ON DELETE Restrict in the database, Cascade in the schema',
          expect.stringMatching(/^enum RunStatus: database has \(.*paused\)/),
        ]),
      );
      expect(problems).toHaveLength(5);
    } finally {
      await client.query('ROLLBACK');
    }
  });
});
