// A small HTTP client for the orchestrator API. The CLI talks to the API only (never to Postgres
// or Redis); every answer that is not 2xx becomes an ApiError, a refused connection an
// UnreachableError, so commands can map them to messages and exit codes in one place.
import type { FieldError } from '@lora/contracts';
import { InterruptedError } from './errors';

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    /** The parsed JSON body, or the text when it was not JSON. */
    readonly body: unknown,
  ) {
    super(`${method} ${path} → ${status}: ${ApiError.messageOf(body) ?? '(no message)'}`);
  }

  /** Nest's own 404 for a route that does not exist ("Cannot POST /sweeps/…/cancel"), as opposed to a missing record. */
  get isMissingRoute(): boolean {
    return this.status === 404 && /^Cannot (GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \//.test(this.apiMessage ?? '');
  }

  /** The API's `message` (Nest puts a string or a list of strings there). */
  get apiMessage(): string | undefined {
    return ApiError.messageOf(this.body);
  }

  /** The `errors` list of a 400 (each `{ field, message }`). */
  get fieldErrors(): FieldError[] {
    const errors = (this.body as { errors?: unknown } | null)?.errors;
    if (!Array.isArray(errors)) return [];
    return errors
      .filter((e): e is FieldError => typeof e === 'object' && e !== null && 'field' in e && 'message' in e)
      .map((e) => ({ field: String(e.field), message: String(e.message) }));
  }

  private static messageOf(body: unknown): string | undefined {
    if (typeof body === 'string') return body.trim() || undefined;
    const m = (body as { message?: unknown } | null)?.message;
    if (typeof m === 'string') return m;
    if (Array.isArray(m)) return m.map(String).join('; ');
    return undefined;
  }
}

export class UnreachableError extends Error {
  override name = 'UnreachableError';
  constructor(
    readonly baseUrl: string,
    readonly reason: string,
  ) {
    super(`cannot reach the API at ${baseUrl} (is it running? set --api or LORA_API_URL)`);
  }
}

export interface Download {
  bytes: Uint8Array;
  headers: Headers;
}

export class ApiClient {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly fetchImpl: FetchLike,
    private readonly signal?: AbortSignal,
    private readonly token?: string,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  get<T>(path: string): Promise<T> {
    return this.json<T>('GET', path);
  }

  post<T>(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; data: T }> {
    return this.send<T>('POST', path, body, headers);
  }

  async json<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    return (await this.send<T>(method, path, body, headers)).data;
  }

  async send<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; data: T }> {
    const res = await this.raw(method, path, {
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    });
    const text = await res.text();
    let data: unknown = text;
    if (text && (res.headers.get('content-type') ?? '').includes('json')) {
      try {
        data = JSON.parse(text);
      } catch {
        /* keep the text */
      }
    }
    if (!res.ok) throw new ApiError(method, path, res.status, data);
    return { status: res.status, data: data as T };
  }

  /** A binary download (zip, safetensors): the bytes and the response headers. */
  async download(path: string): Promise<Download> {
    const res = await this.raw('GET', path, {});
    if (!res.ok) {
      const text = await res.text();
      let data: unknown = text;
      try {
        data = JSON.parse(text);
      } catch {
        /* keep the text */
      }
      throw new ApiError('GET', path, res.status, data);
    }
    return { bytes: new Uint8Array(await res.arrayBuffer()), headers: res.headers };
  }

  private async raw(method: string, path: string, init: { body?: string; headers?: Record<string, string> }): Promise<Response> {
    if (this.signal?.aborted) throw new InterruptedError();
    try {
      const headers = { ...init.headers, ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) };
      return await this.fetchImpl(`${this.baseUrl}${path}`, { method, ...init, headers, signal: this.signal });
    } catch (e) {
      if (this.signal?.aborted || (e as Error)?.name === 'AbortError') throw new InterruptedError();
      const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
      throw new UnreachableError(this.baseUrl, cause?.code ?? cause?.message ?? (e as Error)?.message ?? String(e));
    }
  }
}
