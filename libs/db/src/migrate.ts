// Applies the SQL migrations in prisma/migrations (Prisma's layout) with plain `pg`, because
// Prisma's schema engine (`prisma migrate deploy`) is a native binary that our machines cannot
// download. Each migration is recorded in Prisma's own `_prisma_migrations` table, with the
// same columns and checksum, so `prisma migrate deploy`/`status` run by someone with network
// sees the same history.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Client } from 'pg';

/** The advisory lock key Prisma's schema engine takes while migrating: we and it exclude each other. */
export const MIGRATION_ADVISORY_LOCK_KEY = 72707369;

export interface ApplyMigrationsOptions {
  connectionString: string;
  /** Postgres schema the tables go into (created if missing). */
  schema: string;
  /** Folder holding `<timestamp>_<name>/migration.sql`; default: the repo's prisma/migrations. */
  migrationsDir?: string;
  /** How long to wait for another process's migration lock (default 60 s). */
  lockTimeoutMs?: number;
  log?: (message: string) => void;
}

export interface MigrationFile {
  name: string;
  sql: string;
  /** sha256 hex of the file's bytes, as Prisma computes it. */
  checksum: string;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Walks up from this file (src or dist) to the folder that holds prisma/migrations. */
export function defaultMigrationsDir(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = join(dir, 'prisma', 'migrations');
    if (existsSync(join(candidate, 'migration_lock.toml'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  const fromCwd = resolve(process.cwd(), 'prisma', 'migrations');
  if (existsSync(fromCwd)) return fromCwd;
  throw new MigrationError(`cannot find prisma/migrations above ${__dirname} or in ${process.cwd()}`);
}

export function readMigrations(migrationsDir: string): MigrationFile[] {
  if (!existsSync(migrationsDir)) throw new MigrationError(`migrations folder not found: ${migrationsDir}`);
  return readdirSync(migrationsDir)
    .filter((name) => statSync(join(migrationsDir, name)).isDirectory())
    .sort()
    .flatMap((name) => {
      const file = join(migrationsDir, name, 'migration.sql');
      if (!existsSync(file)) return [];
      const bytes = readFileSync(file);
      return [{ name, sql: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') }];
    });
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

export async function applyMigrations(opts: ApplyMigrationsOptions): Promise<{ applied: string[] }> {
  const log = opts.log ?? (() => undefined);
  const migrations = readMigrations(opts.migrationsDir ?? defaultMigrationsDir());
  const schema = quoteIdent(opts.schema);
  const table = `${schema}."_prisma_migrations"`;
  const client = new Client({ connectionString: opts.connectionString, application_name: 'lora-migrate' });
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query(`SET lock_timeout = ${Math.max(1, Math.floor(opts.lockTimeoutMs ?? 60_000))}`);
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_ADVISORY_LOCK_KEY]);
    } catch (err) {
      throw new MigrationError(`could not take the migration lock (another migration running?): ${(err as Error).message}`);
    }
    await client.query('RESET lock_timeout');
    try {
      // Look first: CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database.
      const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [opts.schema]);
      if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${schema}`);
      // Prisma's own definition of the table.
      await client.query(`CREATE TABLE IF NOT EXISTS ${table} (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`);
      const { rows } = await client.query<AppliedRow>(
        `SELECT migration_name, checksum, finished_at, rolled_back_at FROM ${table} ORDER BY started_at`,
      );
      const failed = rows.filter((r) => r.finished_at === null && r.rolled_back_at === null);
      if (failed.length > 0) {
        throw new MigrationError(
          `schema ${opts.schema}: migration ${failed.map((r) => r.migration_name).join(', ')} started but never finished ` +
            `(a failed \`prisma migrate deploy\`?). Fix the database, then mark it with \`prisma migrate resolve\` or delete its _prisma_migrations row.`,
        );
      }
      const done = new Map(rows.filter((r) => r.rolled_back_at === null).map((r) => [r.migration_name, r]));
      const known = new Set(migrations.map((m) => m.name));
      for (const row of done.values()) {
        if (!known.has(row.migration_name)) log(`warning: ${row.migration_name} is applied in ${opts.schema} but not in this checkout`);
      }
      for (const m of migrations) {
        const row = done.get(m.name);
        if (row) {
          if (row.checksum !== m.checksum) {
            throw new MigrationError(
              `schema ${opts.schema}: migration ${m.name} was modified after it was applied ` +
                `(checksum ${row.checksum} in _prisma_migrations, ${m.checksum} on disk). ` +
                'Never edit an applied migration: restore the file and add a new migration instead.',
            );
          }
          continue;
        }
        log(`applying ${m.name} to schema ${opts.schema}`);
        await client.query('BEGIN');
        try {
          await client.query(`SET LOCAL search_path TO ${schema}`);
          await client.query(m.sql);
          await client.query(
            `INSERT INTO ${table} (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
             VALUES ($1, $2, clock_timestamp(), $3, NULL, NULL, now(), 1)`,
            [randomUUID(), m.checksum, m.name],
          );
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new MigrationError(`schema ${opts.schema}: migration ${m.name} failed and was rolled back: ${(err as Error).message}`);
        }
        applied.push(m.name);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_ADVISORY_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    await client.end();
  }
  return { applied };
}

/**
 * Names of migrations in `migrationsDir` not yet applied to `schema` (all of them when the
 * schema has never been migrated). Processes call this at start to fail with a clear message.
 */
export async function pendingMigrations(opts: { connectionString: string; schema: string; migrationsDir?: string }): Promise<string[]> {
  const files = readMigrations(opts.migrationsDir ?? defaultMigrationsDir()).map((m) => m.name);
  const client = new Client({ connectionString: opts.connectionString });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2', [
      opts.schema,
      '_prisma_migrations',
    ]);
    if (exists.rowCount === 0) return files;
    const done = await client.query(
      `SELECT migration_name FROM ${quoteIdent(opts.schema)}."_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    );
    const applied = new Set(done.rows.map((r: { migration_name: string }) => r.migration_name));
    return files.filter((f) => !applied.has(f));
  } finally {
    await client.end();
  }
}

/** Throws an actionable error when the database is behind the code. */
export async function assertMigrated(opts: { connectionString: string; schema: string }): Promise<void> {
  const pending = await pendingMigrations(opts);
  if (pending.length > 0) {
    throw new MigrationError(
      `database schema "${opts.schema}" is missing migrations ${pending.join(', ')}: run "npm run db:migrate" (or "prisma migrate deploy") first`,
    );
  }
}
