// Trials and their attempts: state transitions as the worker runs them. The worker's path (load,
// open the first attempt, ready, close) is one statement each, without explicit transactions:
// every write of an attempt is fenced (its WHERE requires the attempt not to have been taken over),
// so a stale worker cannot overwrite the trial a newer attempt runs.
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Prisma, RunStatus, type Trial } from '../generated/prisma/client';
import { PrismaService } from '../prisma.service';
import type { MetricPointInput } from './metric.repository';
import { SweepRepository, TERMINAL_STATUSES } from './sweep.repository';
import type { TrialLogInput, TrialLogRow } from './trial-log.repository';

/** What a worker needs to run a trial (findForRun): the trial, its sweep, model and dataset. */
export interface TrialForRun {
  id: string;
  sweepId: string;
  status: RunStatus;
  kind: string;
  planId: string | null;
  hyperparams: Prisma.JsonValue;
  finalEvalLoss: number | null;
  sweep: {
    id: string;
    spec: Prisma.JsonValue;
    maxConcurrent: number | null;
    metricMode: string;
    baseModel: { name: string; path: string };
    dataset: { source: string; validationFraction: number; splitSeed: number };
  };
}

/** The sweep's columns of TrialForRun (with `s` the sweep), and the joins they need. */
const SWEEP_FOR_RUN_COLUMNS = `s.spec, s."maxConcurrent", s."metricMode", m.name AS "modelName", m.path AS "modelPath",
              d.source, d."validationFraction", d."splitSeed"`;
const SWEEP_FOR_RUN_JOINS = `
         JOIN "BaseModel" m ON m.id = s."baseModelId"
         JOIN "Dataset" d ON d.id = s."datasetId"`;
type SweepForRunRow = Omit<TrialForRun['sweep'], 'id' | 'baseModel' | 'dataset'> & {
  sweepId: string;
  modelName: string;
  modelPath: string;
  source: string;
  validationFraction: number;
  splitSeed: number;
};
function sweepForRun(r: SweepForRunRow): TrialForRun['sweep'] {
  return {
    id: r.sweepId,
    spec: r.spec,
    maxConcurrent: r.maxConcurrent,
    metricMode: r.metricMode,
    baseModel: { name: r.modelName, path: r.modelPath },
    dataset: { source: r.source, validationFraction: r.validationFraction, splitSeed: r.splitSeed },
  };
}

/** A trial's outcome fields written when its attempt closes (only the keys given are set). */
export interface TrialOutcome {
  finalEvalLoss?: number | null;
  tokensPerSec?: number | null;
  prunedReason?: string | null;
  error?: string | null;
}

/** The closing attempt's fields; `status` when it differs from the trial's (a cancel still wins). */
export interface AttemptOutcome {
  lastStep?: number | null;
  error?: string | null;
  status?: RunStatus;
}

/** What the worker learns from its training thread once it is ready. */
export interface ReadyInfo {
  backend: string;
  device: string;
  trainableParams: number;
  /** Also the trial's best eval loss so far; null leaves both as they are. */
  baselineEvalLoss: number | null;
}

@Injectable()
export class TrialRepository {
  constructor(
    private readonly prisma: PrismaService,
    private readonly sweeps: SweepRepository,
  ) {}

  findManyByIds(ids: string[]) {
    return this.prisma.trial.findMany({ where: { id: { in: ids } }, orderBy: { index: 'asc' } });
  }

  findById(id: string) {
    return this.prisma.trial.findUnique({
      where: { id },
      include: { attempts: { orderBy: { number: 'asc' } }, sweep: { select: { id: true, name: true } } },
    });
  }

  /** Whether the trial exists (one primary-key lookup, nothing loaded). */
  async exists(id: string): Promise<boolean> {
    return (await this.prisma.trial.findUnique({ where: { id }, select: { id: true } })) !== null;
  }

