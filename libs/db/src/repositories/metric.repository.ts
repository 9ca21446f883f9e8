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

  /**
   * One metric's curve for every trial of a sweep (the input of early stopping): points in step
   * order per trial. Only `kind` trials (default 'train': LoRA-drop probes are not compared).
   */
  async curvesForSweep(
    sweepId: string,
    opts: { name?: string; split?: string; kind?: string } = {},
  ): Promise<Array<{ trialId: string; points: Array<{ step: number; value: number }> }>> {
    const rows = await this.prisma.metricPoint.findMany({
      where: { name: opts.name ?? 'loss', split: opts.split ?? 'eval', trial: { sweepId, kind: opts.kind ?? 'train' } },
      orderBy: [{ trialId: 'asc' }, { step: 'asc' }],
      select: { trialId: true, step: true, value: true },
    });
    const out = new Map<string, Array<{ step: number; value: number }>>();
    for (const r of rows) {
      const points = out.get(r.trialId) ?? [];
      points.push({ step: r.step, value: r.value });
      out.set(r.trialId, points);
    }
    return [...out].map(([trialId, points]) => ({ trialId, points }));
  }
}
