// Reading a sweep the way clients do: GET /sweeps/:id is a summary (progress, best trial) without
// trials, so these page through GET /sweeps/:id/trials for them.
/* eslint-disable @typescript-eslint/no-explicit-any -- API answers read loosely, as Stack.http returns them */

/** What the specs call the API with: Stack.http, or `fetchHttp` over a base URL. */
export type Http = (method: string, url: string) => Promise<{ status: number; data: any }>;

/** An Http over fetch, with the token if given (specs that start the API without a Stack). */
export function fetchHttp(base: string, token?: string): Http {
  return async (method, url) => {
    const res = await fetch(`${base}${url}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, data: await res.json() };
  };
}

async function getJson(http: Http, url: string): Promise<any> {
  const r = await http('GET', url);
  if (r.status !== 200) throw new Error(`GET ${url} → ${r.status}: ${JSON.stringify(r.data)}`);
  return r.data;
}

/** Every trial of the sweep in index order, in pages of `take`. */
export async function sweepTrials(http: Http, sweepId: string, take = 500): Promise<any[]> {
  const out: any[] = [];
  for (;;) {
    const page = await getJson(http, `/sweeps/${sweepId}/trials?take=${take}&skip=${out.length}`);
    out.push(...page.items);
    if (page.items.length === 0 || out.length >= page.total) return out;
  }
}

/** The sweep's summary with its trials added (what GET /sweeps/:id answered before it was slimmed). */
export async function sweepWithTrials(http: Http, sweepId: string): Promise<any> {
  const summary = await getJson(http, `/sweeps/${sweepId}`);
  return { ...summary, trials: await sweepTrials(http, sweepId) };
}
