// Sweeps and their trials: created together in one transaction, read with progress counts.
import { Injectable } from '@nestjs/common';
import { Prisma, RunStatus } from '../generated/prisma/client';
import { PrismaService } from '../prisma.service';

export interface NewSweep {
  name: string;
  baseModelId: string;
  datasetId: string;
  spec: Prisma.InputJsonValue;
  idempotencyKey?: string;
  /** BullMQ priority (0 = none; 1 highest … 2,097,151 lowest). Default 0. */
  priority?: number;
  maxConcurrent?: number | null;
  /** Leaderboard metric (a key of LEADERBOARD_METRICS) and direction. Defaults eval_loss / min. */
  metric?: string;
  metricMode?: 'min' | 'max';
  trials: Array<{
    index: number;
    variant: string;
    hyperparams: Prisma.InputJsonValue;
    /** 'probe' | 'train' (default). */
    kind?: string;
    planId?: string | null;
    /** Default: the sweep's priority. */
    priority?: number;
  }>;
}

/**
 * Leaderboard metrics → the Trial columns they sort by (the first decides, the rest break ties).
 * eval_loss is the final eval loss; a pruned trial has only its best.
 */
export const LEADERBOARD_METRICS = {
  eval_loss: ['finalEvalLoss', 'bestEvalLoss'],
  best_eval_loss: ['bestEvalLoss', 'finalEvalLoss'],
  tokens_per_sec: ['tokensPerSec'],
  trainable_params: ['trainableParams'],
} as const satisfies Record<string, ReadonlyArray<keyof Prisma.TrialOrderByWithRelationInput>>;
export type LeaderboardMetric = keyof typeof LEADERBOARD_METRICS;

export interface SweepProgress {
  total: number;
  done: number;
  byStatus: Partial<Record<RunStatus, number>>;
}

const FINISHED: RunStatus[] = [RunStatus.succeeded, RunStatus.failed, RunStatus.cancelled, RunStatus.pruned];

export function progressOf(byStatus: Partial<Record<RunStatus, number>>): SweepProgress {
  const entries = Object.entries(byStatus) as Array<[RunStatus, number]>;
  return {
    total: entries.reduce((a, [, n]) => a + n, 0),
    done: entries.filter(([s]) => FINISHED.includes(s)).reduce((a, [, n]) => a + n, 0),
    byStatus,
  };
}

function rankingColumns(metric: string): readonly string[] {
  const columns = (LEADERBOARD_METRICS as Record<string, readonly string[]>)[metric];
  if (!columns) throw new Error(`unknown leaderboard metric "${metric}"; expected one of ${Object.keys(LEADERBOARD_METRICS).join(', ')}`);
  return columns;
}

function rankingOrder(metric: string, mode: 'min' | 'max'): Prisma.TrialOrderByWithRelationInput[] {
  const sort = mode === 'max' ? 'desc' : 'asc';
  return [
    ...rankingColumns(metric).map((c) => ({ [c]: { sort, nulls: 'last' } }) as Prisma.TrialOrderByWithRelationInput),
    { index: 'asc' },
  ];
}

