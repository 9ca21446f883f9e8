// Test helper: a fake fetch routing "METHOD /path?query" to handlers, plus captured streams,
// so CLI commands run end to end in unit tests without a server.
import type { Deps } from '../context';

export interface FakeRequest {
  method: string;
  path: string;
  url: URL;
  headers: Record<string, string>;
  body: unknown;
}

export type FakeAnswer = { status?: number; json?: unknown; bytes?: Uint8Array; headers?: Record<string, string> };
export type Handler = (req: FakeRequest) => FakeAnswer | Promise<FakeAnswer>;

export class FakeApi {
  readonly requests: FakeRequest[] = [];
  private readonly routes: Array<{ method: string; pattern: RegExp; handler: Handler }> = [];

  /** `pattern` matches the path without the query ("/sweeps/[^/]+"). */
  on(method: string, pattern: string, handler: Handler | FakeAnswer): this {
    this.routes.push({ method, pattern: new RegExp(`^${pattern}$`), handler: typeof handler === 'function' ? handler : () => handler });
    return this;
  }

  /**
   * Serves a sweep fixture (`sweep(...)`) as the API does: GET /sweeps/:id answers its summary,
   * without trials; GET /sweeps/:id/trials pages through the trials of the fixture that summary
   * came from. `current` is called once per summary request, so a scripted sweep moves per poll.
   */
  onSweep(id: string, current: () => SweepFixture): this {
    let last: SweepFixture | undefined;
    this.on('GET', `/sweeps/${id}`, () => {
      last = current();
      return { json: summaryOf(last) };
    });
    return this.on('GET', `/sweeps/${id}/trials`, (req) => {
      const { trials } = last ?? current();
      const take = Number(req.url.searchParams.get('take') ?? 50);
      const skip = Number(req.url.searchParams.get('skip') ?? 0);
      return { json: { total: trials.length, items: trials.slice(skip, skip + take) } };
    });
  }

  readonly fetch = async (input: string, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input);
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = Object.fromEntries(
      Object.entries((init.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]),
    );
    const req: FakeRequest = { method, path: url.pathname, url, headers, body: init.body ? JSON.parse(String(init.body)) : undefined };
    this.requests.push(req);
    const route = this.routes.find((r) => r.method === method && r.pattern.test(url.pathname));
    const answer: FakeAnswer = route
      ? await route.handler(req)
      : { status: 404, json: { message: `Cannot ${method} ${url.pathname}`, error: 'Not Found', statusCode: 404 } };
    const status = answer.status ?? 200;
    if (answer.bytes)
      return new Response(new Uint8Array(answer.bytes), { status, headers: { 'content-type': 'application/zip', ...answer.headers } });
    return new Response(answer.json === undefined ? null : JSON.stringify(answer.json), {
      status,
      headers: { 'content-type': 'application/json; charset=utf-8', ...answer.headers },
    });
  };
}

export class Captured {
  text = '';
  isTTY = false;
  write(s: string) {
    this.text += s;
    return true;
  }
}

export function fakeDeps(api: FakeApi, extra: Partial<Deps> = {}): Deps & { stdout: Captured; stderr: Captured } {
  let t = Date.parse('2026-11-23T03:00:00Z');
  return {
    fetch: api.fetch,
    stdout: new Captured(),
    stderr: new Captured(),
    env: {},
    now: () => (t += 1000),
    sleep: async () => undefined,
    ...extra,
  } as Deps & { stdout: Captured; stderr: Captured };
}

export function unreachableFetch(): Deps['fetch'] {
  return async () => {
    throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) });
  };
}

export const SWEEP_ID = '11111111-1111-4111-8111-111111111111';
export const TRIAL_A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
export const TRIAL_B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';

export function trial(id: string, index: number, r: number, over: Record<string, unknown> = {}) {
  return {
    id,
    sweepId: SWEEP_ID,
    index,
    variant: 'lora',
    status: 'queued',
    hyperparams: {
      variant: 'lora',
      r,
      alpha: 16,
      lr: 0.003,
      dropout: 0,
      targetModules: ['c_attn'],
      rslora: false,
      knobs: {},
      training: { steps: 6, batchSize: 4, seqLen: 32, warmupSteps: 0, schedule: 'cosine', seed: 0 },
    },
    trainableParams: null,
    baselineEvalLoss: null,
    finalEvalLoss: null,
    bestEvalLoss: null,
    tokensPerSec: null,
    error: null,
    ...over,
  };
}

export type SweepFixture = ReturnType<typeof sweep>;

/** What GET /sweeps/:id and POST /sweeps answer for a fixture: everything but its trials. */
export function summaryOf(s: SweepFixture): Omit<SweepFixture, 'trials'> {
  const { trials: _trials, ...summary } = s;
  return summary;
}

/** A sweep with its trials (the API sends the trials at GET /sweeps/:id/trials; see FakeApi.onSweep). */
export function sweep(trials: Array<ReturnType<typeof trial>>, over: Record<string, unknown> = {}) {
  const byStatus: Record<string, number> = {};
  for (const t of trials) byStatus[t.status as string] = (byStatus[t.status as string] ?? 0) + 1;
  const done = trials.filter((t) => ['succeeded', 'failed', 'cancelled', 'pruned'].includes(t.status as string)).length;
  return {
    id: SWEEP_ID,
    name: 'test sweep',
    status: done === trials.length ? 'succeeded' : trials.some((t) => t.status !== 'queued') ? 'running' : 'queued',
    createdAt: '2026-11-23T03:00:00.000Z',
    finishedAt: null,
    baseModel: { name: 'sotu-gpt2-small' },
    dataset: { name: 'moby-dick' },
    progress: { total: trials.length, done, byStatus },
    trials,
    ...over,
  };
}
