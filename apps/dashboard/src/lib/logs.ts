// Trial log lines from REST pages and SSE batches, de-duplicated by id, in time order.

export interface LogLine {
  id: string;
  attemptId?: string | null;
  attempt: number | null;
  ts: string;
  level: 'info' | 'warn' | 'error' | string;
  message: string;
}

function cmpId(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Merges new lines into `existing` (sorted) and returns a new sorted, de-duplicated array, keeping at most `max` (the newest). */
export function mergeLogs(existing: ReadonlyArray<LogLine>, incoming: ReadonlyArray<LogLine>, max = 5000): LogLine[] {
  const seen = new Set(existing.map((l) => l.id));
  const fresh = incoming.filter((l) => !seen.has(l.id) && (seen.add(l.id), true));
  if (fresh.length === 0) return existing as LogLine[];
  const out = [...existing, ...fresh];
  const last = existing[existing.length - 1];
  const inOrder = !last || fresh.every((l, i) => compareLogs(i === 0 ? last : fresh[i - 1], l) <= 0);
  if (!inOrder) out.sort(compareLogs);
  return out.length > max ? out.slice(out.length - max) : out;
}

export function compareLogs(a: LogLine, b: LogLine): number {
  const ta = Date.parse(a.ts);
  const tb = Date.parse(b.ts);
  if (ta !== tb && !Number.isNaN(ta) && !Number.isNaN(tb)) return ta - tb;
  return cmpId(a.id, b.id);
}
