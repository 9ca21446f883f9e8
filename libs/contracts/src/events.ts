// Live events: what workers and API hosts publish on Redis when a sweep changes, and what the
// API streams to browsers as server-sent events. One Redis channel per sweep.

export const eventsChannel = (queuePrefix: string, sweepId: string): string => `${queuePrefix}:events:${sweepId}`;
/** The pattern an API host subscribes to (every sweep's channel). */
export const eventsPattern = (queuePrefix: string): string => `${queuePrefix}:events:*`;

export interface LiveMetricPoint {
  step: number;
  split: 'train' | 'eval';
  name: string;
  value: number;
}

export interface LiveLogLine {
  id: string;
  attemptId: string | null;
  attempt: number | null;
  ts: string;
  level: string;
  message: string;
}

export type LiveEvent =
  | { type: 'sweep'; sweepId: string; status: string; progress?: unknown }
  | { type: 'trial'; sweepId: string; trial: Record<string, unknown> & { id: string; status: string } }
  | { type: 'metrics'; sweepId: string; trialId: string; points: LiveMetricPoint[] }
  | { type: 'log'; sweepId: string; trialId: string; lines: LiveLogLine[] }
  | { type: 'importance' | 'ranks' | 'checkpoint'; sweepId: string; trialId: string };

export type LiveEventType = LiveEvent['type'];

/** Event types the fleet-wide stream (GET /events) carries; per-sweep streams carry them all. */
export const GLOBAL_EVENT_TYPES: ReadonlySet<LiveEventType> = new Set(['sweep', 'trial']);
