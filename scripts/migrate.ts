// Applies prisma/migrations to DATABASE_URL, schema DATABASE_SCHEMA (defaults: see libs/config).
//   npm run db:migrate        (node dist/scripts/migrate.js after the build)
// Imported directly (not via @lora/db) so migrating needs neither Nest nor the generated client.
import { loadConfig } from '../libs/config/src/config';
import { applyMigrations } from '../libs/db/src/migrate';

async function main(): Promise<void> {
  const { databaseUrl, databaseSchema } = loadConfig().db;
  const { applied } = await applyMigrations({ connectionString: databaseUrl, schema: databaseSchema, log: (m) => console.log(m) });
  console.log(
    applied.length ? `applied ${applied.length} migration(s) to schema ${databaseSchema}` : `schema ${databaseSchema} is up to date`,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