  /**
   * The sweep part of findForRun alone (sweep ⋈ model ⋈ dataset), for a worker's per-sweep cache:
   * these fields are fixed once the sweep is created. Null when the sweep does not exist.
   */
  async findSweepForRun(sweepId: string): Promise<TrialForRun['sweep'] | null> {
    const [r] = await this.prisma.statement<SweepForRunRow>(
      'trial.findSweepForRun',
      `SELECT s.id AS "sweepId", ${SWEEP_FOR_RUN_COLUMNS}
         FROM "Sweep" s ${SWEEP_FOR_RUN_JOINS}
        WHERE s.id = $1`,
      [sweepId],
    );
    return r ? sweepForRun(r) : null;
  }

  /** Everything a worker needs to run the trial: one statement (trial ⋈ sweep ⋈ model ⋈ dataset). */
  async findForRun(id: string): Promise<TrialForRun | null> {
    const [r] = await this.prisma.statement<Omit<TrialForRun, 'sweep'> & SweepForRunRow>(
      'trial.findForRun',
      `SELECT t.id, t."sweepId", t.status, t.kind, t."planId", t.hyperparams, t."finalEvalLoss", ${SWEEP_FOR_RUN_COLUMNS}
         FROM "Trial" t
         JOIN "Sweep" s ON s.id = t."sweepId" ${SWEEP_FOR_RUN_JOINS}
        WHERE t.id = $1`,
      [id],
    );
    if (!r) return null;
    return {
      id: r.id,
      sweepId: r.sweepId,
      status: r.status,
      kind: r.kind,
      planId: r.planId,
      hyperparams: r.hyperparams,
      finalEvalLoss: r.finalEvalLoss,
      sweep: sweepForRun(r),
    };
  }

  /**
   * Opens the trial's attempt and marks it (and a queued sweep) running. A trial's first attempt
   * (the common case) is one statement; a later one, or a trial cancelled meanwhile, goes through
   * the full transaction of openAttempt (lost attempts, resume point).
   */
  async startAttempt(trialId: string, a: { jobId?: string; workerId?: string; backend?: string; device?: string }) {
    const first = await this.openFirstAttempt(trialId, a);
    if (first) return first;
    const opened = await this.openAttempt(trialId, a);
    if (opened.trial) await this.sweeps.markRunning(opened.trial.sweepId);
    return opened;
  }

  /**
   * The first attempt in one statement: the trial moves to running only if it has no attempt yet
   * and is not cancelled, the attempt row is inserted only if it moved, and a queued sweep
   * becomes running. Null when the trial did not qualify (then openAttempt decides).
   */
  async openFirstAttempt(trialId: string, a: { jobId?: string; workerId?: string; backend?: string; device?: string }) {
    const now = new Date();
    const attemptId = randomUUID();
    const [row] = await this.prisma.statement<Trial & { attemptNumber: number }>(
      'trial.openFirstAttempt',
      `WITH t AS (
         UPDATE "Trial" SET status = 'running', "startedAt" = $3, error = NULL, "updatedAt" = $3
          WHERE id = $1 AND status <> 'cancelled'
            AND NOT EXISTS (SELECT 1 FROM "Attempt" WHERE "trialId" = $1)
         RETURNING *
       ), a AS (
         INSERT INTO "Attempt" (id, "trialId", number, status, "jobId", "workerId", backend, device, "startedAt")
         SELECT $2, t.id, 1, 'running', $4, $5, $6, $7, $3 FROM t
         RETURNING number
       ), s AS (
         UPDATE "Sweep" SET status = 'running', "updatedAt" = $3
          WHERE id = (SELECT "sweepId" FROM t) AND status = 'queued'
       )
       SELECT t.*, a.number AS "attemptNumber" FROM t, a`,
      [trialId, attemptId, now, a.jobId ?? null, a.workerId ?? null, a.backend ?? null, a.device ?? null],
    );
    if (!row) return null;
    const { attemptNumber, ...trial } = row;
    const attempt = {
      id: attemptId,
      trialId,
      number: attemptNumber,
      status: RunStatus.running,
      jobId: a.jobId ?? null,
      workerId: a.workerId ?? null,
      backend: a.backend ?? null,
      device: a.device ?? null,
      startedAt: now,
      resumedFromStep: null,
    };
    return { attempt, trial: trial as Trial, resume: null, lostAttempts: 0 };
  }

