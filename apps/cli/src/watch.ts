// `lora sweep watch`: polls the API (GET /sweeps/:id, then only the new metric points of each
// running trial via afterStep) and shows progress: bars on a terminal, a plain line every few
// seconds otherwise, JSON lines with --json. Ends with the trials table and the best trial.
// Ctrl-C stops watching; the sweep keeps running.
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { TERMINAL_STATUSES, type RunStatusName } from '@lora/contracts';
import { ApiError, UnreachableError } from './api';
import type { Context } from './context';
import { CliError, EXIT, InterruptedError } from './errors';
import { fmtLoss, lossChange, trialLabel, trialsTable } from './format';
import { sweepWithTrials } from './sweep-trials';
import type { MetricPoint, SweepView, TrialView } from './types';

export interface WatchOptions {
  /** Poll period. */
  intervalMs: number;
  /** Without a terminal: a progress line at most this often (status changes are printed at once). */
  plainEveryMs: number;
  /** Consecutive failed polls (API unreachable or 5xx) tolerated before giving up. */
  maxFailures: number;
}

export const DEFAULT_WATCH: WatchOptions = { intervalMs: 1000, plainEveryMs: 5000, maxFailures: 5 };

export interface TrialProgress {
  status?: RunStatusName;
  step: number;
  steps: number;
  loss?: number;
  /** Latest eval loss after training began (step > 0). */
  evalLoss?: number;
  trainAfter: number;
  evalAfter: number;
}

export interface Best {
  trial: TrialView;
  loss: number;
  /** True when it is the trial's final eval loss, false for the latest one of a running trial. */
  final: boolean;
}

const isTerminal = (s: RunStatusName | undefined) => s !== undefined && TERMINAL_STATUSES.includes(s);

/** The best trial so far by final eval loss, or the latest eval loss of a trial still training. */
export function bestTrial(trials: TrialView[], progress: Map<string, TrialProgress>): Best | undefined {
  let best: Best | undefined;
  for (const t of trials) {
    if (t.status === 'failed' || t.status === 'cancelled') continue;
    const final = t.finalEvalLoss ?? null;
    const loss = final ?? progress.get(t.id)?.evalLoss;
    if (loss === undefined || loss === null || !Number.isFinite(loss)) continue;
    if (!best || loss < best.loss) best = { trial: t, loss, final: final !== null };
  }
  return best;
}

/** The sweep's outcome once every trial is terminal (the API's status, or the same rule when it lags). */
export function outcome(s: SweepView): RunStatusName {
  if (s.status === 'succeeded' || s.status === 'failed' || s.status === 'cancelled') return s.status;
  const n = (st: RunStatusName) => s.trials.filter((t) => t.status === st).length;
  if (n('succeeded') + n('pruned') > 0) return 'succeeded';
  return n('cancelled') === s.trials.length ? 'cancelled' : 'failed';
}

export function isFinished(s: SweepView): boolean {
  return s.progress.total > 0 && s.progress.done >= s.progress.total && s.trials.every((t) => isTerminal(t.status));
}

interface Renderer {
  trialChanged(t: TrialView, from: RunStatusName | undefined): void;
  update(s: SweepView, progress: Map<string, TrialProgress>, best: Best | undefined): void;
  warn(text: string): void;
  stop(): void;
}

export async function watchSweep(ctx: Context, id: string, opts: WatchOptions = DEFAULT_WATCH): Promise<number> {
  const progress = new Map<string, TrialProgress>();
  const renderer: Renderer = ctx.json
    ? new JsonRenderer(ctx)
    : ctx.isTTY
      ? new TtyRenderer(ctx)
      : new PlainRenderer(ctx, opts.plainEveryMs);
  let failures = 0;
  let sweep!: SweepView;
  try {
    for (;;) {
      try {
        sweep = await poll(ctx, id, progress, renderer);
        failures = 0;
      } catch (e) {
        const transient = e instanceof UnreachableError || (e instanceof ApiError && e.status >= 500);
        if (!transient || ++failures >= opts.maxFailures) throw e;
        renderer.warn(
          `${e instanceof UnreachableError ? `cannot reach the API at ${e.baseUrl}` : e.message}; retrying (${failures}/${opts.maxFailures - 1})`,
        );
        await ctx.sleep(opts.intervalMs * 2 ** Math.min(failures, 4));
        continue;
      }
      renderer.update(sweep, progress, bestTrial(sweep.trials, progress));
      if (isFinished(sweep)) break;
      await ctx.sleep(opts.intervalMs);
    }
  } catch (e) {
    renderer.stop();
    if (e instanceof InterruptedError) {
      if (!ctx.json) ctx.note(`\nstopped watching sweep ${id}; it keeps running (stop it with: ${ctx.command(`sweep cancel ${id}`)})`);
      return EXIT.interrupted;
    }
    if (e instanceof ApiError && e.status === 404 && !e.isMissingRoute) throw new CliError(`sweep ${id} not found`, EXIT.failure);
    throw e;
  }
  renderer.stop();
  const result = outcome(sweep);
  const best = bestTrial(sweep.trials, progress);
  if (ctx.json) {
    ctx.printJsonLine({
      event: 'done',
      sweepId: sweep.id,
      status: result,
      best: best ? { trialId: best.trial.id, index: best.trial.index, variant: best.trial.variant, evalLoss: best.loss } : null,
      trials: sweep.trials.map(trialJson),
    });
  } else {
    ctx.print(`\nsweep ${sweep.id} ${result}: ${sweep.trials.length} trials`);
    ctx.print(trialsTable(sweep.trials));
    if (best) {
      ctx.print(
        `\nbest trial: ${best.trial.id}  ${trialLabel(best.trial)}  eval loss ${lossChange(best.trial.baselineEvalLoss, best.loss)}`,
      );
      ctx.print(`download its adapter: ${ctx.command(`adapter download ${best.trial.id}`)}`);
    } else {
      ctx.print('\nno trial finished with an eval loss');
    }
    const failed = sweep.trials.filter((t) => t.status === 'failed' && t.error);
    for (const t of failed) ctx.print(`${trialLabel(t)} failed: ${t.error}`);
    if (failed.length) ctx.print(`rerun them with: ${ctx.command(`sweep rerun-failed ${sweep.id}`)}`);
  }
  return result === 'succeeded' ? EXIT.ok : EXIT.failure;
}

