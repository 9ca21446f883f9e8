// lora sweep submit | watch | list | show | leaderboard | cancel | rerun-failed
import * as fs from 'node:fs';
import { ApiError } from '../api';
import type { Context } from '../context';
import { CliError, EXIT } from '../errors';
import { fieldErrorLines, leaderboard, rankTrials, sweepList, sweepShow } from '../format';
import { loadSpecFile } from '../spec-file';
import { sweepWithTrials } from '../sweep-trials';
import type { SweepList, SweepSummary, SweepView, TrialView } from '../types';
import { DEFAULT_WATCH, watchSweep, type WatchOptions } from '../watch';
import { runAction } from './actions';

export interface SubmitOptions {
  idempotencyKey?: string;
  watch?: boolean;
}

/** The default Idempotency-Key: the file's content hash, so re-running the same command returns the same sweep. */
export const contentKey = (sha256: string) => `sha256-${sha256}`;

export async function sweepSubmit(ctx: Context, file: string, opts: SubmitOptions, watch: WatchOptions = DEFAULT_WATCH): Promise<number> {
  const spec = loadSpecFile(file, (p) => fs.readFileSync(ctx.resolvePath(p)));
  const key = opts.idempotencyKey ?? contentKey(spec.sha256);
  let status: number;
  let sweep: SweepSummary;
  try {
    ({ status, data: sweep } = await ctx.api.post<SweepSummary>('/sweeps', spec.data, { 'Idempotency-Key': key }));
  } catch (e) {
    if (e instanceof ApiError && e.status === 400) {
      const errors = e.fieldErrors;
      if (errors.length === 0) throw new CliError(`${file}: the API rejected the sweep: ${e.apiMessage ?? 'bad request'}`, EXIT.usage);
      throw new CliError(
        `${file}: the API rejected the sweep (${errors.length} error${errors.length === 1 ? '' : 's'}):`,
        EXIT.usage,
        fieldErrorLines(errors, file, spec.locate),
      );
    }
    if (e instanceof ApiError && e.status === 409) {
      throw new CliError(e.apiMessage ?? 'conflict', EXIT.failure, [
        opts.idempotencyKey
          ? 'pick another --idempotency-key to submit this file as a new sweep'
          : 'pass --idempotency-key <new key> to submit this file as a new sweep',
      ]);
    }
    throw e;
  }
  const replayed = status === 200;
  if (ctx.json) {
    if (!opts.watch) ctx.printJson({ ...sweep, idempotencyKey: key, replayed });
    else ctx.printJsonLine({ event: 'submitted', sweepId: sweep.id, trials: sweep.progress.total, idempotencyKey: key, replayed });
  } else {
    const n = `${sweep.progress.total} trial${sweep.progress.total === 1 ? '' : 's'}`;
    ctx.print(
      replayed
        ? `sweep ${sweep.id} was already submitted with this content (Idempotency-Key ${key}): "${sweep.name}", ${n}, ${sweep.status}`
        : `submitted sweep ${sweep.id} "${sweep.name}": ${n}`,
    );
    if (!opts.watch) ctx.print(`watch it with: ${ctx.command(`sweep watch ${sweep.id}`)}`);
  }
  if (opts.watch) return watchSweep(ctx, sweep.id, watch);
  return EXIT.ok;
}

export function sweepWatch(ctx: Context, id: string, watch: WatchOptions = DEFAULT_WATCH): Promise<number> {
  return watchSweep(ctx, id, watch);
}

async function getSweep(ctx: Context, id: string): Promise<SweepView> {
  try {
    return await sweepWithTrials(ctx.api, id);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && !e.isMissingRoute) throw new CliError(`sweep ${id} not found`, EXIT.failure);
    throw e;
  }
}

export async function sweepListCmd(ctx: Context, opts: { take: number }): Promise<number> {
  const list = await ctx.api.get<SweepList>(`/sweeps?take=${opts.take}`);
  if (ctx.json) ctx.printJson(list);
  else ctx.print(sweepList(list.items, list.total));
  return EXIT.ok;
}

export async function sweepShowCmd(ctx: Context, id: string): Promise<number> {
  const sweep = await getSweep(ctx, id);
  if (ctx.json) ctx.printJson(sweep);
  else ctx.print(sweepShow(sweep));
  return EXIT.ok;
}

/** Entries of GET /sweeps/:id/leaderboard as trials (a list, or `{ items | trials }`, entries possibly `{ trial, … }`). */
export function leaderboardEntries(body: unknown): TrialView[] {
  const list = Array.isArray(body)
    ? body
    : Array.isArray((body as { items?: unknown })?.items)
      ? (body as { items: unknown[] }).items
      : Array.isArray((body as { trials?: unknown })?.trials)
        ? (body as { trials: unknown[] }).trials
        : [];
  return list.map((e) => {
    const entry = e as Record<string, unknown>;
    return (entry.trial && typeof entry.trial === 'object' ? { ...entry, ...(entry.trial as object) } : entry) as unknown as TrialView;
  });
}

export async function sweepLeaderboardCmd(ctx: Context, id: string, opts: { top: number }): Promise<number> {
  let trials: TrialView[];
  try {
    trials = leaderboardEntries(await ctx.api.get<unknown>(`/sweeps/${encodeURIComponent(id)}/leaderboard?take=${opts.top}`));
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    if (e.isMissingRoute) {
      // An older API: rank the sweep's trials here.
      trials = rankTrials((await getSweep(ctx, id)).trials).slice(0, opts.top);
    } else if (e.status === 404) {
      throw new CliError(`sweep ${id} not found`, EXIT.failure);
    } else {
      throw e;
    }
  }
  if (ctx.json) ctx.printJson(trials);
  else ctx.print(leaderboard(trials));
  return EXIT.ok;
}

export function sweepCancelCmd(ctx: Context, id: string): Promise<number> {
  return withSweepNotFound(id, () => runAction(ctx, `/sweeps/${encodeURIComponent(id)}/cancel`, 'cancelling sweeps', `sweep ${id}`));
}

export function sweepRerunFailedCmd(ctx: Context, id: string): Promise<number> {
  return withSweepNotFound(id, () =>
    runAction(ctx, `/sweeps/${encodeURIComponent(id)}/rerun-failed`, 'rerunning failed trials', `sweep ${id}`),
  );
}

async function withSweepNotFound(id: string, f: () => Promise<number>): Promise<number> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && !e.isMissingRoute) throw new CliError(`sweep ${id} not found`, EXIT.failure);
    throw e;
  }
}
