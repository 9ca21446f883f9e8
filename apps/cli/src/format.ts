// Plain-text rendering: tables, numbers, trial labels, field errors with their source lines.
import type { FieldError } from '@lora/contracts';
import type { SourceLocation } from './spec-file';
import type { CheckpointView, SweepSummary, SweepView, TrialDetail, TrialView } from './types';

export function table(headers: string[], rows: string[][], right: number[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.includes(i) ? (c ?? '').padStart(widths[i]) : (c ?? '').padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export const dash = '-';

export function fmtLoss(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? dash : v.toFixed(4);
}

export function fmtNum(v: number | null | undefined): string {
  return v === null || v === undefined ? dash : v.toLocaleString('en-US');
}

export function fmtLr(v: number | null | undefined): string {
  if (v === null || v === undefined) return dash;
  return String(Number(v.toPrecision(3)));
}

export function fmtRate(v: number | null | undefined): string {
  return v === null || v === undefined ? dash : Math.round(v).toLocaleString('en-US');
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return dash;
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function lossChange(before: number | null | undefined, after: number | null | undefined): string {
  return `${fmtLoss(before)} → ${fmtLoss(after)}`;
}

/** "#1 lora r=8" plus the variant's own knobs when it has any. */
export function trialLabel(t: Pick<TrialView, 'index' | 'variant' | 'hyperparams'>): string {
  const knobs = Object.entries(t.hyperparams?.knobs ?? {})
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('/') : String(v)}`)
    .join(' ');
  return `#${t.index} ${t.variant} r=${t.hyperparams?.r ?? '?'}${knobs ? ` ${knobs}` : ''}`;
}

export function trialsTable(trials: TrialView[]): string {
  return table(
    ['#', 'variant', 'r', 'lr', 'status', 'trainable', 'eval loss before → after', 'tokens/s', 'trial id'],
    trials.map((t) => [
      String(t.index),
      t.variant,
      String(t.hyperparams?.r ?? dash),
      fmtLr(t.hyperparams?.lr),
      t.status,
      fmtNum(t.trainableParams),
      lossChange(t.baselineEvalLoss, t.finalEvalLoss),
      fmtRate(t.tokensPerSec),
      t.id,
    ]),
    [0, 2, 3, 5, 7],
  );
}

export function progressText(s: Pick<SweepSummary, 'progress'>): string {
  const by = Object.entries(s.progress.byStatus ?? {})
    .filter(([, n]) => (n ?? 0) > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return `${s.progress.done}/${s.progress.total} done${by ? ` (${by})` : ''}`;
}

export function sweepHeader(s: SweepSummary): string {
  return [
    `sweep ${s.id}  "${s.name}"`,
    `  status:   ${s.status}, ${progressText(s)}`,
    `  model:    ${s.baseModel?.name ?? dash} on ${s.dataset?.name ?? dash}`,
    `  created:  ${fmtTime(s.createdAt)}${s.finishedAt ? `, finished ${fmtTime(s.finishedAt)}` : ''}`,
  ].join('\n');
}

export function sweepShow(s: SweepView): string {
  const failed = s.trials.filter((t) => t.error && t.status !== 'succeeded');
  const errors = failed.length ? `\n\nerrors:\n${failed.map((t) => `  #${t.index} ${t.status}: ${t.error}`).join('\n')}` : '';
  return `${sweepHeader(s)}\n\n${trialsTable(s.trials)}${errors}`;
}

export function sweepList(items: SweepSummary[], total: number): string {
  if (items.length === 0) return 'no sweeps yet (submit one with: lora sweep submit <file>)';
  const t = table(
    ['sweep id', 'name', 'status', 'progress', 'model', 'dataset', 'created'],
    items.map((s) => [
      s.id,
      s.name,
      s.status,
      `${s.progress.done}/${s.progress.total}`,
      s.baseModel?.name ?? dash,
      s.dataset?.name ?? dash,
      fmtTime(s.createdAt),
    ]),
  );
  return total > items.length ? `${t}\n(${items.length} of ${total}; --take N for more)` : t;
}

/** Trials ranked best first: final eval loss, else best, else none (last). */
export function rankTrials(trials: TrialView[]): TrialView[] {
  const score = (t: TrialView) => t.finalEvalLoss ?? t.bestEvalLoss ?? Number.POSITIVE_INFINITY;
  return trials
    .filter((t) => t.finalEvalLoss !== null || (t.bestEvalLoss ?? null) !== null)
    .sort((a, b) => score(a) - score(b) || a.index - b.index);
}

export function leaderboard(trials: TrialView[]): string {
  if (trials.length === 0) return 'no trial has an eval loss yet';
  return table(
    ['rank', '#', 'variant', 'r', 'alpha', 'lr', 'eval loss', 'Δ vs baseline', 'trainable', 'tokens/s', 'trial id'],
    trials.map((t, i) => {
      const loss = t.finalEvalLoss ?? t.bestEvalLoss ?? null;
      const delta = loss !== null && t.baselineEvalLoss !== null ? (loss - t.baselineEvalLoss).toFixed(4) : dash;
      return [
        String(i + 1),
        String(t.index),
        t.variant,
        String(t.hyperparams?.r ?? dash),
        String(t.hyperparams?.alpha ?? dash),
        fmtLr(t.hyperparams?.lr),
        fmtLoss(loss),
        delta,
        fmtNum(t.trainableParams),
        fmtRate(t.tokensPerSec),
        t.id,
      ];
    }),
    [0, 1, 3, 4, 5, 6, 7, 8, 9],
  );
}

export function trialShow(t: TrialDetail, checkpoints: CheckpointView[]): string {
  const h = t.hyperparams;
  const knobs = Object.entries(h?.knobs ?? {});
  const lines = [
    `trial ${t.id}  ${trialLabel(t)}${t.sweep ? `  (sweep ${t.sweep.id} "${t.sweep.name}")` : ''}`,
    `  status:     ${t.status}${t.error ? ` (${t.error})` : ''}`,
    `  adapter:    ${t.variant} r=${h?.r} alpha=${h?.alpha} lr=${fmtLr(h?.lr)} dropout=${h?.dropout ?? 0}${h?.rslora ? ' rslora' : ''} on ${(h?.targetModules ?? []).join(', ')}`,
    ...(knobs.length ? [`  knobs:      ${knobs.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}`] : []),
    `  training:   ${h?.training ? `${h.training.steps} steps, batch ${h.training.batchSize} × seq ${h.training.seqLen}, ${h.training.schedule} schedule, seed ${h.training.seed}` : dash}`,
    `  trainable:  ${fmtNum(t.trainableParams)} parameters`,
    `  eval loss:  ${lossChange(t.baselineEvalLoss, t.finalEvalLoss)}${t.bestEvalLoss !== undefined && t.bestEvalLoss !== null ? ` (best ${fmtLoss(t.bestEvalLoss)})` : ''}`,
    `  tokens/s:   ${fmtRate(t.tokensPerSec)}`,
  ];
  lines.push('', 'attempts:');
  lines.push(
    t.attempts.length === 0
      ? '  none yet'
      : indent(
          table(
            ['n', 'status', 'backend', 'device', 'last step', 'started', 'finished', 'error'],
            t.attempts.map((a) => [
              String(a.number),
              a.status,
              a.backend ?? dash,
              a.device ?? dash,
              a.lastStep === null || a.lastStep === undefined ? dash : String(a.lastStep),
              fmtTime(a.startedAt),
              fmtTime(a.finishedAt),
              a.error ?? '',
            ]),
            [0, 4],
          ),
        ),
  );
  lines.push('', 'checkpoints:');
  lines.push(
    checkpoints.length === 0
      ? '  none yet'
      : indent(
          table(
            ['step', 'final', 'size', 'sha256', 'checkpoint id'],
            checkpoints.map((c) => [String(c.step), c.isFinal ? 'yes' : '', fmtBytes(c.sizeBytes), c.sha256.slice(0, 16), c.id]),
            [0, 2],
          ),
        ),
  );
  return lines.join('\n');
}

export function indent(s: string, by = '  '): string {
  return s
    .split('\n')
    .map((l) => (l ? by + l : l))
    .join('\n');
}

/**
 * One line per field error ("searchSpace.r.0: rank must be > 0"); when the sweep file is known,
 * each is followed by its location and source line.
 */
export function fieldErrorLines(errors: FieldError[], file?: string, locate?: (field: string) => SourceLocation | undefined): string[] {
  const out: string[] = [];
  for (const e of errors) {
    out.push(`${e.field}: ${e.message}`);
    if (!file || !locate) continue;
    for (const f of e.field.split(', ')) {
      const loc = locate(f);
      if (!loc) continue;
      const gutter = String(loc.line);
      out.push(`  --> ${file}:${loc.line}:${loc.col}${loc.exact ? '' : ` (${f} is inside this value)`}`);
      out.push(`  ${gutter} | ${loc.text}`);
      out.push(`  ${' '.repeat(gutter.length)} | ${' '.repeat(Math.max(0, loc.col - 1))}^`);
    }
  }
  return out;
}
