// A sweep with all its trials, as the CLI shows them: GET /sweeps/:id is a summary (progress, best
// trial) without trials, so they come page by page from GET /sweeps/:id/trials.
import type { ApiClient } from './api';
import type { SweepSummary, SweepView, TrialView } from './types';

/** The API's largest page. */
export const TRIALS_PAGE = 500;

/** Every trial of the sweep in index order. */
export async function sweepTrials(api: ApiClient, id: string): Promise<TrialView[]> {
  const out: TrialView[] = [];
  for (;;) {
    const page = await api.get<{ total: number; items: TrialView[] }>(
      `/sweeps/${encodeURIComponent(id)}/trials?take=${TRIALS_PAGE}&skip=${out.length}`,
    );
    out.push(...page.items);
    if (page.items.length === 0 || out.length >= page.total) return out;
  }
}

/** The summary, then the trials (a missing sweep fails on the first request, with the API's 404). */
export async function sweepWithTrials(api: ApiClient, id: string): Promise<SweepView> {
  const sweep = await api.get<SweepSummary>(`/sweeps/${encodeURIComponent(id)}`);
  return { ...sweep, trials: await sweepTrials(api, id) };
}
