// The HTTP process: REST API + server-sent events + OpenAPI; shares db, queue and config modules
// with the worker. The dashboard and bull-board are mounted in bootstrap.ts.
import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, pinoOptions, redisOptions, type AppConfig } from '@lora/config';
import { DbModule } from '@lora/db';
import { LoggerModule } from 'nestjs-pino';
import { AuthModule } from './auth/auth.module';
import { CatalogModule } from './catalog/catalog.module';
import { CheckpointsModule } from './checkpoints/checkpoints.module';
import { accessLogLevel } from './common/access-log-level';
import { EventsModule } from './events/events.module';
import { HealthModule } from './health/health.module';
import { QueuesModule } from './queues/queues.module';
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
          pinoHttp: {
            ...pinoOptions(config, 'api'),
            autoLogging: { ignore: (req) => req.url === '/health' },
            customLogLevel: accessLogLevel,
          },
        }),
        DbModule.forRoot(config.db),
        BullModule.forRoot({ connection: redisOptions(config.redis.url), prefix: config.redis.prefix }),
        AuthModule,
        CatalogModule,
        SweepsModule,
        TrialsModule,
        CheckpointsModule,
        HealthModule,
        WorkersModule,
        QueuesModule,
        EventsModule,
      ],
    };
  }
}