  /**
   * Opens the next attempt of a trial. An earlier attempt still marked running lost its worker
   * (its job lock expired, BullMQ handed the job on): it is closed as preempted. When the trial
   * has a checkpoint with resume state the attempt resumes there: what earlier attempts recorded
   * after that step (metric points, rank budgets, checkpoints) is removed, so every step is
   * recorded exactly once, by the trajectory that goes on. Without one it restarts from step 0.
   */
  private openAttempt(trialId: string, a: { jobId?: string; workerId?: string; backend?: string; device?: string }) {
    return this.prisma.$transaction(async (tx) => {
      const last = await tx.attempt.findFirst({ where: { trialId }, orderBy: { number: 'desc' } });
      const now = new Date();
      const lost = await tx.attempt.findMany({ where: { trialId, status: RunStatus.running }, select: { id: true, workerId: true } });
      for (const l of lost) {
        await tx.attempt.update({
          where: { id: l.id },
          data: {
            status: RunStatus.preempted,
            finishedAt: now,
            error: `worker ${l.workerId ?? '?'} lost: the job's lock expired before the attempt ended`,
          },
        });
      }
      const resumeFrom = last
        ? await tx.checkpoint.findFirst({
            where: { trialId, resumeState: { not: null }, isFinal: false },
            orderBy: { step: 'desc' },
            select: { id: true, step: true, resumeState: true },
          })
        : null;
      const from = resumeFrom?.step ?? 0;
      if (last) {
        await tx.metricPoint.deleteMany({ where: { trialId, step: { gt: from } } });
        await tx.rankBudget.deleteMany({ where: { trialId, step: { gt: from } } });
        await tx.checkpoint.deleteMany({ where: { trialId, step: { gt: from } } });
        const best = await tx.metricPoint.aggregate({ where: { trialId, split: 'eval', name: 'loss' }, _min: { value: true } });
        await tx.trial.update({ where: { id: trialId }, data: { bestEvalLoss: best._min.value } });
      }
      const attempt = await tx.attempt.create({
        data: {
          trialId,
          number: (last?.number ?? 0) + 1,
          status: RunStatus.running,
          jobId: a.jobId,
          workerId: a.workerId,
          backend: a.backend,
          device: a.device,
          startedAt: now,
          resumedFromStep: resumeFrom ? from : null,
        },
      });
      // A trial cancelled while its job was being picked up stays cancelled.
      const moved = await tx.trial.updateMany({
        where: { id: trialId, status: { not: RunStatus.cancelled } },
        data: { status: RunStatus.running, startedAt: now, error: null },
      });
      if (moved.count === 0) {
        await tx.attempt.update({
          where: { id: attempt.id },
          data: { status: RunStatus.cancelled, finishedAt: now, error: 'cancelled before it started' },
        });
        return { attempt, trial: null, resume: null, lostAttempts: lost.length };
      }
      const trial = await tx.trial.findUniqueOrThrow({ where: { id: trialId } });
      const resume = resumeFrom?.resumeState
        ? { step: from, checkpointId: resumeFrom.id, state: new Uint8Array(resumeFrom.resumeState) }
        : null;
      return { attempt, trial, resume, lostAttempts: lost.length };
    });
  }

  /**
   * False once a newer attempt closed this one as preempted (its worker lost the job): it must
   * stop writing. (A cancelled attempt is stopped by the cancel broadcast and still records its end.)
   */
  async attemptIsLive(id: string): Promise<boolean> {
    const a = await this.prisma.attempt.findUnique({ where: { id }, select: { status: true } });
    return a !== null && a.status !== RunStatus.preempted;
  }

