// lora adapter download <trialId>: picks the final (or --step) checkpoint, downloads the zip,
// verifies the adapter's sha256 against X-Checkpoint-Sha256 and the listing, unpacks it.
import { unzipSync } from 'fflate';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiError } from '../api';
import type { Context } from '../context';
import { CliError, EXIT } from '../errors';
import { fmtBytes } from '../format';
import type { CheckpointView } from '../types';

export interface DownloadOptions {
  format: 'peft' | 'merged';
  step?: number;
  out?: string;
}

export function pickCheckpoint(trialId: string, checkpoints: CheckpointView[], step?: number): CheckpointView {
  const steps = checkpoints.map((c) => c.step).join(', ');
  if (checkpoints.length === 0) throw new CliError(`trial ${trialId} has no checkpoints yet`, EXIT.failure);
  if (step !== undefined) {
    const c = checkpoints.find((x) => x.step === step);
    if (!c) throw new CliError(`trial ${trialId} has no checkpoint at step ${step}; checkpoints at steps: ${steps}`, EXIT.failure);
    return c;
  }
  const final = checkpoints.find((c) => c.isFinal);
  if (!final)
    throw new CliError(`trial ${trialId} has no final checkpoint yet; checkpoints at steps: ${steps} (pick one with --step)`, EXIT.failure);
  return final;
}

/** Zip entries → relative file paths, without the zip's single top folder; refuses paths that escape. */
export function zipFiles(entries: Record<string, Uint8Array>): Array<{ name: string; bytes: Uint8Array }> {
  const files = Object.entries(entries).filter(([n]) => !n.endsWith('/'));
  const tops = new Set(files.map(([n]) => (n.includes('/') ? n.split('/')[0] : '')));
  const strip = tops.size === 1 && !tops.has('') ? `${[...tops][0]}/` : '';
  return files.map(([n, bytes]) => {
    const name = n.slice(strip.length);
    const parts = name.split(/[\\/]/);
    if (path.isAbsolute(name) || parts.some((p) => p === '..' || p === '') || /^[A-Za-z]:/.test(name)) {
      throw new CliError(`refusing the download: it holds an unsafe path "${n}"`, EXIT.failure);
    }
    return { name, bytes };
  });
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export async function adapterDownloadCmd(ctx: Context, trialId: string, opts: DownloadOptions): Promise<number> {
  let checkpoints: CheckpointView[];
  try {
    checkpoints = await ctx.api.get<CheckpointView[]>(`/trials/${encodeURIComponent(trialId)}/checkpoints`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && !e.isMissingRoute) throw new CliError(`trial ${trialId} not found`, EXIT.failure);
    throw e;
  }
  const cp = pickCheckpoint(trialId, checkpoints, opts.step);
  const dl = await ctx.api.download(`/checkpoints/${cp.id}/download${opts.format === 'merged' ? '?format=merged' : ''}`);
  let files: Array<{ name: string; bytes: Uint8Array }>;
  try {
    files = zipFiles(unzipSync(dl.bytes));
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`the download of checkpoint ${cp.id} is not a valid zip (${(e as Error).message})`, EXIT.failure);
  }
  const header = dl.headers.get('x-checkpoint-sha256') ?? undefined;
  let verified: string | undefined;
  if (opts.format === 'peft') {
    const weights = files.find((f) => path.basename(f.name) === 'adapter_model.safetensors');
    if (!weights) throw new CliError(`the download of checkpoint ${cp.id} has no adapter_model.safetensors`, EXIT.failure);
    const actual = sha256(weights.bytes);
    for (const [what, expected] of [
      ['the X-Checkpoint-Sha256 header', header],
      ['the checkpoint listing', cp.sha256],
    ] as const) {
      if (expected && expected !== actual) {
        throw new CliError(
          `sha256 mismatch for adapter_model.safetensors: got ${actual}, ${what} says ${expected}; nothing was written`,
          EXIT.failure,
        );
      }
    }
    if (!header)
      throw new CliError(`the API sent no X-Checkpoint-Sha256 header for checkpoint ${cp.id}; nothing was written`, EXIT.failure);
    verified = actual;
  }
  const outDir = ctx.resolvePath(opts.out ?? `./${opts.format === 'merged' ? 'merged' : 'adapter'}-${trialId.slice(0, 8)}`);
  const written: Array<{ path: string; bytes: number }> = [];
  for (const f of files) {
    const target = path.join(outDir, f.name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, f.bytes);
    written.push({ path: target, bytes: f.bytes.byteLength });
  }
  if (ctx.json) {
    ctx.printJson({
      trialId,
      checkpointId: cp.id,
      step: cp.step,
      format: opts.format,
      sha256: verified ?? header ?? null,
      verified: !!verified,
      outDir,
      files: written,
    });
    return EXIT.ok;
  }
  ctx.print(`checkpoint ${cp.id} (trial ${trialId}, step ${cp.step}${cp.isFinal ? ', final' : ''}, ${opts.format}) → ${outDir}`);
  for (const w of written) ctx.print(`  ${w.path}  (${fmtBytes(w.bytes)})`);
  ctx.print(
    verified
      ? `sha256 ${verified} verified (adapter_model.safetensors)`
      : 'merged weights: the checksum covers the adapter only, so there was nothing to verify',
  );
  return EXIT.ok;
}
