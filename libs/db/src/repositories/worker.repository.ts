// The worker fleet: registration and heartbeats.
import { Injectable } from '@nestjs/common';
import { PrismaService } from '../prisma.service';

export interface WorkerRegistration {
  id: string;
  host: string;
  pid: number;
  slots: number;
  backend: string;
  device: string;
  deviceClass: string;
  memoryMb?: number;
}

@Injectable()
export class WorkerRepository {
  constructor(private readonly prisma: PrismaService) {}

  register(w: WorkerRegistration) {
    const now = new Date();
    return this.prisma.worker.upsert({
      where: { id: w.id },
      create: { ...w, status: 'online', startedAt: now, heartbeatAt: now },
      update: { ...w, status: 'online', heartbeatAt: now },
    });
  }

  heartbeat(id: string, currentTrialId: string | null) {
    return this.prisma.worker.update({ where: { id }, data: { heartbeatAt: new Date(), currentTrialId } });
  }

  setStatus(id: string, status: 'online' | 'draining' | 'offline') {
    return this.prisma.worker.update({ where: { id }, data: { status, currentTrialId: null, heartbeatAt: new Date() } });
  }

  list() {
    return this.prisma.worker.findMany({ orderBy: { heartbeatAt: 'desc' } });
  }

  /** The workers with the trials each one is running now (its running attempts). */
  async listWithRunning() {
    const [workers, running] = await Promise.all([
      this.list(),
      this.prisma.attempt.findMany({
        where: { status: 'running', workerId: { not: null } },
        select: { workerId: true, number: true, trialId: true, trial: { select: { sweepId: true } } },
        orderBy: { startedAt: 'asc' },
      }),
    ]);
    return workers.map((w) => ({
      ...w,
      runningTrials: running
        .filter((a) => a.workerId === w.id)
        .map((a) => ({ trialId: a.trialId, sweepId: a.trial.sweepId, attempt: a.number })),
    }));
  }
}
