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

  /**
   * insertBatch for a running attempt, fenced like MetricRepository.insertForAttempt: one
   * statement that writes the lines only while the attempt has not been taken over. `live` false:
   * nothing was written.
   */
  async insertForAttempt(
    attemptId: string,
    lines: TrialLogInput[],
  ): Promise<{ live: boolean; rows: Array<TrialLogRow & { trialId: string }> }> {
    if (lines.length === 0) return { live: true, rows: [] };
    // One row more than inserted, flagged, tells a fenced-off attempt from an empty batch.
    const rows = await this.prisma.statement<TrialLogRow & { trialId: string; live: boolean }>(
      'trialLog.insertForAttempt',
      `WITH live AS (SELECT 1 FROM "Attempt" WHERE id = $1 AND status <> 'preempted'),
       ins AS (
         INSERT INTO "TrialLog" ("trialId", "attemptId", attempt, ts, level, message)
         SELECT v."trialId", v."attemptId", v.attempt, v.ts, v.level, v.message
           FROM unnest($2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::text[], $7::text[])
                WITH ORDINALITY AS v("trialId", "attemptId", attempt, ts, level, message, i)
          WHERE EXISTS (SELECT 1 FROM live)
          ORDER BY v.i
         RETURNING id::text AS id, "trialId", "attemptId", attempt, ts, level, message
       )
       SELECT ins.*, true AS live FROM ins
       UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, false WHERE NOT EXISTS (SELECT 1 FROM live)`,
      [
        attemptId,
        lines.map((l) => l.trialId),
        lines.map((l) => l.attemptId ?? attemptId),
        lines.map((l) => l.attempt ?? null),
        lines.map((l) => l.ts ?? new Date()),
        lines.map((l) => l.level),
        lines.map((l) => l.message),
      ],
    );
    if (rows.length > 0 && !rows[0].live) return { live: false, rows: [] };
    return {
      live: true,
      rows: rows.map(({ live: _l, ...r }) => r).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1)),
    };
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
