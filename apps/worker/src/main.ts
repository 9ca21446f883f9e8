// Entry point of a worker process (one per GPU or CPU slot group): a Nest application context.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '@lora/config';
import { assertMigrated } from '@lora/db';
import { Logger } from 'nestjs-pino';
import { WorkerModule } from './worker.module';

async function main() {
  const config = loadConfig();
  await assertMigrated({ connectionString: config.db.databaseUrl, schema: config.db.databaseSchema });
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { bufferLogs: true });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  await app.init();
}

main().catch((e) => {
  console.error(e instanceof Error && e.name !== 'Error' ? e.message : e);
  process.exit(1);
});
