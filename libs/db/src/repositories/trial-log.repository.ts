// A trial's log lines: appended in batches by the worker, read in id order by the dashboard.
import { Injectable } from '@nestjs/common';
import { PrismaService } from '../prisma.service';

export type LogLevel = 'info' | 'warn' | 'error';

export interface TrialLogInput {
  trialId: string;
  attemptId?: string;
  attempt?: number;
  ts?: Date;
  level: LogLevel;
  message: string;
}

export interface TrialLogRow {
  id: string;
  attemptId: string | null;
  attempt: number | null;
  ts: Date;
  level: string;
  message: string;
}

@Injectable()
export class TrialLogRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Inserts the lines and returns them with their ids (in the order given). */
  async insertBatch(lines: TrialLogInput[]): Promise<Array<TrialLogRow & { trialId: string }>> {
    if (lines.length === 0) return [];
    const rows = await this.prisma.trialLog.createManyAndReturn({
      data: lines.map((l) => ({ ...l, ts: l.ts ?? new Date() })),
      select: { id: true, trialId: true, attemptId: true, attempt: true, ts: true, level: true, message: true },
    });
    return rows.sort((a, b) => (a.id < b.id ? -1 : 1)).map((r) => ({ ...r, id: r.id.toString() }));
  }

  async list(trialId: string, opts: { afterId?: string; take: number }): Promise<TrialLogRow[]> {
    const rows = await this.prisma.trialLog.findMany({
      where: { trialId, ...(opts.afterId !== undefined ? { id: { gt: BigInt(opts.afterId) } } : {}) },
      orderBy: { id: 'asc' },
      take: opts.take,
      select: { id: true, attemptId: true, attempt: true, ts: true, level: true, message: true },
    });
    return rows.map((r) => ({ ...r, id: r.id.toString() }));
  }
}
