// Fuzzing the API (real HTTP, Postgres, Redis; no worker): ≥ 10,000 random malformed sweep bodies,
// raw bodies, ids and query strings from a seeded PRNG. Every answer is a 4xx with a JSON
// `message` (never a 5xx, never a 2xx for a malformed request), every 400 names the field that
// was broken, and nothing is stored or enqueued. FUZZ_SEED=<n> replays a run (the seed is printed);
// FUZZ_SEED=random picks a fresh one; FUZZ_CASES=<n> changes the count.
import type { PrismaClient } from '@lora/db';
import type { Queue } from 'bullmq';
import { generateCases, namesField, serialize, VALID_BODIES, type FuzzCase, type RealIds } from './support/sweep-fuzz';
import { startApiOnly, type ApiOnly } from './support/api-only';
import { fetchHttp, sweepTrials } from './support/sweeps';

jest.setTimeout(600_000);

const DEFAULT_SEED = 0x10ba5eed;
const SEED = process.env.FUZZ_SEED === 'random' ? (Math.random() * 2 ** 31) >>> 0 : Number(process.env.FUZZ_SEED ?? DEFAULT_SEED) >>> 0;
const CASES = Number(process.env.FUZZ_CASES ?? 10_000);
const IN_FLIGHT = 16;

interface Answer {
  status: number;
  data: unknown;
  text: string;
}

describe('API fuzz', () => {
  let api: ApiOnly;
  let prisma: PrismaClient;
  let train: Queue;
  let plan: Queue;
  let base: string;
  let token: string;

  beforeAll(async () => {
    // 4xx are the point here: keep the request log quiet.
    api = await startApiOnly('fuzz', (c) => ({ ...c, log: { ...c.log, level: 'error' } }));
    ({ prisma, train, plan, base, token } = api);
  });

  afterAll(() => api?.stop());

  const send = async (c: Pick<FuzzCase, 'method' | 'url' | 'body' | 'headers'>): Promise<Answer> => {
    const res = await fetch(`${base}${c.url}`, {
      method: c.method,
      headers: { authorization: `Bearer ${token}`, ...(c.headers ?? {}) },
      body: c.body,
    });
    const text = await res.text();
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
    return { status: res.status, data, text };
  };

  /** Why the answer is wrong for the case, or null. */
  function judge(c: FuzzCase, a: Answer): string | null {
    const allowed = c.status ?? [];
    if (a.status >= 500) return `${a.status} (server error)`;
    if (allowed.length > 0 ? !allowed.includes(a.status) : a.status < 400 || a.status >= 500) {
      return `status ${a.status}, expected ${allowed.join('|') || '4xx'}`;
    }
    if (a.status < 400) return null; // an allowed 2xx (a well-formed extreme value)
    const data = a.data as { message?: unknown; errors?: Array<{ field?: unknown; message?: unknown }> } | undefined;
    if (!data || typeof data.message !== 'string' || data.message.length === 0) return `no JSON message: ${a.text.slice(0, 120)}`;
    if (a.status !== 400 || !c.fields) return null;
    if (!Array.isArray(data.errors) || data.errors.length === 0) return `400 without errors[]: ${data.message.slice(0, 160)}`;
    const named = data.errors.find((e) => typeof e.field === 'string' && c.fields!.some((f) => namesField(e.field as string, f)));
    if (!named) {
      return `errors name ${JSON.stringify(data.errors.map((e) => e.field)).slice(0, 200)}, expected ${c.fields.join(' or ')}`;
    }
    if (!data.message.includes(String(named.field).split(', ')[0])) return `message does not name ${String(named.field)}`;
    return null;
  }

  async function snapshot() {
    const jobs = async (q: Queue) => Object.values(await q.getJobCounts()).reduce((x, y) => x + y, 0);
    return {
      sweeps: await prisma.sweep.count(),
      trials: await prisma.trial.count(),
      trainJobs: await jobs(train),
      planJobs: await jobs(plan),
    };
  }

  it(`answers ${CASES} malformed requests with a 4xx naming the field, and stores nothing`, async () => {
    // The bodies mutated below are valid: each is accepted as is (and gives real ids to probe).
    const accepted: Record<string, { id: string }> = {};
    for (const [name, body] of Object.entries(VALID_BODIES)) {
      const r = await send({ method: 'POST', url: '/sweeps', body: serialize(body()), headers: { 'content-type': 'application/json' } });
      expect({ name, status: r.status, body: r.status === 201 ? 'ok' : r.text }).toEqual({ name, status: 201, body: 'ok' });
      accepted[name] = r.data as (typeof accepted)[string];
    }
    const gridTrials = (await sweepTrials(fetchHttp(base, token), accepted.grid.id)) as Array<{ id: string; kind: string }>;
    const ids: RealIds = { sweepId: accepted.grid.id, trialId: gridTrials.find((t) => t.kind === 'train')!.id };

    const cases = generateCases(SEED, CASES, ids);
    const before = await snapshot();
    const statuses = new Map<number, number>();
    const families = new Map<string, number>();
    const familyMs = new Map<string, number>();
    const failures: string[] = [];
    let next = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < cases.length) {
          const i = next++;
          const c = cases[i];
          let a: Answer;
          const t0 = Date.now();
          try {
            a = await send(c);
            const ms = Date.now() - t0;
            familyMs.set(c.family, (familyMs.get(c.family) ?? 0) + ms);
          } catch (e) {
            failures.push(`#${i} ${c.family}: ${c.desc}: request failed: ${(e as Error).message}`);
            continue;
          }
          statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
          families.set(c.family, (families.get(c.family) ?? 0) + 1);
          const why = judge(c, a);
          if (why) failures.push(`#${i} ${c.family}: ${c.desc} → ${why}`);
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    const after = await snapshot();

    const histogram = [...statuses.entries()]
      .sort(([x], [y]) => x - y)
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ');
    const mix = [...families.entries()]
      .sort(([, x], [, y]) => y - x)
      .map(([f, n]) => `  ${f}: ${n} (mean ${((familyMs.get(f) ?? 0) / n).toFixed(1)} ms)`)
      .join('\n');
    console.log(
      `fuzz seed ${SEED} (FUZZ_SEED=${SEED} replays it): ${cases.length} cases in ${seconds.toFixed(1)} s ` +
        `(${(cases.length / seconds).toFixed(0)} req/s, ${IN_FLIGHT} in flight)\nstatus: ${histogram}\ncases:\n${mix}` +
        (failures.length ? `\n${failures.length} failures, first ones:\n${failures.slice(0, 40).join('\n')}` : ''),
    );

    expect(failures.slice(0, 20)).toEqual([]);
    expect(after).toEqual(before);
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
  });
});
