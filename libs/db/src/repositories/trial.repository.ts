// Trials and their attempts: state transitions as the worker runs them.
import { Injectable } from '@nestjs/common';
import { Prisma, RunStatus } from '../generated/prisma/client';
import { PrismaService } from '../prisma.service';

@Injectable()
export class TrialRepository {
  constructor(private readonly prisma: PrismaService) {}

  findById(id: string) {
    return this.prisma.trial.findUnique({
      where: { id },
      include: { attempts: { orderBy: { number: 'asc' } }, sweep: { select: { id: true, name: true } } },
    });
  }

  /** Everything a worker needs to run the trial. */
  findForRun(id: string) {
    return this.prisma.trial.findUnique({
      where: { id },
      include: { sweep: { include: { baseModel: true, dataset: true } } },
    });
  }

  /** Opens a new attempt (number = previous + 1) and marks the trial running, atomically. */
  startAttempt(trialId: string, a: { jobId?: string; workerId?: string; backend?: string; device?: string }) {
    return this.prisma.$transaction(async (tx) => {
      const last = await tx.attempt.findFirst({ where: { trialId }, orderBy: { number: 'desc' } });
      const now = new Date();
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
        },
      });
      const trial = await tx.trial.update({
        where: { id: trialId },
        data: { status: RunStatus.running, startedAt: now, error: null },
      });
      return { attempt, trial };
    });
  }

  updateAttempt(id: string, data: Prisma.AttemptUncheckedUpdateInput) {
    return this.prisma.attempt.update({ where: { id }, data });
  }

  updateTrial(id: string, data: Prisma.TrialUncheckedUpdateInput) {
    return this.prisma.trial.update({ where: { id }, data });
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
    return this.prisma.$transaction([
      this.prisma.attempt.update({ where: { id: attemptId }, data: { ...attemptData, status, finishedAt: now } }),
      this.prisma.trial.update({ where: { id: trialId }, data: { ...trialData, status, finishedAt: now } }),
    ]);
  }
}
