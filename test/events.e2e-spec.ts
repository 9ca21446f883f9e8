// Server-sent events on the real API and Redis (no worker): a sweep's stream carries the trial
// rows and sweep state when they change (here: a cancel), the fleet-wide stream too, another
// sweep's stream nothing of it; unknown or malformed ids are refused before streaming.
import { startApiOnly, type ApiOnly } from './support/api-only';
import { waitFor } from './support/wait';
import { fetchHttp, sweepTrials } from './support/sweeps';

jest.setTimeout(120_000);

interface Sse {
  events: Array<{ event: string; data: any }>;
  close(): void;
}

async function openSse(url: string): Promise<Sse> {
  const ctl = new AbortController();
  const res = await fetch(url, { signal: ctl.signal, headers: { accept: 'text/event-stream' } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
  const events: Sse['events'] = [];
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += dec.decode(value, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n');
          if (data) events.push({ event, data: JSON.parse(data) });
        }
      }
    } catch {
      /* aborted */
    }
  })();
  return { events, close: () => ctl.abort() };
}

describe('live events (SSE)', () => {
  let api: ApiOnly;
  let base: string;
  let token: string;

  beforeAll(async () => {
    api = await startApiOnly('events');
    ({ base, token } = api);
  });

  afterAll(() => api?.stop());

  const submit = async () => {
    const r = await fetch(`${base}/sweeps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        baseModel: 'sotu-gpt2-small',
        dataset: 'moby-dick',
        variants: ['lora'],
        searchSpace: { r: [2, 4] },
        training: { steps: 2 },
      }),
    });
    expect(r.status).toBe(201);
    const { id } = (await r.json()) as { id: string };
    return { id, trials: (await sweepTrials(fetchHttp(base, token), id)) as Array<{ id: string }> };
  };

  it('streams trial rows and sweep state of a cancelled sweep to its stream and the fleet stream only', async () => {
    const a = await submit();
    const b = await submit();
    const streamA = await openSse(`${base}/sweeps/${a.id}/events`);
    const streamB = await openSse(`${base}/sweeps/${b.id}/events`);
    const all = await openSse(`${base}/events`);
    await new Promise((r) => setTimeout(r, 300)); // subscriptions are up before the change
    const cancel = await fetch(`${base}/sweeps/${a.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(cancel.status).toBe(202);
    try {
      await waitFor('the sweep event', async () => streamA.events.some((e) => e.event === 'sweep'), 10_000, 50);
      const trials = streamA.events.filter((e) => e.event === 'trial').map((e) => e.data.trial);
      expect(trials.map((t) => t.id).sort()).toEqual(a.trials.map((t) => t.id).sort());
      expect(trials.every((t) => t.status === 'cancelled' && t.sweepId === a.id)).toBe(true);
      const sweep = streamA.events.find((e) => e.event === 'sweep')!.data;
      expect(sweep).toMatchObject({ type: 'sweep', sweepId: a.id, status: 'cancelled', progress: { total: 2, done: 2 } });
      await waitFor('the fleet stream', async () => all.events.some((e) => e.event === 'sweep' && e.data.sweepId === a.id), 5000, 50);
      expect(all.events.filter((e) => e.event === 'trial' && e.data.sweepId === a.id)).toHaveLength(2);
      expect(streamB.events.filter((e) => e.event !== 'ping')).toEqual([]);
    } finally {
      streamA.close();
      streamB.close();
      all.close();
    }
  });

  it('refuses a stream of an unknown or malformed sweep id', async () => {
    expect((await fetch(`${base}/sweeps/00000000-0000-4000-8000-000000000000/events`)).status).toBe(404);
    expect((await fetch(`${base}/sweeps/nope/events`)).status).toBe(400);
  });
});
