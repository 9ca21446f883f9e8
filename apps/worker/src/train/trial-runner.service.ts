// Runs one attempt of one trial: opens the Attempt, starts the training thread, streams its
// metrics/checkpoints into Postgres and its progress into the BullMQ job, and closes the attempt.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@lora/config';
import { loraDropRule, type SweepSpec, type TrialHyperparams } from '@lora/contracts';
import {
  CheckpointRepository,
  ImportanceRepository,
  MetricRepository,
  type LogLevel,
  type MetricPointInput,
  PlanRepository,
  Prisma,
  type ReadyInfo,
  RankBudgetRepository,
  RunStatus,
  TrialLogRepository,
  TrialRepository,
  type Trial,
  type TrialForRun,
  type TrialLogInput,
} from '@lora/db';
import { LiveEventsService } from '@lora/queue';
import { decide, resolveModelPath } from '@lora/orchestration';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import { HeartbeatService } from '../fleet/heartbeat.service';
import { WORKER_IDENTITY, type WorkerIdentity } from '../fleet/worker-identity';
import { ConcurrencyGate, type Lease } from './concurrency-gate.service';
import { runNoopTrainer } from './noop-trainer';
import type { AbortKind, TrainThreadCommand, TrainThreadInput, TrainThreadMessage } from './train-thread.protocol';
import { retrying } from './db-retry';
import { WriteBuffer } from './write-buffer';

export interface RunContext {
  jobId: string;
  /** Called with the job's progress payload (BullMQ updateProgress). */
  progress: (p: object) => Promise<void>;
  /** The job's sweep (its data's sweepId): lets the worker use its cached sweep settings. */
  sweepId?: string;
  /** True when this is the job's last allowed attempt (a failure then fails the trial). */
  lastAttempt: boolean;
}

export class TrialConfigError extends Error {}

/** The trial was cancelled while this worker ran it. */
export class TrialCancelledError extends Error {}

/** This worker is going away (SIGTERM): the trial was checkpointed and goes back to the queue. */
export class TrialPreemptedError extends Error {}

/** A newer attempt took the trial over (this worker lost the job's lock): stop, write nothing. */
export class TrialSupersededError extends Error {}

/**
 * How long a worker keeps a sweep's run settings (model, dataset, spec, maxConcurrent: fixed once
 * the sweep is created), and for how many sweeps; a deleted sweep is noticed when its trial is not.
 */
const SWEEP_CACHE_MS = 60_000;
const SWEEP_CACHE_SIZE = 64;
/** How long a cancelled thread gets to stop between steps before it is terminated. */
const CANCEL_GRACE_MS = 5000;
/** How long a preempted thread gets to finish its step and write its checkpoint. */
const PREEMPT_GRACE_MS = 20_000;

@Injectable()
export class TrialRunner {
  private readonly log = new Logger(TrialRunner.name);
  /** Abort functions of the trials this worker runs now, by trial id. */
  private readonly active = new Map<string, (reason: string, kind: AbortKind) => void>();
  /** Set once the worker drains: new jobs go straight back to the queue. */
  private draining: string | null = null;
  /** Sweeps' run settings by id (sweepForRun), oldest first. */
  private readonly sweepCache = new Map<string, { at: number; sweep: TrialForRun['sweep'] }>();

  constructor(
    private readonly trials: TrialRepository,
    private readonly metrics: MetricRepository,
    private readonly checkpoints: CheckpointRepository,
    private readonly importance: ImportanceRepository,
    private readonly plans: PlanRepository,
    private readonly rankBudgets: RankBudgetRepository,
    private readonly logs: TrialLogRepository,
    private readonly live: LiveEventsService,
    private readonly heartbeat: HeartbeatService,
    private readonly gate: ConcurrencyGate,
    @Inject(WORKER_IDENTITY) private readonly me: WorkerIdentity,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    // Postgres restarting under a running trial costs it nothing: every write retries while the
    // connection is lost (bounded; see db-retry.ts).
    const o = {
      onRetry: (err: Error, n: number, ms: number) =>
        this.log.warn({ err: err.message, retry: n, waitMs: ms }, 'database unreachable; retrying the write'),
    };
    this.trials = retrying(trials, o);
    this.metrics = retrying(metrics, o);
    this.checkpoints = retrying(checkpoints, o);
    this.importance = retrying(importance, o);
    this.plans = retrying(plans, o);
    this.rankBudgets = retrying(rankBudgets, o);
    this.logs = retrying(logs, o);
  }

