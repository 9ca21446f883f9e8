// Test helper: a fresh, migrated Postgres schema per spec file, dropped afterwards.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { applyMigrations, quoteIdent } from './migrate';

export interface TestSchema {
  /** e.g. t_1234_9f8e7d6c */
  schema: string;
  /** The base URL with `options=-c search_path=<schema>`, so plain `pg` clients land in the schema too. */
  connectionString: string;
  /** DROP SCHEMA ... CASCADE. */
  drop(): Promise<void>;
}

export function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${quoteIdent(schema)}`);
  return u.toString();
}

export async function createTestSchema(
  baseUrl: string = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test',
): Promise<TestSchema> {
  const schema = `t_${process.pid}_${randomBytes(4).toString('hex')}`;
  await applyMigrations({ connectionString: baseUrl, schema });
  return {
    schema,
    connectionString: withSearchPath(baseUrl, schema),
    async drop() {
      const client = new Client({ connectionString: baseUrl });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
