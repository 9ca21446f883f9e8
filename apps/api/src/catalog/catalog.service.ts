// Registers the shipped base models and built-in datasets as rows at API start (idempotent).
import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@lora/config';
import { CatalogRepository, Prisma } from '@lora/db';
import { builtinDatasets, discoverShippedModels } from '@lora/orchestration';

@Injectable()
export class CatalogService implements OnApplicationBootstrap {
  private readonly log = new Logger(CatalogService.name);

  constructor(
    private readonly catalog: CatalogRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const models = discoverShippedModels(this.config.modelsDir);
    for (const m of models) await this.catalog.upsertBaseModel({ ...m, config: m.config as Prisma.InputJsonValue });
    for (const d of builtinDatasets()) await this.catalog.upsertDataset(d);
    this.log.log({ models: models.map((m) => m.name), modelsDir: this.config.modelsDir }, 'catalog registered');
  }
}
