// Entry point of the api process.
import 'reflect-metadata';
import { loadConfig } from '@lora/config';
import { assertMigrated } from '@lora/db';
import { createApiApp } from './bootstrap';

async function main() {
  const config = loadConfig();
  await assertMigrated({ connectionString: config.db.databaseUrl, schema: config.db.databaseSchema });
  const app = await createApiApp(config);
  await app.listen(config.api.port, config.api.host);
}

main().catch((e) => {
  console.error(e instanceof Error && e.name !== 'Error' ? e.message : e);
  process.exit(1);
});
