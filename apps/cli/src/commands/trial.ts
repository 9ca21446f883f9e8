// lora trial show | cancel | rerun
import { ApiError } from '../api';
import type { Context } from '../context';
import { CliError, EXIT } from '../errors';
import { trialShow } from '../format';
import type { CheckpointView, TrialDetail } from '../types';
import { runAction } from './actions';

async function withTrialNotFound<T>(id: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && !e.isMissingRoute) throw new CliError(`trial ${id} not found`, EXIT.failure);
    throw e;
  }
}

export function trialShowCmd(ctx: Context, id: string): Promise<number> {
  return withTrialNotFound(id, async () => {
    const path = `/trials/${encodeURIComponent(id)}`;
    const [trial, checkpoints] = await Promise.all([ctx.api.get<TrialDetail>(path), ctx.api.get<CheckpointView[]>(`${path}/checkpoints`)]);
    if (ctx.json) ctx.printJson({ ...trial, checkpoints });
    else ctx.print(trialShow(trial, checkpoints));
    return EXIT.ok;
  });
}

export function trialCancelCmd(ctx: Context, id: string): Promise<number> {
  return withTrialNotFound(id, () => runAction(ctx, `/trials/${encodeURIComponent(id)}/cancel`, 'cancelling trials', `trial ${id}`));
}

export function trialRerunCmd(ctx: Context, id: string): Promise<number> {
  return withTrialNotFound(id, () => runAction(ctx, `/trials/${encodeURIComponent(id)}/rerun`, 'rerunning trials', `trial ${id}`));
}
