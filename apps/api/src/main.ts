// Entry point of the api process.
import 'reflect-metadata';
import { loadConfig } from '@lora/config';
import { createApiApp } from './bootstrap';

async function main() {
  const config = loadConfig();
  const app = await createApiApp(config);
  await app.listen(config.api.port, config.api.host);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
