// Fetches metric points of a trial, paging with afterStep past the API's take limit.
import { apiGet } from './client';
import type { MetricPoint } from '../lib/metrics';

const TAKE = 20_000;

export async function fetchMetrics(
  trialId: string,
  split: string,
  name: string,
  signal?: AbortSignal,
  maxPages = 20,
): Promise<MetricPoint[]> {
  const out: MetricPoint[] = [];
  let after: number | undefined;
  for (let page = 0; page < maxPages; page++) {
    const q = new URLSearchParams({ split, name, take: String(TAKE) });
    if (after !== undefined) q.set('afterStep', String(after));
    const rows = await apiGet<MetricPoint[]>(`/trials/${trialId}/metrics?${q}`, signal);
    out.push(...rows);
    if (rows.length < TAKE) break;
    after = rows[rows.length - 1].step;
  }
  return out;
}
