// The HTTP process: REST API + OpenAPI; shares db, queue and config modules with the worker.
import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, pinoOptions, redisOptions, type AppConfig } from '@lora/config';
import { DbModule } from '@lora/db';
import { LoggerModule } from 'nestjs-pino';
import { CatalogModule } from './catalog/catalog.module';
import { CheckpointsModule } from './checkpoints/checkpoints.module';
import { HealthModule } from './health/health.module';
import { SweepsModule } from './sweeps/sweeps.module';
import { TrialsModule } from './trials/trials.module';
import { WorkersModule } from './workers/workers.module';

@Module({})
export class ApiModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot({
          pinoHttp: { ...pinoOptions(config, 'api'), autoLogging: { ignore: (req) => req.url === '/health' } },
        }),
        DbModule.forRoot(config.db),
        BullModule.forRoot({ connection: redisOptions(config.redis.url), prefix: config.redis.prefix }),
        CatalogModule,
        SweepsModule,
        TrialsModule,
        CheckpointsModule,
        HealthModule,
        WorkersModule,
      ],
    };
  }
}
