// LoRA-drop plans: a module selection made from a probe's stored importance. Re-planning with
// another threshold/topN adds a row; the importance is not measured again.
import { Injectable } from '@nestjs/common';
import { PrismaService } from '../prisma.service';

export interface NewLoraDropPlan {
  sweepId: string;
  probeTrialId: string;
  threshold?: number | null;
  topN?: number | null;
  /** Selected module paths, most important first. */
  selected: string[];
}

@Injectable()
export class PlanRepository {
  constructor(private readonly prisma: PrismaService) {}

  create(p: NewLoraDropPlan) {
    return this.prisma.loraDropPlan.create({
      data: {
        sweepId: p.sweepId,
        probeTrialId: p.probeTrialId,
        threshold: p.threshold ?? null,
        topN: p.topN ?? null,
        selected: p.selected,
      },
    });
  }

  findById(id: string) {
    return this.prisma.loraDropPlan.findUnique({ where: { id } });
  }

  /** Plans made from one probe, oldest first. */
  listForProbe(probeTrialId: string) {
    return this.prisma.loraDropPlan.findMany({ where: { probeTrialId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  }

  /** All plans of a sweep, oldest first. */
  listForSweep(sweepId: string) {
    return this.prisma.loraDropPlan.findMany({ where: { sweepId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  }
}
