// Prisma 7 CLI configuration (the datasource URL lives here, not in schema.prisma).
// Only commands that talk to the database read the URL (`prisma migrate deploy`, `migrate status`;
// they need network to fetch the schema engine). `prisma generate` does not, so a missing
// DATABASE_URL is not an error. DATABASE_SCHEMA (default `public`) becomes Prisma's `?schema=`,
// the same schema libs/db's runner and client use.
import { defineConfig } from 'prisma/config';

function datasourceUrl(): string {
  const url = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test');
  const schema = process.env.DATABASE_SCHEMA;
  if (schema && !url.searchParams.has('schema')) url.searchParams.set('schema', schema);
  return url.toString();
}

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: datasourceUrl() },
});
