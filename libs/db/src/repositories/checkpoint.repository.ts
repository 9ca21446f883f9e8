// Adapter checkpoints: safetensors bytes with their sha256 and the PEFT adapter config.
import { Injectable } from '@nestjs/common';
import { Prisma } from '../generated/prisma/client';
import { PrismaService } from '../prisma.service';

export interface CheckpointInput {
  trialId: string;
  attemptId?: string;
  step: number;
  format: string;
  bytes: Uint8Array;
  sha256: string;
  adapterConfig: Prisma.InputJsonValue;
  metrics?: Prisma.InputJsonValue;
  isFinal: boolean;
  /** Resume state (variables, optimizer, data position); absent for variants that restart. */
  resumeState?: Uint8Array;
}

const WITHOUT_BYTES = {
  id: true,
  trialId: true,
  attemptId: true,
  step: true,
  format: true,
  sizeBytes: true,
  sha256: true,
  metrics: true,
  isFinal: true,
  createdAt: true,
} as const;

@Injectable()
export class CheckpointRepository {
  constructor(private readonly prisma: PrismaService) {}

  create(c: CheckpointInput) {
    return this.prisma.checkpoint.create({
      data: {
        ...c,
        bytes: new Uint8Array(c.bytes),
        sizeBytes: c.bytes.byteLength,
        resumeState: c.resumeState ? new Uint8Array(c.resumeState) : undefined,
      },
      select: WITHOUT_BYTES,
    });
  }

  listForTrial(trialId: string) {
    return this.prisma.checkpoint.findMany({ where: { trialId }, orderBy: { step: 'asc' }, select: WITHOUT_BYTES });
  }

  findWithBytes(id: string) {
    return this.prisma.checkpoint.findUnique({
      where: { id },
      omit: { resumeState: true },
      include: { trial: { include: { sweep: { include: { baseModel: true } } } } },
    });
  }

  latestForTrial(trialId: string) {
    return this.prisma.checkpoint.findFirst({ where: { trialId }, orderBy: { step: 'desc' }, omit: { resumeState: true } });
  }
}
