// Queue and job names, and the options every producer uses: one file, imported by api, worker
// and (later) the dashboard, so a name cannot be mistyped in one place only.
export enum QueueName {
  /** Train jobs any worker may run. */
  Train = 'train',
  /** Train jobs of trials that need a GPU worker, or a CPU one (sweep `resources.device`). */
  TrainGpu = 'train-gpu',
  TrainCpu = 'train-cpu',
  /** LoRA-drop's plan step: runs after its probe (a flow child on the train queue) finishes. */
  Plan = 'plan',
}

export enum JobName {
  TrainTrial = 'train-trial',
  PlanLoraDrop = 'plan-loradrop',
}

/** The flow producer that builds probe → plan flows. */
export const SWEEP_FLOW_PRODUCER = 'sweeps';

/** Payload of a plan job: the probe it reads and the full runs it plans. */
export interface PlanJobData {
  sweepId: string;
  probeTrialId: string;
  trainTrialIds: string[];
}

export const planJobId = (probeTrialId: string): string => `plan-${probeTrialId}`;

/** Payload of a train job. Small on purpose: the worker reads everything else from Postgres. */
export interface TrainTrialJobData {
  sweepId: string;
  trialId: string;
  /** A worker with less memory (its WORKER_MEMORY_MB) hands the job back for another. */
  minMemoryMb?: number;
}

export type DeviceClass = 'gpu' | 'cpu';
export type DeviceRequirement = DeviceClass | 'any';

/** Every queue that carries train jobs: a worker takes from `train` and from its class's queue. */
export const TRAIN_QUEUES: readonly QueueName[] = [QueueName.Train, QueueName.TrainGpu, QueueName.TrainCpu];

/** Where a trial's train job goes: routing by device class is by queue (BullMQ jobs cannot be filtered). */
export function trainQueueFor(device: DeviceRequirement): QueueName {
  return device === 'gpu' ? QueueName.TrainGpu : device === 'cpu' ? QueueName.TrainCpu : QueueName.Train;
}

/** Deterministic job id: enqueuing the same trial twice is a no-op in BullMQ. */
export const trainJobId = (trialId: string): string => `train-${trialId}`;

export const TRAIN_JOB_DEFAULTS = {
  backoff: { type: 'exponential' as const, delay: 2000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 10000 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

/** Redis pub/sub channel on which the API broadcasts trial cancellations to every worker. */
export const cancelChannel = (queuePrefix: string): string => `${queuePrefix}:control:cancel`;

export interface CancelMessage {
  trialIds: string[];
  reason: string;
}