async function poll(ctx: Context, id: string, progress: Map<string, TrialProgress>, renderer: Renderer): Promise<SweepView> {
  const sweep = await sweepWithTrials(ctx.api, id);
  for (const t of sweep.trials) {
    let p = progress.get(t.id);
    const steps = t.hyperparams?.training?.steps ?? 0;
    if (!p) {
      p = { step: 0, steps, trainAfter: 0, evalAfter: -1 };
      progress.set(t.id, p);
    }
    const before = p.status;
    // A rerun starts the trial again from scratch (its old points are gone).
    if (isTerminal(before) && !isTerminal(t.status))
      Object.assign(p, { step: 0, loss: undefined, evalLoss: undefined, trainAfter: 0, evalAfter: -1 });
    if (t.status === 'running' || before === 'running') await fetchNewPoints(ctx, t.id, p);
    if (t.status === 'succeeded') p.step = p.steps;
    p.status = t.status;
    if (before !== t.status) renderer.trialChanged(t, before);
  }
  return sweep;
}

async function fetchNewPoints(ctx: Context, trialId: string, p: TrialProgress): Promise<void> {
  const base = `/trials/${trialId}/metrics?name=loss`;
  let train: MetricPoint[];
  let evals: MetricPoint[];
  try {
    [train, evals] = await Promise.all([
      ctx.api.get<MetricPoint[]>(`${base}&split=train&afterStep=${p.trainAfter}`),
      ctx.api.get<MetricPoint[]>(`${base}&split=eval&afterStep=${p.evalAfter}`),
    ]);
  } catch (e) {
    if (e instanceof ApiError && e.status < 500) return; // the trial vanished; the next sweep poll tells
    throw e;
  }
  const lastTrain = train[train.length - 1];
  if (lastTrain) {
    p.trainAfter = lastTrain.step;
    p.step = lastTrain.step;
    p.loss = lastTrain.value;
  }
  const lastEval = evals[evals.length - 1];
  if (lastEval) {
    p.evalAfter = lastEval.step;
    if (lastEval.step > 0) p.evalLoss = lastEval.value;
  }
}

function trialJson(t: TrialView) {
  return {
    id: t.id,
    index: t.index,
    variant: t.variant,
    r: t.hyperparams?.r,
    lr: t.hyperparams?.lr,
    status: t.status,
    trainableParams: t.trainableParams,
    baselineEvalLoss: t.baselineEvalLoss,
    finalEvalLoss: t.finalEvalLoss,
    tokensPerSec: t.tokensPerSec,
    error: t.error,
  };
}

function finishedLine(t: TrialView): string {
  if (t.status === 'succeeded') return `${trialLabel(t)} succeeded: eval loss ${lossChange(t.baselineEvalLoss, t.finalEvalLoss)}`;
  return `${trialLabel(t)} ${t.status}${t.error ? `: ${t.error}` : ''}`;
}

function bestText(best: Best | undefined): string {
  return best ? `best ${trialLabel(best.trial)} eval ${fmtLoss(best.loss)}${best.final ? '' : ' (so far)'}` : 'best -';
}

class PlainRenderer implements Renderer {
  private lastLine = Number.NEGATIVE_INFINITY;
  private changed = false;

  constructor(
    private readonly ctx: Context,
    private readonly everyMs: number,
  ) {}

