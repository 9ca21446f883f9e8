// Trials and their attempts: state transitions as the worker runs them.
import { Injectable } from '@nestjs/common';
import { Prisma, RunStatus } from '../generated/prisma/client';
import { PrismaService } from '../prisma.service';
import { refreshSweepStatus } from './sweep.repository';

@Injectable()
export class TrialRepository {
  constructor(private readonly prisma: PrismaService) {}

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

  /** Everything a worker needs to run the trial. */
  findForRun(id: string) {
    return this.prisma.trial.findUnique({
      where: { id },
      include: { sweep: { include: { baseModel: true, dataset: true } } },
    });
  }

  /** Opens a new attempt (number = previous + 1) and marks the trial running, atomically. */
  /**
   * Opens the next attempt of a trial. An earlier attempt still marked running lost its worker
   * (its job lock expired, BullMQ handed the job on): it is closed as preempted. When the trial
   * has a checkpoint with resume state the attempt resumes there: what earlier attempts recorded
   * after that step (metric points, rank budgets, checkpoints) is removed, so every step is
   * recorded exactly once, by the trajectory that goes on. Without one it restarts from step 0.
   */
  startAttempt(trialId: string, a: { jobId?: string; workerId?: string; backend?: string; device?: string }) {
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

  /** Closes attempt and trial together so readers never see one finished without the other. */
  finish(
    trialId: string,
    attemptId: string,
    status: RunStatus,
    trialData: Prisma.TrialUncheckedUpdateInput = {},
    attemptData: Prisma.AttemptUncheckedUpdateInput = {},
  ) {
    const now = new Date();
    return this.prisma.$transaction(async (tx) => {
      // Fencing: an attempt a newer one has closed as preempted (its worker lost the job's lock)
      // must not touch the trial the newer attempt now runs.
      const mine = await tx.attempt.findUniqueOrThrow({ where: { id: attemptId }, select: { status: true } });
      if (mine.status === RunStatus.preempted) return RunStatus.preempted;
      // A cancel from the API wins over whatever the attempt ended with.
      const current = await tx.trial.findUniqueOrThrow({ where: { id: trialId }, select: { status: true } });
      const final = current.status === RunStatus.cancelled ? RunStatus.cancelled : status;
      await tx.attempt.update({ where: { id: attemptId }, data: { ...attemptData, status: final, finishedAt: now } });
      const { status: _ignored, ...rest } = trialData as { status?: unknown };
      const t = await tx.trial.update({ where: { id: trialId }, data: { ...rest, status: final, finishedAt: now } });
      // The sweep's status moves in the same transaction: readers never see it lag its trials.
      await refreshSweepStatus(tx, t.sweepId);
      return final;
    });
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