  /** Runs the trial, or returns `throttled` when its sweep already runs `maxConcurrent` trials. */
  async run(trialId: string, ctx: RunContext): Promise<{ finalEvalLoss: number; throttled?: boolean }> {
    if (this.draining) throw new TrialPreemptedError(this.draining);
    // The job names the sweep: its settings come from this process's cache (they are fixed once the
    // sweep exists), and the trial's row from the statement that opens its attempt. Without it
    // (or for a sweep that is gone) the trial is loaded with its sweep first.
    const cached = ctx.sweepId ? await this.sweepForRun(ctx.sweepId) : null;
    const loaded = cached ? null : await this.trials.findForRun(trialId);
    const sweep = cached ?? loaded?.sweep;
    if (!sweep) throw new TrialConfigError(`trial ${trialId} does not exist (deleted after it was queued?)`);
    const max = sweep.maxConcurrent;
    let lease: Lease | null = null;
    if (max) {
      lease = await this.gate.acquire(sweep.id, trialId, max);
      if (!lease) return { finalEvalLoss: NaN, throttled: true };
    }
    try {
      return await this.runAttempt(trialId, sweep, loaded, ctx);
    } finally {
      // Not awaited (like the live events below): it cannot fail the trial, and what this worker
      // sends Redis next goes on the same connection, after it.
      void lease?.release();
    }
  }

  /** A sweep's run settings, read once per sweep per SWEEP_CACHE_MS in this process. */
  private async sweepForRun(sweepId: string): Promise<TrialForRun['sweep'] | null> {
    const now = Date.now();
    const hit = this.sweepCache.get(sweepId);
    if (hit && now - hit.at < SWEEP_CACHE_MS) return hit.sweep;
    const sweep = await this.trials.findSweepForRun(sweepId);
    this.sweepCache.delete(sweepId);
    if (sweep) this.sweepCache.set(sweepId, { at: now, sweep });
    // Oldest first (Map order): a worker that served many sweeps keeps the recent ones.
    while (this.sweepCache.size > SWEEP_CACHE_SIZE) this.sweepCache.delete(this.sweepCache.keys().next().value!);
    return sweep;
  }

