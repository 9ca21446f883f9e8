// Metric points: written in batches by workers; a replayed batch is ignored, not duplicated.
import { Injectable } from '@nestjs/common';
import { PrismaService } from '../prisma.service';

export interface MetricPointInput {
  trialId: string;
  attemptId?: string;
  step: number;
  split: 'train' | 'eval';
  name: string;
  value: number;
}

@Injectable()
export class MetricRepository {
  constructor(private readonly prisma: PrismaService) {}

  async insertBatch(points: MetricPointInput[]): Promise<number> {
    if (points.length === 0) return 0;
    const r = await this.prisma.metricPoint.createMany({ data: points, skipDuplicates: true });
    return r.count;
  }

  list(trialId: string, opts: { name?: string; split?: string; afterStep?: number; take: number }) {
    return this.prisma.metricPoint.findMany({
      where: {
        trialId,
        ...(opts.name ? { name: opts.name } : {}),
        ...(opts.split ? { split: opts.split } : {}),
        ...(opts.afterStep !== undefined ? { step: { gt: opts.afterStep } } : {}),
      },
      orderBy: [{ step: 'asc' }, { split: 'asc' }, { name: 'asc' }],
      take: opts.take,
      select: { step: true, split: true, name: true, value: true, createdAt: true },
    });
  }
}
