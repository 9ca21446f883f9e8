// The worker process: BullMQ processors and fleet registration, no HTTP.
import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, pinoOptions, redisOptions, type AppConfig } from '@lora/config';
import { DbModule, RepositoriesModule } from '@lora/db';
import { QueueModule } from '@lora/queue';
import { LoggerModule } from 'nestjs-pino';
import { HeartbeatService } from './fleet/heartbeat.service';
import { makeWorkerIdentity, WORKER_IDENTITY } from './fleet/worker-identity';
import { CancelListener } from './train/cancel-listener.service';
import { ConcurrencyGate } from './train/concurrency-gate.service';
import { PlanProcessor } from './train/plan.processor';
import { TrainProcessor } from './train/train.processor';
import { TrialRunner } from './train/trial-runner.service';

@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot({ pinoHttp: pinoOptions(config, 'worker') }),
        DbModule.forRoot(config.db),
        RepositoriesModule,
        BullModule.forRoot({ connection: redisOptions(config.redis.url), prefix: config.redis.prefix }),
        QueueModule,
      ],
      providers: [
        { provide: WORKER_IDENTITY, useValue: makeWorkerIdentity(config.worker.host) },
        HeartbeatService,
        TrialRunner,
        CancelListener,
        ConcurrencyGate,
        TrainProcessor,
        PlanProcessor,
      ],
    };
  }
}