  updateAttempt(id: string, data: Prisma.AttemptUncheckedUpdateInput) {
    return this.prisma.attempt.update({ where: { id }, data });
  }

  updateTrial(id: string, data: Prisma.TrialUncheckedUpdateInput) {
    return this.prisma.trial.update({ where: { id }, data });
  }

  /** How many of the sweep's trials are running now (for budget.maxConcurrent). */
  countRunning(sweepId: string): Promise<number> {
    return this.prisma.trial.count({ where: { sweepId, status: RunStatus.running } });
  }

  /**
   * The training thread is ready: the attempt's backend/device and the trial's trainable
   * parameters (and baseline eval loss) in one statement, fenced (nothing is written once a newer
   * attempt took over). Returns the trial row, or null when fenced off.
   */
  async markReady(trialId: string, attemptId: string, r: ReadyInfo): Promise<Trial | null> {
    const [row] = await this.prisma.statement<Trial>(
      'trial.markReady',
      `WITH a AS (
         UPDATE "Attempt" SET backend = $3, device = $4 WHERE id = $2 AND status <> 'preempted' RETURNING id
       )
       UPDATE "Trial" SET "trainableParams" = $5,
              "baselineEvalLoss" = COALESCE($6, "baselineEvalLoss"), "bestEvalLoss" = COALESCE($6, "bestEvalLoss"),
              "updatedAt" = now()
        WHERE id = $1 AND EXISTS (SELECT 1 FROM a)
       RETURNING *`,
      [trialId, attemptId, r.backend, r.device, r.trainableParams, r.baselineEvalLoss],
    );
    return row ?? null;
  }

