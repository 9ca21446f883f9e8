import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { applyMigrations, defaultMigrationsDir, MigrationError, quoteIdent, readMigrations } from './migrate';

const BASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
jest.setTimeout(60_000);

describe('applyMigrations', () => {
  const schema = `t_${process.pid}_${randomBytes(4).toString('hex')}`;
  const migrationsDir = defaultMigrationsDir();
  const names = readdirSync(migrationsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  let client: Client;
  let tmp: string | undefined;

  beforeAll(async () => {
    client = new Client({ connectionString: BASE_URL });
    await client.connect();
  });
  afterAll(async () => {
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    await client.end();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('finds the repository migrations', () => {
    expect(names.length).toBeGreaterThan(0);
    expect(readFileSync(join(migrationsDir, 'migration_lock.toml'), 'utf8')).toMatch(/provider = "postgresql"/);
  });

  it('applies every migration into a fresh schema, once, even when two processes race', async () => {
    const [a, b] = await Promise.all([
      applyMigrations({ connectionString: BASE_URL, schema }),
      applyMigrations({ connectionString: BASE_URL, schema }),
    ]);
    // The advisory lock serialises them: one applies everything, the other finds nothing to do.
    expect([a.applied, b.applied].sort((x, y) => y.length - x.length)).toEqual([names, []]);
    const tables = await client.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, [schema]);
    expect(tables.rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['Sweep', 'Trial', 'MetricPoint', '_prisma_migrations']));
  });

  it('is a no-op the second time', async () => {
    expect(await applyMigrations({ connectionString: BASE_URL, schema })).toEqual({ applied: [] });
  });

  it('records each migration in _prisma_migrations the way Prisma does', async () => {
    const { rows } = await client.query(
      `SELECT id, migration_name, checksum, finished_at, rolled_back_at, started_at, logs, applied_steps_count
         FROM ${quoteIdent(schema)}._prisma_migrations ORDER BY migration_name`,
    );
    expect(rows.map((r) => r.migration_name)).toEqual(names);
    for (const row of rows) {
      const sha = createHash('sha256')
        .update(readFileSync(join(migrationsDir, row.migration_name, 'migration.sql')))
        .digest('hex');
      expect(row.checksum).toBe(sha);
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
    const cols = await client.query(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns
        WHERE table_schema = $1 AND table_name = '_prisma_migrations' ORDER BY ordinal_position`,
      [schema],
    );
    expect(cols.rows.map((c) => c.column_name)).toEqual([
      'id',
      'checksum',
      'finished_at',
      'migration_name',
      'logs',
      'rolled_back_at',
      'started_at',
      'applied_steps_count',
    ]);
  });

  it('refuses a migration whose file changed after it was applied', async () => {
    tmp = mkdtempSync(join(tmpdir(), 'lora-migrations-'));
    cpSync(migrationsDir, tmp, { recursive: true });
    const first = join(tmp, names[0], 'migration.sql');
    writeFileSync(first, readFileSync(first, 'utf8') + '\n-- edited\n');
    const run = applyMigrations({ connectionString: BASE_URL, schema, migrationsDir: tmp });
    await expect(run).rejects.toThrow(MigrationError);
    await expect(applyMigrations({ connectionString: BASE_URL, schema, migrationsDir: tmp })).rejects.toThrow(
      new RegExp(`${names[0]} was modified after it was applied`),
    );
  });

  it('rolls a failing migration back completely and records nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lora-migrations-'));
    try {
      cpSync(migrationsDir, dir, { recursive: true });
      mkdirSync(join(dir, '99999999999999_broken'));
      writeFileSync(
        join(dir, '99999999999999_broken', 'migration.sql'),
        'CREATE TABLE "Half" ("id" TEXT);\nSELECT * FROM "NoSuchTable";\n',
      );
      await expect(applyMigrations({ connectionString: BASE_URL, schema, migrationsDir: dir })).rejects.toThrow(
        /99999999999999_broken failed and was rolled back: .*NoSuchTable/,
      );
      const half = await client.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'Half'`, [schema]);
      expect(half.rowCount).toBe(0);
      const rows = await client.query(
        `SELECT 1 FROM ${quoteIdent(schema)}._prisma_migrations WHERE migration_name = '99999999999999_broken'`,
      );
      expect(rows.rowCount).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to go on after a migration Prisma recorded as failed', async () => {
    const other = `${schema}_f`;
    try {
      await applyMigrations({ connectionString: BASE_URL, schema: other });
      await client.query(
        `INSERT INTO ${quoteIdent(other)}._prisma_migrations (id, checksum, migration_name) VALUES ($1, 'x', '99999999999999_failed')`,
        ['00000000-0000-4000-8000-000000000000'],
      );
      await expect(applyMigrations({ connectionString: BASE_URL, schema: other })).rejects.toThrow(
        /99999999999999_failed started but never finished/,
      );
    } finally {
      await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(other)} CASCADE`);
    }
  });

  it('reads migrations in name order with sha256 checksums', () => {
    const list = readMigrations(migrationsDir);
    expect(list.map((m) => m.name)).toEqual(names);
    expect(list[0].checksum).toMatch(/^[0-9a-f]{64}$/);
  });
});
