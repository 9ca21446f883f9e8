// LoRA-drop module importance measured by a probe trial (one row per module).
import { Injectable } from '@nestjs/common';
import { PrismaService } from '../prisma.service';

export interface ModuleImportanceInput {
  module: string;
  /** Σ‖BAx‖² over the probe's batches. */
  score: number;
  /** score / Σ scores. */
  normalized: number;
  /** 1 = most important. */
  rank: number;
}

@Injectable()
export class ImportanceRepository {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * Replaces the probe's importance rows in one transaction (a retried probe rewrites them,
   * readers never see a half-written set). Returns how many rows were written.
   */
  replaceForProbe(trialId: string, rows: ModuleImportanceInput[]): Promise<number> {
    return this.prisma.$transaction(async (tx) => {
      await tx.moduleImportance.deleteMany({ where: { trialId } });
      if (rows.length === 0) return 0;
      const r = await tx.moduleImportance.createMany({ data: rows.map((row) => ({ ...row, trialId })) });
      return r.count;
    });
  }

  /** The probe's modules, most important first. */
  list(trialId: string) {
    return this.prisma.moduleImportance.findMany({
      where: { trialId },
      orderBy: [{ rank: 'asc' }, { module: 'asc' }],
      select: { module: true, score: true, normalized: true, rank: true, createdAt: true },
    });
  }
}
