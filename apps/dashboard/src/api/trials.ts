// Fetches every trial of a sweep, paging GET /sweeps/:id/trials (GET /sweeps/:id is a summary
// without them).
import { apiGet } from './client';
import type { Trial } from './types';

/** The API's largest page. */
const TAKE = 500;

export async function fetchSweepTrials(sweepId: string, signal?: AbortSignal): Promise<Trial[]> {
  const out: Trial[] = [];
  for (;;) {
    const page = await apiGet<{ total: number; items: Trial[] }>(`/sweeps/${sweepId}/trials?take=${TAKE}&skip=${out.length}`, signal);
    out.push(...page.items);
    if (page.items.length === 0 || out.length >= page.total) return out;
  }
}
