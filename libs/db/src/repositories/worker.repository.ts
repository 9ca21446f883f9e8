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
}
