// Postgres going away (a restart, a failover, a network blip) must not cost a trial its attempt:
// the worker's writes retry with backoff while the error is a lost connection, for up to a bound.
// Anything else (a constraint, a bug) fails at once.

const CONNECTION_CODES = new Set([
  'P1001',
  'P1002',
  'P1008',
  'P1017',
  'P2024',
  'ECONNREFUSED',
  'ECONNRESET',
  '57P01',
  '57P02',
  '57P03',
  '08006',
  '08001',
  '08003',
]);
const CONNECTION_TEXT =
  /can't reach database server|connection terminated|connection refused|econnrefused|econnreset|server closed the connection|terminating connection|the database system is (starting up|shutting down)|connection ended|timed out fetching a new connection|connect etimedout/i;

/** True when the error means "the database is unreachable right now", not "the query is wrong". */
export function isConnectionError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; depth++) {
    const x = cur as { code?: unknown; message?: unknown; cause?: unknown; originalCode?: unknown };
    if (typeof x.code === 'string' && CONNECTION_CODES.has(x.code)) return true;
    if (typeof x.originalCode === 'string' && CONNECTION_CODES.has(x.originalCode)) return true;
    if (typeof x.message === 'string' && CONNECTION_TEXT.test(x.message)) return true;
    cur = x.cause;
  }
  return false;
}

export interface RetryOptions {
  /** Give up after this long (the error is thrown). Default 120 s. */
  maxMs?: number;
  /** Called before each wait (for a log line). */
  onRetry?: (err: Error, attempt: number, waitMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

export async function withDbRetry<T>(f: () => Promise<T>, o: RetryOptions = {}): Promise<T> {
  const maxMs = o.maxMs ?? 120_000;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const t0 = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await f();
    } catch (e) {
      const waited = Date.now() - t0;
      if (!isConnectionError(e) || waited >= maxMs) throw e;
      const wait = Math.min(5000, 200 * 2 ** Math.min(attempt - 1, 5), Math.max(50, maxMs - waited));
      o.onRetry?.(e as Error, attempt, wait);
      await sleep(wait);
    }
  }
}

/** The same object whose async methods retry on a lost connection (see withDbRetry). */
export function retrying<T extends object>(target: T, o: RetryOptions = {}): T {
  return new Proxy(target, {
    get(t, key, receiver) {
      const v = Reflect.get(t, key, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => withDbRetry(() => (v as (...a: unknown[]) => Promise<unknown>).apply(t, args), o);
    },
  });
}
