// Provides every repository; imported by api and worker (needs DbModule.forRoot in the app).
import { Module } from '@nestjs/common';
import { ApiTokenRepository } from './api-token.repository';
import { CatalogRepository } from './catalog.repository';
import { CheckpointRepository } from './checkpoint.repository';
import { ImportanceRepository } from './importance.repository';
import { MetricRepository } from './metric.repository';
import { PlanRepository } from './plan.repository';
import { RankBudgetRepository } from './rank-budget.repository';
import { SweepRepository } from './sweep.repository';
import { TrialLogRepository } from './trial-log.repository';
import { TrialRepository } from './trial.repository';
import { WorkerRepository } from './worker.repository';

const REPOSITORIES = [
  CatalogRepository,
  SweepRepository,
  TrialRepository,
  MetricRepository,
  CheckpointRepository,
  WorkerRepository,
  ImportanceRepository,
  PlanRepository,
  RankBudgetRepository,
  ApiTokenRepository,
  TrialLogRepository,
];

@Module({ providers: REPOSITORIES, exports: REPOSITORIES })
export class RepositoriesModule {}
