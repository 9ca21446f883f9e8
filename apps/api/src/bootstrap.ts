// Builds the configured Nest app (used by main.ts, the demo and end-to-end tests): JSON API,
// OpenAPI at /docs, the dashboard at / and bull-board at /admin/queues.
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { AppConfig } from '@lora/config';
import cookieParser from 'cookie-parser';
import { Logger } from 'nestjs-pino';
import { ApiModule } from './api.module';
import { ClientErrorsFilter } from './common/http-errors.filter';
import { mountBullBoard, mountDashboard } from './operator-ui';

export async function createApiApp(config: AppConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(config), { bufferLogs: true });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  app.useBodyParser('json', { limit: '1mb' });
  app.useGlobalFilters(new ClientErrorsFilter(app.getHttpAdapter()));
  app.use(cookieParser());
  mountBullBoard(app);
  mountDashboard(app, config.api.dashboardDir);
  const doc = new DocumentBuilder()
    .setTitle('LoRA orchestrator')
    .setDescription('Sweeps of LoRA-family adapters: submit, watch, download')
    .setVersion('0.1.0')
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc));
  return app;
}
