// Queue and job names, and the options every producer uses: one file, imported by api, worker
// and (later) the dashboard, so a name cannot be mistyped in one place only.
export enum QueueName {
  Train = 'train',
}

export enum JobName {
  TrainTrial = 'train-trial',
}

/** Payload of a train job. Small on purpose: the worker reads everything else from Postgres. */
export interface TrainTrialJobData {
  sweepId: string;
  trialId: string;
}

/** Deterministic job id: enqueuing the same trial twice is a no-op in BullMQ. */
export const trainJobId = (trialId: string): string => `train-${trialId}`;

export const TRAIN_JOB_DEFAULTS = {
  backoff: { type: 'exponential' as const, delay: 2000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 10000 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

/** How long a worker may go without renewing a job lock before BullMQ calls the job stalled. */
export const TRAIN_LOCK_DURATION_MS = 60_000;

/** Redis pub/sub channel on which the API broadcasts trial cancellations to every worker. */
export const cancelChannel = (queuePrefix: string): string => `${queuePrefix}:control:cancel`;

export interface CancelMessage {
  trialIds: string[];
  reason: string;
}
