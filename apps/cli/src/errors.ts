// Exit codes and the errors that carry them: 0 ok, 1 a failure (not found, unreachable, sweep
// failed), 2 bad usage or bad input (CLI arguments, the sweep file, a 400 from the API), 130 Ctrl-C.
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
    /** Further lines printed under the message (field errors, hints). */
    readonly details: string[] = [],
  ) {
    super(message);
  }
}

export class UsageError extends CliError {
  override name = 'UsageError';
  constructor(message: string, details: string[] = []) {
    super(message, EXIT.usage, details);
  }
}

/** Ctrl-C (or another abort) while a request or a wait was in progress. */
export class InterruptedError extends CliError {
  override name = 'InterruptedError';
  constructor(message = 'interrupted') {
    super(message, EXIT.interrupted);
  }
}