  private stamp(): string {
    return new Date(this.ctx.now()).toISOString().slice(11, 19);
  }

  trialChanged(t: TrialView, from: RunStatusName | undefined): void {
    // Trials already queued or over when watching starts: the progress lines and the final table show them.
    if (from === undefined && t.status !== 'running') return;
    this.ctx.print(`[${this.stamp()}] ${isTerminal(t.status) ? finishedLine(t) : `${trialLabel(t)} ${t.status}`}`);
    this.changed = true;
  }

  update(s: SweepView, progress: Map<string, TrialProgress>, best: Best | undefined): void {
    const now = this.ctx.now();
    if (now - this.lastLine < this.everyMs && !this.changed) return;
    this.changed = false;
    this.lastLine = now;
    const running = s.trials
      .filter((t) => t.status === 'running')
      .map((t) => {
        const p = progress.get(t.id);
        return `${trialLabel(t)} ${p?.step ?? 0}/${p?.steps ?? '?'} loss ${fmtLoss(p?.loss)}`;
      });
    this.ctx.print(
      `[${this.stamp()}] sweep ${s.progress.done}/${s.progress.total} done | ${running.length ? running.join(' | ') : 'none running'} | ${bestText(best)}`,
    );
  }

  warn(text: string): void {
    this.ctx.note(`[${this.stamp()}] ${text}`);
  }

  stop(): void {}
}

class JsonRenderer implements Renderer {
  private last = '';
  constructor(private readonly ctx: Context) {}

  trialChanged(t: TrialView, from: RunStatusName | undefined): void {
    this.ctx.printJsonLine({ event: 'trial', from: from ?? null, ...trialJson(t) });
  }

  update(s: SweepView, progress: Map<string, TrialProgress>, best: Best | undefined): void {
    const running = s.trials
      .filter((t) => t.status === 'running')
      .map((t) => ({
        id: t.id,
        index: t.index,
        step: progress.get(t.id)?.step ?? 0,
        steps: progress.get(t.id)?.steps ?? null,
        loss: progress.get(t.id)?.loss ?? null,
      }));
    const event = {
      event: 'progress',
      sweepId: s.id,
      status: s.status,
      done: s.progress.done,
      total: s.progress.total,
      running,
      best: best ? { trialId: best.trial.id, index: best.trial.index, evalLoss: best.loss, final: best.final } : null,
    };
    const key = JSON.stringify(event);
    if (key === this.last) return;
    this.last = key;
    this.ctx.printJsonLine(event);
  }

  warn(text: string): void {
    this.ctx.note(JSON.stringify({ event: 'warning', message: text }));
  }

  stop(): void {}
}

class TtyRenderer implements Renderer {
  private readonly bars: MultiBar;
  private sweepBar?: SingleBar;
  private readonly trialBars = new Map<string, SingleBar>();

  constructor(private readonly ctx: Context) {
    this.bars = new MultiBar(
      {
        stream: ctx.deps.stdout as NodeJS.WritableStream,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        autopadding: true,
        barsize: 24,
        forceRedraw: true,
      },
      Presets.shades_classic,
    );
  }

  trialChanged(t: TrialView, from: RunStatusName | undefined): void {
    if (isTerminal(t.status) && from !== undefined) this.bars.log(`${finishedLine(t)}\n`);
    if (t.status !== 'running') {
      const bar = this.trialBars.get(t.id);
      if (bar) {
        this.bars.remove(bar);
        this.trialBars.delete(t.id);
      }
    }
  }

  update(s: SweepView, progress: Map<string, TrialProgress>, best: Best | undefined): void {
    if (!this.sweepBar) {
      this.sweepBar = this.bars.create(
        s.progress.total,
        s.progress.done,
        { label: '', counts: '', best: '' },
        {
          format: ' sweep {bar} {value}/{total} trials done | {counts} | {best}',
        },
      );
    }
    const counts = Object.entries(s.progress.byStatus ?? {})
      .filter(([, n]) => (n ?? 0) > 0)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    this.sweepBar.setTotal(s.progress.total);
    this.sweepBar.update(s.progress.done, { counts, best: bestText(best) });
    for (const t of s.trials) {
      if (t.status !== 'running') continue;
      const p = progress.get(t.id);
      let bar = this.trialBars.get(t.id);
      if (!bar) {
        bar = this.bars.create(
          p?.steps || 1,
          p?.step ?? 0,
          { label: trialLabel(t), loss: '-', eval: '-' },
          {
            format: '   {label} {bar} {value}/{total} steps | loss {loss} | eval {eval}',
          },
        );
        this.trialBars.set(t.id, bar);
      }
      bar.update(p?.step ?? 0, { loss: fmtLoss(p?.loss), eval: fmtLoss(p?.evalLoss) });
    }
  }

  warn(text: string): void {
    this.bars.log(`${text}\n`);
  }

  stop(): void {
    this.bars.stop();
  }
}