  private async runAttempt(
    trialId: string,
    cachedSweep: TrialForRun['sweep'],
    loaded: TrialForRun | null,
    ctx: RunContext,
  ): Promise<{ finalEvalLoss: number }> {
    const a = { jobId: ctx.jobId, workerId: this.me.id, backend: this.heartbeat.backend };
    // The common case in one statement: the trial's first attempt. Anything else (a retry, a
    // finished or cancelled trial, a job without its sweep) reads the trial first.
    let opened: Awaited<ReturnType<TrialRepository['startAttempt']>> | null = loaded
      ? null
      : await this.trials.openFirstAttempt(trialId, a);
    let sweep = cachedSweep;
    if (!opened || (opened.trial && opened.trial.sweepId !== sweep.id)) {
      const trial = loaded ?? (await this.trials.findForRun(trialId));
      if (!trial) throw new TrialConfigError(`trial ${trialId} does not exist (deleted after it was queued?)`);
      sweep = trial.sweep;
      if (!opened) {
        if (trial.status === RunStatus.succeeded || trial.status === RunStatus.cancelled) {
          this.log.warn({ trialId, status: trial.status }, 'trial already finished; skipping job');
          return { finalEvalLoss: trial.finalEvalLoss ?? NaN };
        }
        opened = await this.trials.startAttempt(trialId, a);
      }
    }
    const { attempt, trial: started, resume, lostAttempts } = opened;
    if (!started) {
      this.log.warn({ sweepId: sweep.id, trialId }, 'trial was cancelled before it started; skipping job');
      return { finalEvalLoss: NaN };
    }
    const trial = started;
    // Live events are best effort and never throw: published without waiting for Redis's answer
    // (a trial's path is a chain of round trips; these need not be in it). Order is kept: one connection.
    void this.live.trialChanged(sweep.id, started);
    const bindings = { sweepId: sweep.id, trialId, attempt: attempt.number, attemptId: attempt.id };
    this.log.log(bindings, 'attempt started');
    // The trial's own log (Postgres + live stream), besides this process's structured log.
    const logBuffer = new WriteBuffer<TrialLogInput>(async (batch) => {
      if (superseded) return;
      const { live, rows } = await this.logs.insertForAttempt(attempt.id, batch);
      if (!live) return supersede();
      void this.live.logs(
        sweep.id,
        trialId,
        rows.map(({ trialId: _t, ts, ...r }) => ({ ...r, ts: ts.toISOString() })),
      );
    }, this.config.metricsFlushMs);
    const tlog = (level: LogLevel, message: string) =>
      logBuffer.push({ trialId, attemptId: attempt.id, attempt: attempt.number, level, message, ts: new Date() });
    // Fencing: once a newer attempt has taken the trial over, this one writes nothing more. The
    // frequent writes (metrics, log lines, ready) check it in their own statement; the rare ones ask.
    let superseded = false;
    const supersede = (): void => {
      if (superseded) return;
      superseded = true;
      this.log.warn(bindings, 'a newer attempt took this trial over (lock lost); stopping without writing');
      this.active.get(trialId)?.('superseded by a newer attempt', 'cancel');
    };
    const live = async (): Promise<boolean> => {
      if (superseded) return false;
      if (await this.trials.attemptIsLive(attempt.id)) return true;
      supersede();
      return false;
    };
    tlog('info', `attempt ${attempt.number} started on worker ${this.me.id} (job ${ctx.jobId})`);
    if (lostAttempts > 0) tlog('warn', `the previous attempt lost its worker (no lock renewal); it is marked preempted`);
    if (resume) tlog('info', `resuming from the checkpoint at step ${resume.step} (adapter, optimizer moments and data position)`);
    else if (attempt.number > 1) tlog('info', 'no resumable checkpoint: training starts again from step 0');
    this.heartbeat.trialStarted(trialId);

    const hp = trial.hyperparams as unknown as TrialHyperparams;
    const input: TrainThreadInput = {
      trialId,
      attemptId: attempt.id,
      modelDir: resolveModelPath(sweep.baseModel.path, this.config.modelsDir),
      modelName: sweep.baseModel.name,
      datasetSource: sweep.dataset.source,
      validationFraction: sweep.dataset.validationFraction,
      splitSeed: sweep.dataset.splitSeed,
      hyperparams: hp,
      backend: this.config.worker.backend,
      wasmThreads: this.config.worker.wasmThreads,
      awaitVerdict: trial.kind === 'train' && Boolean((sweep.spec as unknown as SweepSpec).earlyStopping),
      kind: trial.kind === 'probe' ? 'probe' : 'train',
      selected: trial.planId ? ((await this.plans.findById(trial.planId))?.selected as string[] | undefined) : undefined,
      resume: resume ? { step: resume.step, state: resume.state } : undefined,
    };
    const buffer = new WriteBuffer<MetricPointInput>(async (batch) => {
      if (superseded) return;
      if (!(await this.metrics.insertForAttempt(attempt.id, batch)).live) return supersede();
      void this.live.metrics(
        sweep.id,
        trialId,
        batch.map(({ step, split, name, value }) => ({ step, split, name, value })),
      );
    }, this.config.metricsFlushMs);
    const point = (step: number, split: 'train' | 'eval', name: string, value: number) =>
      buffer.push({ trialId, attemptId: attempt.id, step, split, name, value });
    // Job progress (a BullMQ script and an event each) at most every 250 ms, the first 250 ms in;
    // the end sends a last one only after earlier ones (a job that short just completes).
    let lastProgress = performance.now();
    let progressSent = false;
    // Early stopping: the sweep's rule is applied at every eval against the sweep's other trials.
    const rule = (sweep.spec as unknown as SweepSpec).earlyStopping;
    // The eval curve so far (early stopping compares it); a resumed attempt starts from the stored one.
    const curve: Array<{ step: number; value: number }> = resume
      ? (await this.metrics.list(trialId, { name: 'loss', split: 'eval', take: 100_000 })).map((p) => ({ step: p.step, value: p.value }))
      : [];
    let prunedReason: string | null = null;
    let send: ((c: TrainThreadCommand) => void) | null = null;
    /** The trial's row as this attempt's close left it (published as the final trial event). */
    let closed: Trial | null = null;
    let result: Extract<TrainThreadMessage, { type: 'done' }> | null = null;

    // The thread's ready message (backend, device, trainable parameters), until it is written.
    let pendingReady: ReadyInfo | null = null;
    let readyTimer: NodeJS.Timeout | null = null;
    let readyWritten: Promise<void> = Promise.resolve();
    /** Hands the pending ready over to a close statement that writes it (undefined: none pending). */
    const takeReady = (): ReadyInfo | undefined => {
      if (readyTimer) clearTimeout(readyTimer);
      readyTimer = null;
      const r = pendingReady ?? undefined;
      pendingReady = null;
      return r;
    };
    /** Writes the pending ready now (markReady, fenced); resolves once it, or one under way, is written. */
    const writeReady = (): Promise<void> => {
      const r = takeReady();
      if (r)
        readyWritten = (async () => {
          const row = await this.trials.markReady(trialId, attempt.id, r);
          if (!row) return supersede();
          void this.live.trialChanged(sweep.id, row);
        })();
      return readyWritten;
    };
    const onMessage = async (m: TrainThreadMessage): Promise<void> => {
      switch (m.type) {
        case 'ready': {
          // Written with the attempt's next write: its close, a DB write another message needs
          // first, or METRICS_FLUSH_MS from now, whichever comes first (a fast trial's ready then
          // costs no statement of its own).
          pendingReady = {
            backend: m.backend,
            device: m.device,
            trainableParams: m.trainableParams,
            baselineEvalLoss: m.baselineEvalLoss,
          };
          readyTimer = setTimeout(
            () => void writeReady().catch((e: Error) => this.log.warn({ ...bindings, err: e.message }, 'ready not recorded')),
            this.config.metricsFlushMs,
          );
          if (m.baselineEvalLoss !== null) {
            point(0, 'eval', 'loss', m.baselineEvalLoss);
            curve.push({ step: 0, value: m.baselineEvalLoss });
          }
          this.log.log(
            {
              ...bindings,
              backend: m.backend,
              device: m.device,
              trainableParams: m.trainableParams,
              baselineEvalLoss: m.baselineEvalLoss,
              phasesMs: m.phasesMs,
            },
            'training started',
          );
          tlog(
            'info',
            `training ${resume ? `resumed at step ${resume.step}` : 'started'} on ${m.backend} (${m.device}): ${m.trainableParams.toLocaleString('en-US')} trainable parameters${m.baselineEvalLoss !== null ? `, baseline eval loss ${m.baselineEvalLoss.toFixed(4)}` : ''}`,
          );
          break;
        }
        case 'log': {
          point(m.step, 'train', 'loss', m.loss);
          point(m.step, 'train', 'lr', m.lr);
          point(m.step, 'train', 'tokens_per_sec', m.tokensPerSec);
          tlog(
            'info',
            `step ${m.step}/${hp.training.steps} loss ${m.loss.toFixed(4)} lr ${m.lr.toExponential(2)} ${Math.round(m.tokensPerSec)} tok/s`,
          );
          const now = performance.now();
          if (now - lastProgress > 250 && m.step < hp.training.steps) {
            lastProgress = now;
            progressSent = true;
            await ctx.progress({ step: m.step, steps: hp.training.steps, loss: m.loss, tokensPerSec: m.tokensPerSec });
          }
          break;
        }
        case 'eval': {
          await writeReady();
          point(m.step, 'eval', 'loss', m.evalLoss);
          this.log.log({ ...bindings, step: m.step, evalLoss: m.evalLoss }, 'eval');
          tlog('info', `eval at step ${m.step}: loss ${m.evalLoss.toFixed(4)}`);
          curve.push({ step: m.step, value: m.evalLoss });
          if (curve.every((p) => p.step === m.step || p.value > m.evalLoss))
            await this.trials.updateTrial(trialId, { bestEvalLoss: m.evalLoss });
          if (rule && m.step < hp.training.steps) {
            const others = (await this.metrics.curvesForSweep(sweep.id)).filter((c) => c.trialId !== trialId).map((c) => c.points);
            const d = decide(rule, curve, others, m.step, sweep.metricMode === 'max' ? 'max' : 'min');
            if (d.prune) {
              prunedReason = d.reason ?? `${rule.rule} rule at step ${m.step}`;
              this.log.log({ ...bindings, step: m.step, reason: prunedReason }, 'pruned by early stopping');
              tlog('warn', `pruned by early stopping: ${prunedReason}`);
            }
            send?.({ type: 'verdict', step: m.step, stop: d.prune, reason: prunedReason ?? undefined });
          }
          await this.live.trialsChanged(sweep.id, [trialId]);
          break;
        }
        case 'checkpoint': {
          await writeReady();
          if (!(await live())) break;
          const sha256 = createHash('sha256').update(m.safetensors).digest('hex');
          await this.checkpoints.create({
            trialId,
            attemptId: attempt.id,
            step: m.step,
            format: 'peft',
            bytes: m.safetensors,
            sha256,
            adapterConfig: m.adapterConfig as Prisma.InputJsonValue,
            metrics: m.metrics as Prisma.InputJsonValue,
            isFinal: m.isFinal,
            resumeState: m.resumeState,
          });
          await this.trials.updateAttempt(attempt.id, { lastStep: m.step });
          if (m.isFinal && m.adapterConfig.rank_pattern && Object.keys(m.adapterConfig.rank_pattern as object).length > 0) {
            await this.trials.updateTrial(trialId, { rankPattern: m.adapterConfig.rank_pattern as Prisma.InputJsonValue });
          }
          this.log.log({ ...bindings, step: m.step, bytes: m.safetensors.byteLength, sha256 }, 'checkpoint stored');
          tlog(
            'info',
            `checkpoint at step ${m.step}${m.isFinal ? ' (final)' : ''} stored: ${(m.safetensors.byteLength / 1024).toFixed(1)} kB, sha256 ${sha256.slice(0, 12)}`,
          );
          await this.live.hint('checkpoint', sweep.id, trialId);
          break;
        }
        case 'probe': {
          await writeReady();
          const order = [...m.importance].sort((a, b) => b.normalized - a.normalized).map((i) => i.module);
          await this.importance.replaceForProbe(
            trialId,
            m.importance.map((i) => ({ module: i.module, score: i.score, normalized: i.normalized, rank: order.indexOf(i.module) + 1 })),
          );
          await this.trials.updateTrial(trialId, { trainableParams: m.trainableParams });
          // A probe trial's plans are made by its plan job; an in-trial probe plans for itself.
          tlog('info', `LoRA-drop importance stored for ${m.importance.length} modules; most important: ${order.slice(0, 3).join(', ')}`);
          await this.live.hint('importance', sweep.id, trialId);
          if (trial.kind === 'probe') {
            this.log.log({ ...bindings, modules: m.importance.length }, 'LoRA-drop probe importance stored');
            break;
          }
          const rule: { threshold?: number; topN?: number } = loraDropRule(hp.knobs);
          const plan = await this.plans.create({
            sweepId: sweep.id,
            probeTrialId: trialId,
            threshold: rule.threshold ?? null,
            topN: rule.topN ?? null,
            selected: m.selected,
          });
          await this.trials.updateTrial(trialId, { planId: plan.id });
          this.log.log({ ...bindings, selected: m.selected, planId: plan.id }, 'LoRA-drop probe selected modules');
          tlog('info', `LoRA-drop selected ${m.selected.length} modules: ${m.selected.join(', ')}`);
          await this.live.hint('importance', sweep.id, trialId);
          break;
        }
        case 'ranks':
          await writeReady();
          await this.rankBudgets.insertMany(
            m.records.flatMap((r) =>
              Object.entries(r.ranks).map(([module, rank]) => ({ trialId, step: r.step, module, rank, budget: r.budget })),
            ),
          );
          for (const r of m.records) tlog('info', `AdaLoRA budget at step ${r.step}: total rank ${r.budget}`);
          await this.live.hint('ranks', sweep.id, trialId);
          break;
        case 'done':
          result = m;
          break;
        case 'error':
          break;
      }
    };

    try {
      await this.runThread(
        input,
        onMessage,
        (abort) => this.active.set(trialId, abort),
        (post) => (send = post),
      );
      const r = result as Extract<TrainThreadMessage, { type: 'done' }> | null;
      if (r && r.steps < hp.training.steps && !prunedReason) {
        // The loop stopped early without a prune or a cancel (a preempted run ends through its error).
        throw new Error(`training stopped at step ${r.steps} of ${hp.training.steps}`);
      }
      if (!r) throw new Error('training thread exited without a result');
      const outcome = prunedReason ? RunStatus.pruned : RunStatus.succeeded;
      tlog(
        'info',
        `attempt ${outcome}: final eval loss ${r.finalEvalLoss?.toFixed(4) ?? '-'}, ${Math.round(r.tokensPerSec ?? 0)} tok/s, ${(r.wallMs / 1000).toFixed(1)} s`,
      );
      // The metric points and log lines not yet written (the closing line above among them) go in
      // the statement that closes the attempt, under its fence.
      const [points, lines] = superseded ? [[], []] : await Promise.all([buffer.drain(), logBuffer.drain()]);
      const ready = takeReady();
      if (!ready) await readyWritten;
      const {
        status,
        trial: row,
        logRows,
      } = await this.trials.closeAttempt(
        trialId,
        attempt.id,
        outcome,
        { finalEvalLoss: r.finalEvalLoss, tokensPerSec: r.tokensPerSec, prunedReason },
        { lastStep: r.steps },
        { rows: { metrics: points, logs: lines }, ready },
      );
      closed = row;
      if (!row) supersede();
      else {
        void this.live.metrics(
          sweep.id,
          trialId,
          points.map(({ step, split, name, value }) => ({ step, split, name, value })),
        );
        void this.live.logs(
          sweep.id,
          trialId,
          logRows.map(({ ts, ...l }) => ({ ...l, ts: ts.toISOString() })),
        );
        // A cancel that came in meanwhile wins (the trial stays cancelled): the log says so after the line above.
        if (status !== outcome) tlog('warn', `the trial was ${status} while this attempt finished; it stays ${status}`);
      }
      if (progressSent) await ctx.progress({ step: r.steps, steps: hp.training.steps, evalLoss: r.finalEvalLoss, done: true });
      this.log.log(
        { ...bindings, status, finalEvalLoss: r.finalEvalLoss, tokensPerSec: r.tokensPerSec, wallMs: r.wallMs },
        `attempt ${status}`,
      );
      return { finalEvalLoss: r.finalEvalLoss ?? NaN };
    } catch (e) {
      await buffer.close().catch(() => undefined);
      const err = e as Error;
      if (superseded) throw new TrialSupersededError(`attempt ${attempt.number} was superseded by a newer attempt`);
      if (err instanceof TrialPreemptedError) {
        // Back to the queue without spending an attempt; the next one resumes from the checkpoint.
        closed = (
          await this.trials.closeAttempt(
            trialId,
            attempt.id,
            RunStatus.queued,
            {},
            { error: err.message, status: RunStatus.preempted },
            { ready: takeReady() },
          )
        ).trial;
        this.log.warn({ ...bindings, reason: err.message }, 'attempt preempted');
        tlog('warn', `attempt preempted: ${err.message}; the trial goes back to the queue and resumes from its last checkpoint`);
        throw err;
      }
      const final = ctx.lastAttempt || err instanceof TrialConfigError;
      // The attempt failed; the trial goes back to queued while BullMQ will retry it.
      const { status, trial: row } = await this.trials.closeAttempt(
        trialId,
        attempt.id,
        err instanceof TrialCancelledError ? RunStatus.cancelled : final ? RunStatus.failed : RunStatus.queued,
        { error: err.message },
        { error: err.message, status: err instanceof TrialCancelledError ? RunStatus.cancelled : RunStatus.failed },
        { ready: takeReady() },
      );
      closed = row;
      if (status === RunStatus.cancelled) {
        this.log.log({ ...bindings, reason: err.message }, 'attempt cancelled');
        tlog('warn', `attempt cancelled: ${err.message}`);
        return { finalEvalLoss: NaN };
      }
      this.log.error({ ...bindings, err: err.message, willRetry: !final }, 'attempt failed');
      tlog('error', `attempt failed: ${err.message}${final ? '' : ' (will be retried)'}`);
      throw err;
    } finally {
      if (readyTimer) clearTimeout(readyTimer);
      this.active.delete(trialId);
      this.heartbeat.trialEnded(trialId);
      await logBuffer.close().catch((e: Error) => this.log.warn({ ...bindings, err: e.message }, 'trial log lines lost'));
      // The sweep's status settled in closeAttempt (when the trial ended terminal).
      if (closed) void this.live.trialChanged(sweep.id, closed);
      else await this.live.trialsChanged(sweep.id, [trialId]);
    }
  }