@Injectable()
export class SweepRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Sweep + all trials in one transaction: either everything is written or nothing. */
  createWithTrials(s: NewSweep) {
    return this.prisma.$transaction(async (tx) => {
      const sweep = await tx.sweep.create({
        data: {
          name: s.name,
          status: RunStatus.queued,
          baseModelId: s.baseModelId,
          datasetId: s.datasetId,
          spec: s.spec,
          idempotencyKey: s.idempotencyKey,
          priority: s.priority ?? 0,
          maxConcurrent: s.maxConcurrent ?? null,
          metric: s.metric ?? 'eval_loss',
          metricMode: s.metricMode ?? 'min',
        },
      });
      await tx.trial.createMany({
        data: s.trials.map((t) => ({
          sweepId: sweep.id,
          index: t.index,
          variant: t.variant,
          hyperparams: t.hyperparams,
          status: RunStatus.queued,
          kind: t.kind ?? 'train',
          planId: t.planId ?? null,
          priority: t.priority ?? s.priority ?? 0,
        })),
      });
      const trials = await tx.trial.findMany({ where: { sweepId: sweep.id }, orderBy: { index: 'asc' } });
      return { sweep, trials };
    });
  }

  findByIdempotencyKey(key: string) {
    return this.prisma.sweep.findUnique({ where: { idempotencyKey: key } });
  }

  /** Removes a sweep and (by cascade) its trials: the compensation when enqueuing fails. */
  delete(id: string) {
    return this.prisma.sweep.delete({ where: { id } });
  }

  findSpec(id: string) {
    return this.prisma.sweep.findUnique({ where: { id }, select: { id: true, spec: true } });
  }

  /**
   * One page of a sweep's trials in index order, and how many it has. Two plain reads side by
   * side: a transaction around them (BEGIN/COMMIT on a dedicated connection) doubled the cost,
   * for a consistency a page does not need.
   */
  trialsPage(sweepId: string, take: number, skip: number) {
    return Promise.all([
      this.prisma.trial.findMany({ where: { sweepId }, orderBy: { index: 'asc' }, take, skip }),
      this.prisma.trial.count({ where: { sweepId } }),
    ]);
  }

  /** What the leaderboard ranks by (without loading the sweep's trials). */
  findRanking(id: string) {
    return this.prisma.sweep.findUnique({ where: { id }, select: { id: true, metric: true, metricMode: true } });
  }

  findStatus(id: string) {
    return this.prisma.sweep.findUnique({ where: { id }, select: { id: true, status: true, finishedAt: true } });
  }

  /** The sweep with its model and dataset names, without its trials (GET /sweeps/:id). */
  findSummary(id: string) {
    return this.prisma.sweep.findUnique({
      where: { id },
      include: { baseModel: { select: { id: true, name: true } }, dataset: { select: { id: true, name: true } } },
    });
  }

  list(opts: { take: number; skip: number; status?: RunStatus }) {
    const where = opts.status ? { status: opts.status } : {};
    // Side by side, not in a transaction (see trialsPage): a page and its total need not be one snapshot.
    return Promise.all([
      this.prisma.sweep.findMany({
        where,
        orderBy: { createdAt: 'desc' },
        take: opts.take,
        skip: opts.skip,
        include: { baseModel: { select: { name: true } }, dataset: { select: { name: true } } },
      }),
      this.prisma.sweep.count({ where }),
    ]);
  }

  /**
   * The sweep's train trials (probes excluded) best first by `metric` (a LEADERBOARD_METRICS
   * key) in `mode`; trials without a value come last, ties by the next column, then by index.
   */
  leaderboard(sweepId: string, metric: string = 'eval_loss', mode: 'min' | 'max' = 'min', take = 10) {
    return this.prisma.trial.findMany({ where: { sweepId, kind: 'train' }, orderBy: rankingOrder(metric, mode), take });
  }

  /**
   * The leaderboard's first trial, or null while no train trial has a value for `metric` yet:
   * one ORDER BY … LIMIT 1 on (sweepId, …), not a scan of the sweep's trials in Node.
   */
  best(sweepId: string, metric: string = 'eval_loss', mode: 'min' | 'max' = 'min') {
    const columns = rankingColumns(metric);
    return this.prisma.trial.findFirst({
      where: { sweepId, kind: 'train', OR: columns.map((c) => ({ [c]: { not: null } })) },
      orderBy: rankingOrder(metric, mode),
    });
  }

  /** A sweep's progress: trial counts per status, total and finished. */
  async progress(sweepId: string): Promise<SweepProgress> {
    return progressOf((await this.statusCounts([sweepId])).get(sweepId) ?? {});
  }

  /** Trial counts per status for the given sweeps. */
  async statusCounts(sweepIds: string[]): Promise<Map<string, Partial<Record<RunStatus, number>>>> {
    const rows = await this.prisma.trial.groupBy({
      by: ['sweepId', 'status'],
      where: { sweepId: { in: sweepIds } },
      _count: { _all: true },
    });
    const out = new Map<string, Partial<Record<RunStatus, number>>>();
    for (const r of rows) {
      const m = out.get(r.sweepId) ?? {};
      m[r.status] = r._count._all;
      out.set(r.sweepId, m);
    }
    return out;
  }

  /**
   * Derives the sweep's status from its trials by recounting them all (API-side transitions:
   * cancel, rerun, replan, failed plans): running while any trial runs, finished when all are
   * terminal. The worker's hot path uses markRunning/settleStatus instead.
   */
  refreshStatus(sweepId: string) {
    return refreshSweepStatus(this.prisma, sweepId);
  }

  /** A queued sweep becomes running (a trial of it started); any other status stays. One UPDATE. */
  async markRunning(sweepId: string): Promise<boolean> {
    const rows = await this.prisma.statement(
      'sweep.markRunning',
      `UPDATE "Sweep" SET status = 'running', "updatedAt" = now() WHERE id = $1 AND status = 'queued' RETURNING id`,
      [sweepId],
    );
    return rows.length > 0;
  }

  /**
   * After one of its trials reached a terminal status (committed): when none of the sweep's
   * trials is open any more, the sweep finishes: succeeded if any trial succeeded or was pruned,
   * cancelled if all were cancelled, else failed. Index probes (EXISTS on sweepId + status), not a
   * recount, so the cost does not grow with the sweep. Run after the trial's own commit: of two
   * trials finishing together, the later statement sees both. Returns the status set, or null.
   */
  async settleStatus(sweepId: string): Promise<RunStatus | null> {
    const [row] = await this.prisma.statement<{ status: RunStatus }>(
      'sweep.settleStatus',
      `UPDATE "Sweep" s SET
              status = CASE
                WHEN EXISTS (SELECT 1 FROM "Trial" WHERE "sweepId" = s.id AND status IN ('succeeded', 'pruned')) THEN 'succeeded'
                WHEN EXISTS (SELECT 1 FROM "Trial" WHERE "sweepId" = s.id AND status = 'failed') THEN 'failed'
                ELSE 'cancelled' END::"RunStatus",
              "finishedAt" = now(), "updatedAt" = now()
        WHERE s.id = $1
          AND NOT EXISTS (SELECT 1 FROM "Trial" WHERE "sweepId" = s.id AND status IN ('queued', 'running', 'preempted'))
          AND EXISTS (SELECT 1 FROM "Trial" WHERE "sweepId" = s.id)
       RETURNING s.status`,
      [sweepId],
    );
    return row?.status ?? null;
  }
}

