import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { Pool, type QueryResultRow } from 'pg';
import { PrismaClient } from './generated/prisma/client';

/** Injection token for {@link DbOptions}. */
export const DB_OPTIONS = 'DB_OPTIONS';

export interface DbOptions {
  /** postgresql://user:pass@host:port/db (no `?schema=` needed: pass the schema below). */
  databaseUrl: string;
  /** Postgres schema holding the tables (`public` unless tests or tenants say otherwise). */
  databaseSchema: string;
  /** pg pool size (default 10, pg's default). */
  poolSize?: number;
}

function startupSearchPath(schema: string): string {
  // libpq `options`: whitespace separates arguments, so escape it; the value is a quoted identifier.
  return `-c search_path=${`"${schema.replace(/"/g, '""')}"`.replace(/([\\\s])/g, '\\$1')}`;
}

/**
 * The driver adapter for one database + schema. The schema is given twice on purpose: PrismaPg's
 * `schema` qualifies the tables in the queries Prisma generates, and the connections'
 * `search_path` makes `$queryRaw`/`$executeRaw` with unqualified names (and enum casts) hit the
 * same schema.
 */
export function createPrismaAdapter(opts: DbOptions): PrismaPg {
  return new PrismaPg(
    { connectionString: opts.databaseUrl, options: startupSearchPath(opts.databaseSchema), max: opts.poolSize },
    { schema: opts.databaseSchema },
  );
}

/** The node-postgres pool for one database + schema (Prisma's adapter runs on it, so do hot-path statements). */
export function createPgPool(opts: DbOptions): Pool {
  const pool = new Pool({ connectionString: opts.databaseUrl, options: startupSearchPath(opts.databaseSchema), max: opts.poolSize });
  // An idle connection dropped by the server (a restart) must not crash the process; the next
  // query reconnects (and a lost connection mid-query rejects that query, which the caller handles).
  pool.on('error', () => undefined);
  return pool;
}

/** A plain client for scripts and tests; call `$disconnect()` when done. */
export function createPrismaClient(opts: DbOptions): PrismaClient {
  return new PrismaClient({ adapter: createPrismaAdapter(opts) });
}

@Injectable()
export class PrismaService extends PrismaClient implements OnModuleInit, OnModuleDestroy {
  /**
   * The pool under Prisma's adapter, for the worker's per-trial statements: named prepared
   * statements straight on node-postgres, without the Prisma client's per-query work, which cost
   * more than the statements themselves there (bench/dispatch.bench.ts --cpu-prof).
   */
  private pool: Pool;

  constructor(@Inject(DB_OPTIONS) readonly dbOptions: DbOptions) {
    const pool = createPgPool(dbOptions);
    super({ adapter: new PrismaPg(pool, { schema: dbOptions.databaseSchema, disposeExternalPool: true }) });
    this.pool = pool;
  }

  /**
   * The pool, or a new one once $disconnect ended it: Nest destroys modules (PrismaService
   * disconnects) before the worker's drain (beforeApplicationShutdown) writes its last rows, and
   * Prisma itself reconnects lazily there too.
   */
  get pg(): Pool {
    if (this.pool.ending || this.pool.ended) this.pool = createPgPool(this.dbOptions);
    return this.pool;
  }

  /** Runs a named (prepared once per connection) statement; `text` must be constant for the name. */
  async statement<T extends QueryResultRow>(name: string, text: string, values: unknown[]): Promise<T[]> {
    return (await this.pg.query<T>({ name, text, values })).rows;
  }

  async onModuleInit(): Promise<void> {
    await this.$connect();
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
  }
}