  /**
   * Graceful drain: every running trial checkpoints at its next step and goes back to the queue.
   * Resolves when their threads have stopped (or were terminated after the grace period).
   */
  preemptAll(reason: string): number {
    this.draining = reason;
    for (const [trialId, f] of this.active) {
      this.log.log({ trialId, reason }, 'preempting trial');
      f(reason, 'preempt');
    }
    return this.active.size;
  }

  /** Stops a trial this worker runs (a no-op for trials it does not run). */
  abort(trialId: string, reason: string): boolean {
    const f = this.active.get(trialId);
    if (!f) return false;
    this.log.log({ trialId, reason }, 'aborting trial');
    f(reason, 'cancel');
    return true;
  }

  /**
   * Runs the training thread. Resolves once its 'done' message has been handled, rejects with
   * its error (or its unexpected exit); the thread is terminated either way.
   * WORKER_TRAINER=noop (benchmarks only) answers in its place without a thread: noop-trainer.ts.
   */
  private runThread(
    input: TrainThreadInput,
    onMessage: (m: TrainThreadMessage) => Promise<void>,
    registerAbort: (abort: (reason: string, kind: AbortKind) => void) => void,
    registerSend: (send: (c: TrainThreadCommand) => void) => void,
  ): Promise<void> {
    if (this.config.worker.trainer === 'noop') return runNoopTrainer(input, onMessage);
    return new Promise((resolve, reject) => {
      const thread = new Thread(path.join(__dirname, 'train.thread.js'), { workerData: input });
      registerSend((c) => thread.postMessage(c));
      registerAbort((reason, kind) => {
        // Ask the loop to stop between steps. A prune then ends normally (final checkpoint, 'done');
        // a preempted run writes its checkpoint (with resume state) and ends; a cancel is
        // terminated if it does not stop within the grace period.
        thread.postMessage({ type: 'abort', reason, kind } satisfies TrainThreadCommand);
        if (kind === 'cancel') {
          setTimeout(() => settle(new TrialCancelledError(reason)), CANCEL_GRACE_MS).unref();
          cancelled = reason;
        }
        if (kind === 'preempt') {
          setTimeout(() => settle(new TrialPreemptedError(reason)), PREEMPT_GRACE_MS).unref();
          preempted = reason;
        }
      });
      let cancelled: string | null = null;
      let preempted: string | null = null;
      let settled = false;
      const settle = (err: Error | null) => {
        if (settled) return;
        settled = true;
        void thread.terminate();
        if (err) reject(err);
        else resolve();
      };
      // Messages are handled strictly in order (a checkpoint is stored before 'done' settles).
      let chain = Promise.resolve();
      thread.on('message', (m: TrainThreadMessage) => {
        chain = chain
          .then(() => onMessage(m))
          .then(() => {
            if (m.type === 'done')
              settle(cancelled ? new TrialCancelledError(cancelled) : preempted ? new TrialPreemptedError(preempted) : null);
            if (m.type === 'error')
              settle(m.unrecoverable ? new TrialConfigError(m.message) : Object.assign(new Error(m.message), { stack: m.stack }));
          })
          .catch((e: Error) => settle(e));
      });
      thread.on('error', (e) => void chain.then(() => settle(e)));
      thread.on('exit', (code) => void chain.then(() => settle(new Error(`training thread exited (code ${code}) before finishing`))));
    });
  }
}
