// What every command gets: the API client, output helpers and the injected world (fetch, clock,
// streams, abort signal), so commands run the same in the binary and in unit tests.
import * as path from 'node:path';
import { ApiClient, type FetchLike } from './api';
import { cliConfig } from './config';
import { InterruptedError, UsageError } from './errors';

export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Deps {
  fetch: FetchLike;
  stdout: OutStream;
  stderr: OutStream;
  /** Passed to cliConfig (which defaults to process.env). */
  env?: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C. */
  signal?: AbortSignal;
  cwd?: string;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface GlobalOptions {
  api?: string;
  token?: string;
  json?: boolean;
}

export class Context {
  readonly api: ApiClient;
  readonly json: boolean;
  /** True when --api was given (then the hints we print repeat it). */
  readonly apiGiven: boolean;

  constructor(
    readonly deps: Deps,
    opts: GlobalOptions,
  ) {
    const config = cliConfig(deps.env);
    const url = opts.api ?? config.apiUrl;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`--api: "${url}" is not a URL (expected e.g. http://127.0.0.1:3000)`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new UsageError(`--api: "${url}" must be an http:// or https:// URL`);
    this.api = new ApiClient(url, deps.fetch, deps.signal, opts.token ?? config.apiToken);
    this.json = !!opts.json;
    this.apiGiven = opts.api !== undefined;
  }

  get isTTY(): boolean {
    return !!this.deps.stdout.isTTY;
  }

  now(): number {
    return (this.deps.now ?? Date.now)();
  }

  print(text = ''): void {
    this.deps.stdout.write(`${text}\n`);
  }

  printJson(value: unknown): void {
    this.deps.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** One compact JSON line (streams of events). */
  printJsonLine(value: unknown): void {
    this.deps.stdout.write(`${JSON.stringify(value)}\n`);
  }

  note(text: string): void {
    this.deps.stderr.write(`${text}\n`);
  }

  resolvePath(p: string): string {
    return path.resolve(this.deps.cwd ?? process.cwd(), p);
  }

  /** "lora sweep watch <id>" with --api repeated when it was given. */
  command(rest: string): string {
    return `lora${this.apiGiven ? ` --api ${this.api.baseUrl}` : ''} ${rest}`;
  }

  sleep(ms: number): Promise<void> {
    if (this.deps.sleep) return this.deps.sleep(ms, this.deps.signal);
    return abortableSleep(ms, this.deps.signal);
  }
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new InterruptedError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(new InterruptedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
