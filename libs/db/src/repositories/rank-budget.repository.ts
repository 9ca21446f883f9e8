// AdaLoRA rank allocation over time: one row per (trial, step, module), written in batches.
import { Injectable } from '@nestjs/common';
import { PrismaService } from '../prisma.service';

export interface RankBudgetInput {
  trialId: string;
  step: number;
  module: string;
  rank: number;
  /** The total rank budget at that step. */
  budget: number;
}

export interface RankBudgetStep {
  step: number;
  budget: number;
  /** module path -> rank at that step. */
  ranks: Record<string, number>;
}

@Injectable()
export class RankBudgetRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** A replayed batch (same trial, step, module) is ignored, not duplicated. Returns rows inserted. */
  async insertMany(rows: RankBudgetInput[]): Promise<number> {
    if (rows.length === 0) return 0;
    const r = await this.prisma.rankBudget.createMany({ data: rows, skipDuplicates: true });
    return r.count;
  }

  /** The trial's allocation grouped by step, in step order. */
  async history(trialId: string): Promise<RankBudgetStep[]> {
    const rows = await this.prisma.rankBudget.findMany({
      where: { trialId },
      orderBy: [{ step: 'asc' }, { module: 'asc' }],
      select: { step: true, module: true, rank: true, budget: true },
    });
    const out: RankBudgetStep[] = [];
    for (const r of rows) {
      let last = out[out.length - 1];
      if (!last || last.step !== r.step) {
        last = { step: r.step, budget: r.budget, ranks: {} };
        out.push(last);
      }
      last.ranks[r.module] = r.rank;
    }
    return out;
  }
}
