// Shared by the commands: POST actions that answer 202 with a summary, and their wording.
import { ApiError } from '../api';
import type { Context } from '../context';
import { CliError, EXIT } from '../errors';

/** POSTs an action; a route the API lacks becomes "this API does not support <feature> yet". */
export async function postAction(ctx: Context, path: string, feature: string): Promise<Record<string, unknown>> {
  try {
    const { data } = await ctx.api.post<Record<string, unknown>>(path);
    return data && typeof data === 'object' ? data : {};
  } catch (e) {
    if (e instanceof ApiError && e.isMissingRoute) throw new CliError(`this API does not support ${feature} yet`, EXIT.failure);
    throw e;
  }
}

const idOf = (v: unknown) =>
  typeof v === 'string' ? v : typeof v === 'object' && v !== null && 'id' in v ? String((v as { id: unknown }).id) : JSON.stringify(v);

/** `{ cancelled: [a, b] }` → "cancelled 2 trials:" plus one id per line. */
export function summaryLines(data: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(data)) {
    if (Array.isArray(value)) {
      out.push(`${key} ${value.length} trial${value.length === 1 ? '' : 's'}${value.length ? ':' : ''}`);
      for (const v of value) out.push(`  ${idOf(v)}`);
    } else if (value !== null && typeof value === 'object') {
      out.push(`${key}: ${JSON.stringify(value)}`);
    } else {
      out.push(`${key}: ${String(value)}`);
    }
  }
  return out.length ? out : ['done'];
}

export async function runAction(ctx: Context, path: string, feature: string, what: string): Promise<number> {
  const data = await postAction(ctx, path, feature);
  if (ctx.json) ctx.printJson(data);
  else ctx.print([`${what}:`, ...summaryLines(data).map((l) => `  ${l}`)].join('\n'));
  return EXIT.ok;
}