  /**
   * Closes attempt and trial in one statement, so readers never see one finished without the
   * other. Fenced: an attempt a newer one has closed as preempted (its worker lost the job's lock)
   * changes nothing and gets `preempted` back. A cancel from the API wins over whatever the
   * attempt ended with. When the trial ends terminal, the sweep's status settles afterwards.
   * Written by the same statement under the same fence (a fast trial's close is then one round
   * trip, not four): `rows`, the attempt's last metric points and log lines, and `ready`, what
   * markReady would have written had the attempt not ended first.
   * Returns the trial's final status, its row (null when fenced off) and the log lines written.
   */
  async closeAttempt(
    trialId: string,
    attemptId: string,
    status: RunStatus,
    trial: TrialOutcome = {},
    attempt: AttemptOutcome = {},
    extra: { rows?: { metrics: MetricPointInput[]; logs: TrialLogInput[] }; ready?: ReadyInfo } = {},
  ): Promise<{ status: RunStatus; trial: Trial | null; logRows: TrialLogRow[] }> {
    // Each optional field is a (given?, value) pair: one statement text for every combination.
    const opt = (v: unknown) => [v !== undefined, v ?? null];
    const { rows, ready } = extra;
    const withRows = rows !== undefined && (rows.metrics.length > 0 || rows.logs.length > 0);
    const [found] = await this.prisma.statement<Trial & { logRows?: Array<Omit<TrialLogRow, 'ts'> & { ts: string }> }>(
      withRows ? 'trial.closeAttemptWithRows' : 'trial.closeAttempt',
      `WITH t AS (
         UPDATE "Trial" SET
                status = CASE WHEN status = 'cancelled' THEN status ELSE $3::"RunStatus" END,
                "finishedAt" = $4, "updatedAt" = $4,
                "finalEvalLoss" = CASE WHEN $5 THEN $6::float8 ELSE "finalEvalLoss" END,
                "tokensPerSec" = CASE WHEN $7 THEN $8::float8 ELSE "tokensPerSec" END,
                "prunedReason" = CASE WHEN $9 THEN $10::text ELSE "prunedReason" END,
                error = CASE WHEN $11 THEN $12::text ELSE error END,
                "trainableParams" = CASE WHEN $18 THEN $21::int ELSE "trainableParams" END,
                "baselineEvalLoss" = CASE WHEN $18 THEN COALESCE($22::float8, "baselineEvalLoss") ELSE "baselineEvalLoss" END,
                "bestEvalLoss" = CASE WHEN $18 THEN COALESCE($22::float8, "bestEvalLoss") ELSE "bestEvalLoss" END
          WHERE id = $1 AND EXISTS (SELECT 1 FROM "Attempt" WHERE id = $2 AND status <> 'preempted')
         RETURNING *
       ), a AS (
         UPDATE "Attempt" SET
                status = CASE WHEN (SELECT status FROM t) = 'cancelled' THEN 'cancelled'
                              ELSE COALESCE($13::"RunStatus", (SELECT status FROM t)) END,
                "finishedAt" = $4,
                "lastStep" = CASE WHEN $14 THEN $15::int ELSE "lastStep" END,
                error = CASE WHEN $16 THEN $17::text ELSE error END,
                backend = CASE WHEN $18 THEN $19::text ELSE backend END,
                device = CASE WHEN $18 THEN $20::text ELSE device END
          WHERE id = $2 AND EXISTS (SELECT 1 FROM t)
       )${
         withRows
           ? `, m AS (
         INSERT INTO "MetricPoint" ("trialId", "attemptId", step, split, name, value)
         SELECT $1, $2, v.step, v.split, v.name, v.value
           FROM unnest($23::int[], $24::text[], $25::text[], $26::float8[]) AS v(step, split, name, value)
          WHERE EXISTS (SELECT 1 FROM t)
         ON CONFLICT ("trialId", "split", "name", "step") DO NOTHING
       ), l AS (
         INSERT INTO "TrialLog" ("trialId", "attemptId", attempt, ts, level, message)
         SELECT $1, $2, v.attempt, v.ts, v.level, v.message
           FROM unnest($27::int[], $28::timestamptz[], $29::text[], $30::text[])
                WITH ORDINALITY AS v(attempt, ts, level, message, i)
          WHERE EXISTS (SELECT 1 FROM t)
          ORDER BY v.i
         RETURNING id, "attemptId", attempt, ts, level, message
       )
       SELECT t.*, (SELECT COALESCE(json_agg(json_build_object('id', l.id::text, 'attemptId', l."attemptId", 'attempt', l.attempt,
                                                            'ts', l.ts, 'level', l.level, 'message', l.message) ORDER BY l.id), '[]'::json)
                      FROM l) AS "logRows"
         FROM t`
           : `
       SELECT * FROM t`
       }`,
      [
        trialId,
        attemptId,
        status,
        new Date(),
        ...opt(trial.finalEvalLoss),
        ...opt(trial.tokensPerSec),
        ...opt(trial.prunedReason),
        ...opt(trial.error),
        attempt.status ?? null,
        ...opt(attempt.lastStep),
        ...opt(attempt.error),
        ready !== undefined,
        ready?.backend ?? null,
        ready?.device ?? null,
        ready?.trainableParams ?? null,
        ready?.baselineEvalLoss ?? null,
        ...(withRows
          ? [
              rows.metrics.map((p) => p.step),
              rows.metrics.map((p) => p.split),
              rows.metrics.map((p) => p.name),
              rows.metrics.map((p) => p.value),
              rows.logs.map((l) => l.attempt ?? null),
              rows.logs.map((l) => l.ts ?? new Date()),
              rows.logs.map((l) => l.level),
              rows.logs.map((l) => l.message),
            ]
          : []),
      ],
    );
    if (!found) return { status: RunStatus.preempted, trial: null, logRows: [] };
    const { logRows, ...row } = found;
    if (TERMINAL_STATUSES.includes(row.status)) await this.sweeps.settleStatus(row.sweepId);
    return { status: row.status, trial: row as Trial, logRows: (logRows ?? []).map((l) => ({ ...l, ts: new Date(l.ts) })) };
  }

