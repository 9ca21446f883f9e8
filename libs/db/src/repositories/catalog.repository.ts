// Base models and datasets: the catalog a sweep refers to by name.
import { Injectable } from '@nestjs/common';
import { Prisma } from '../generated/prisma/client';
import { PrismaService } from '../prisma.service';

export interface BaseModelInput {
  name: string;
  path: string;
  architecture: string;
  config: Prisma.InputJsonValue;
  paramCount: number;
  description?: string;
}

export interface DatasetInput {
  name: string;
  source: string;
  format: string;
  validationFraction: number;
  splitSeed: number;
  description?: string;
}

@Injectable()
export class CatalogRepository {
  constructor(private readonly prisma: PrismaService) {}

  upsertBaseModel(m: BaseModelInput) {
    return this.prisma.baseModel.upsert({ where: { name: m.name }, create: m, update: m });
  }

  upsertDataset(d: DatasetInput) {
    return this.prisma.dataset.upsert({ where: { name: d.name }, create: d, update: d });
  }

  findBaseModelByName(name: string) {
    return this.prisma.baseModel.findUnique({ where: { name } });
  }

  findDatasetByName(name: string) {
    return this.prisma.dataset.findUnique({ where: { name } });
  }

  listBaseModels() {
    return this.prisma.baseModel.findMany({ orderBy: { name: 'asc' } });
  }

  listDatasets() {
    return this.prisma.dataset.findMany({ orderBy: { name: 'asc' } });
  }

  setDatasetTokenCounts(id: string, trainTokens: number, validationTokens: number) {
    return this.prisma.dataset.update({ where: { id }, data: { trainTokens, validationTokens } });
  }
}