/** Statuses a trial does not leave on its own (only a rerun reopens it). */
export const TERMINAL_STATUSES: readonly RunStatus[] = FINISHED;

/** The sweep status its trials imply; usable inside a transaction (trial finish does so). */
export async function refreshSweepStatus(db: Prisma.TransactionClient, sweepId: string) {
  const rows = await db.trial.groupBy({ by: ['status'], where: { sweepId }, _count: { _all: true } });
  const counts: Partial<Record<RunStatus, number>> = {};
  for (const r of rows) counts[r.status] = r._count._all;
  const n = (s: RunStatus) => counts[s] ?? 0;
  const total = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
  const terminal = n(RunStatus.succeeded) + n(RunStatus.failed) + n(RunStatus.cancelled) + n(RunStatus.pruned);
  let status: RunStatus;
  if (total > 0 && terminal === total) {
    status =
      n(RunStatus.succeeded) + n(RunStatus.pruned) > 0
        ? RunStatus.succeeded
        : n(RunStatus.cancelled) === total
          ? RunStatus.cancelled
          : RunStatus.failed;
  } else if (n(RunStatus.running) + terminal > 0) {
    status = RunStatus.running;
  } else {
    status = RunStatus.queued;
  }
  const finished = status === RunStatus.succeeded || status === RunStatus.failed || status === RunStatus.cancelled;
  return db.sweep.update({ where: { id: sweepId }, data: { status, finishedAt: finished ? new Date() : null } });
}