  /** closeAttempt's status alone. */
  async finish(trialId: string, attemptId: string, status: RunStatus, trial: TrialOutcome = {}, attempt: AttemptOutcome = {}) {
    return (await this.closeAttempt(trialId, attemptId, status, trial, attempt)).status;
  }

  /** Marks not-yet-finished trials cancelled; returns the ids that changed. */
  async cancel(ids: string[], reason: string): Promise<string[]> {
    const open = await this.prisma.trial.findMany({
      where: { id: { in: ids }, status: { in: [RunStatus.queued, RunStatus.running, RunStatus.preempted] } },
      select: { id: true },
    });
    const changed = open.map((t) => t.id);
    if (changed.length === 0) return [];
    const now = new Date();
    await this.prisma.$transaction([
      this.prisma.trial.updateMany({
        where: { id: { in: changed } },
        data: { status: RunStatus.cancelled, error: reason, finishedAt: now },
      }),
      this.prisma.attempt.updateMany({
        where: { trialId: { in: changed }, status: RunStatus.running },
        data: { status: RunStatus.cancelled, error: reason, finishedAt: now },
      }),
    ]);
    return changed;
  }

  /**
   * Puts a finished trial back to queued for a fresh run: its metric points and checkpoints go
   * (a rerun trains from scratch); its attempts stay as history.
   */
  resetForRerun(id: string) {
    return this.prisma.$transaction([
      this.prisma.metricPoint.deleteMany({ where: { trialId: id } }),
      this.prisma.checkpoint.deleteMany({ where: { trialId: id } }),
      this.prisma.rankBudget.deleteMany({ where: { trialId: id } }),
      this.prisma.moduleImportance.deleteMany({ where: { trialId: id } }),
      this.prisma.trial.update({
        where: { id },
        data: {
          status: RunStatus.queued,
          error: null,
          finalEvalLoss: null,
          bestEvalLoss: null,
          baselineEvalLoss: null,
          tokensPerSec: null,
          trainableParams: null,
          prunedReason: null,
          rankPattern: Prisma.DbNull,
          startedAt: null,
          finishedAt: null,
        },
      }),
    ]);
  }

  listBySweep(sweepId: string, statuses?: RunStatus[]) {
    return this.prisma.trial.findMany({
      where: { sweepId, ...(statuses ? { status: { in: statuses } } : {}) },
      orderBy: { index: 'asc' },
      select: { id: true, status: true, sweepId: true, priority: true },
    });
  }

  /** Fails not-yet-finished trials with a reason (e.g. their LoRA-drop probe failed); returns changed ids. */
  async failMany(ids: string[], reason: string): Promise<string[]> {
    const open = await this.prisma.trial.findMany({
      where: { id: { in: ids }, status: { in: [RunStatus.queued, RunStatus.preempted] } },
      select: { id: true },
    });
    const changed = open.map((t) => t.id);
    if (changed.length > 0) {
      await this.prisma.trial.updateMany({
        where: { id: { in: changed } },
        data: { status: RunStatus.failed, error: reason, finishedAt: new Date() },
      });
    }
    return changed;
  }

  /** A train trial that used one of these plans (the template for a re-planned run). */
  findOneByPlans(planIds: string[]) {
    return this.prisma.trial.findFirst({ where: { planId: { in: planIds }, kind: 'train' }, orderBy: { index: 'asc' } });
  }

  /** Appends a trial to an existing sweep (next index), queued. */
  addToSweep(
    sweepId: string,
    t: { variant: string; kind: string; hyperparams: Prisma.InputJsonValue; planId?: string; priority?: number },
  ) {
    return this.prisma.$transaction(async (tx) => {
      const last = await tx.trial.findFirst({ where: { sweepId }, orderBy: { index: 'desc' }, select: { index: true } });
      return tx.trial.create({ data: { ...t, sweepId, index: (last?.index ?? -1) + 1, status: RunStatus.queued } });
    });
  }
}
