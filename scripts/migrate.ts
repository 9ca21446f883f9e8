// Applies prisma/migrations to DATABASE_URL, schema DATABASE_SCHEMA (default `public`).
//   node dist/scripts/migrate.js        (after `npx swc apps libs scripts -d dist`)
// Imported directly (not via @lora/db) so migrating needs neither Nest nor the generated client.
import { applyMigrations } from '../libs/db/src/migrate';

async function main(): Promise<void> {
  const connectionString = process.env.DATABASE_URL;
  if (!connectionString) throw new Error('DATABASE_URL is not set');
  const schema = process.env.DATABASE_SCHEMA || 'public';
  const { applied } = await applyMigrations({ connectionString, schema, log: (m) => console.log(m) });
  console.log(applied.length ? `applied ${applied.length} migration(s) to schema ${schema}` : `schema ${schema} is up to date`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
