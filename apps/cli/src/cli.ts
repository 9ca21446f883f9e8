// The `lora` program: commander wiring, global options, and the one place that turns errors into
// messages and exit codes (0 ok, 1 failure, 2 bad usage/input, 130 interrupted).
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ApiError, UnreachableError } from './api';
import { adapterDownloadCmd } from './commands/adapter';
import {
  sweepCancelCmd,
  sweepLeaderboardCmd,
  sweepListCmd,
  sweepRerunFailedCmd,
  sweepShowCmd,
  sweepSubmit,
  sweepWatch,
} from './commands/sweep';
import { tokenCreateCmd, tokenListCmd, tokenRevokeCmd } from './commands/token';
import { trialCancelCmd, trialRerunCmd, trialShowCmd } from './commands/trial';
import { Context, type Deps, type GlobalOptions } from './context';
import { DEFAULT_API_URL } from './config';
import { CliError, EXIT } from './errors';
import { fieldErrorLines } from './format';
import { DEFAULT_WATCH, type WatchOptions } from './watch';

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};
const nonNegativeInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${name} must be a whole number ≥ 0`);
  return n;
};
const seconds = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0.1 || n > 3600) throw new InvalidArgumentError('must be a number of seconds between 0.1 and 3600');
  return n;
};

function watchOptions(opts: { interval?: number }): WatchOptions {
  return opts.interval
    ? { ...DEFAULT_WATCH, intervalMs: opts.interval * 1000, plainEveryMs: Math.max(DEFAULT_WATCH.plainEveryMs, opts.interval * 1000) }
    : DEFAULT_WATCH;
}

export function buildProgram(deps: Deps, setExit: (code: number) => void): Command {
  const ctxOf = (cmd: Command) => new Context(deps, cmd.optsWithGlobals<GlobalOptions>());
  const run =
    <A extends unknown[]>(f: (ctx: Context, ...args: A) => Promise<number>) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      const ctx = ctxOf(cmd);
      setExit(await f(ctx, ...(args.slice(0, -1) as A)));
    };

  const program = new Command('lora')
    .description('Submit and follow LoRA sweeps on the orchestrator API, and download their adapters.')
    .option('--api <url>', `API base URL (default: $LORA_API_URL, else ${DEFAULT_API_URL})`)
    .option('--token <token>', 'API token for writes (default: $LORA_API_TOKEN; create one with `lora token create`)')
    .option('--json', 'machine-readable output (JSON; `watch` prints one JSON event per line)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => deps.stdout.write(s), writeErr: (s) => deps.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)');

  const sweep = program.command('sweep').description('submit, follow and manage sweeps');
  sweep
    .command('submit')
    .description('submit a sweep from a YAML or JSON file (re-running it returns the same sweep)')
    .argument('<file>', 'sweep file (.yaml, .yml or .json)')
    .option('--idempotency-key <key>', 'Idempotency-Key header (default: sha256 of the file content)')
    .option('--watch', 'follow the sweep until it ends (exit 0 if it succeeded)')
    .option('--interval <seconds>', 'poll period while watching', seconds)
    .action(
      run((ctx, file: string, opts: { idempotencyKey?: string; watch?: boolean; interval?: number }) =>
        sweepSubmit(ctx, file, opts, watchOptions(opts)),
      ),
    );
  sweep
    .command('watch')
    .description('live progress until the sweep ends; exit 0 if it succeeded, 1 if it failed or was cancelled (Ctrl-C stops watching only)')
    .argument('<id>', 'sweep id')
    .option('--interval <seconds>', 'poll period', seconds)
    .action(run((ctx, id: string, opts: { interval?: number }) => sweepWatch(ctx, id, watchOptions(opts))));
  sweep
    .command('list')
    .description('sweeps, newest first')
    .option('--take <n>', 'how many', positiveInt('--take'), 20)
    .action(run((ctx, opts: { take: number }) => sweepListCmd(ctx, opts)));
  sweep
    .command('show')
    .description('a sweep and its trials')
    .argument('<id>', 'sweep id')
    .action(run((ctx, id: string) => sweepShowCmd(ctx, id)));
  sweep
    .command('leaderboard')
    .description("a sweep's trials, best eval loss first")
    .argument('<id>', 'sweep id')
    .option('--top <n>', 'how many', positiveInt('--top'), 10)
    .action(run((ctx, id: string, opts: { top: number }) => sweepLeaderboardCmd(ctx, id, opts)));
  sweep
    .command('cancel')
    .description("cancel a sweep's queued and running trials")
    .argument('<id>', 'sweep id')
    .action(run((ctx, id: string) => sweepCancelCmd(ctx, id)));
  sweep
    .command('rerun-failed')
    .description("queue a sweep's failed (and cancelled) trials again")
    .argument('<id>', 'sweep id')
    .action(run((ctx, id: string) => sweepRerunFailedCmd(ctx, id)));

  const trial = program.command('trial').description('inspect and manage single trials');
  trial
    .command('show')
    .description('a trial: hyperparameters, losses, attempts, checkpoints')
    .argument('<id>', 'trial id')
    .action(run((ctx, id: string) => trialShowCmd(ctx, id)));
  trial
    .command('cancel')
    .description('cancel a queued or running trial')
    .argument('<id>', 'trial id')
    .action(run((ctx, id: string) => trialCancelCmd(ctx, id)));
  trial
    .command('rerun')
    .description('run a finished trial again from scratch')
    .argument('<id>', 'trial id')
    .action(run((ctx, id: string) => trialRerunCmd(ctx, id)));

  const token = program
    .command('token')
    .description('API tokens (operators: talks to Postgres directly, with DATABASE_URL and DATABASE_SCHEMA like the API)');
  token
    .command('create')
    .description('create a token and print it (once); writes need one, reads too when the API runs with AUTH_READS=token')
    .requiredOption('--name <name>', 'a unique name: who or what uses the token')
    .action(run((ctx, opts: { name: string }) => tokenCreateCmd(ctx, opts)));
  token
    .command('list')
    .description('list tokens (names, prefixes, last use; never the tokens)')
    .action(run((ctx) => tokenListCmd(ctx)));
  token
    .command('revoke')
    .description('revoke a token by name: requests with it get 401 from then on')
    .argument('<name>', 'token name')
    .action(run((ctx, name: string) => tokenRevokeCmd(ctx, name)));

  const adapter = program.command('adapter').description('download trained adapters');
  adapter
    .command('download')
    .description("download a trial's final (or --step) checkpoint and unpack it")
    .argument('<trialId>', 'trial id')
    .addOption(
      new Option('--format <format>', 'peft: the adapter folder; merged: the base model with the adapter merged in')
        .choices(['peft', 'merged'])
        .default('peft'),
    )
    .option('--step <n>', 'the checkpoint at this step instead of the final one', nonNegativeInt('--step'))
    .option('--out <dir>', 'target folder (default: ./adapter-<trial id prefix>, ./merged-<…> for --format merged)')
    .action(run((ctx, id: string, opts: { format: 'peft' | 'merged'; step?: number; out?: string }) => adapterDownloadCmd(ctx, id, opts)));

  return program;
}

/** Runs the CLI on argv (without node and script); resolves to the exit code, never throws. */
export async function runCli(argv: string[], deps: Deps): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(deps, (c) => (code = c));
  const json = argv.includes('--json');
  try {
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      return EXIT.usage;
    }
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    return report(e, deps, json);
  }
}

export function report(e: unknown, deps: Deps, json: boolean): number {
  if (e instanceof CommanderError) {
    // commander already printed the message (or the help/version it was asked for).
    return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  let message: string;
  let details: string[] = [];
  let exitCode: number = EXIT.failure;
  let extra: Record<string, unknown> = {};
  if (e instanceof CliError) {
    ({ message, details, exitCode } = e);
  } else if (e instanceof UnreachableError) {
    message = e.message;
    extra = { reason: e.reason };
  } else if (e instanceof ApiError) {
    extra = { status: e.status, errors: e.fieldErrors.length ? e.fieldErrors : undefined };
    if (e.isMissingRoute) {
      message = `this API does not support ${e.method} ${e.path.split('?')[0]} yet`;
    } else if (e.status === 400) {
      exitCode = EXIT.usage;
      message = e.fieldErrors.length ? 'the API rejected the request:' : `the API rejected the request: ${e.apiMessage ?? 'bad request'}`;
      details = fieldErrorLines(e.fieldErrors);
    } else if (e.status === 401) {
      message = `${e.apiMessage ?? 'the API needs a token'} (set LORA_API_TOKEN or --token; an operator creates one with \`lora token create --name <name>\`)`;
    } else if (e.status === 404 || e.status === 409) {
      message = e.apiMessage ?? `${e.method} ${e.path}: ${e.status}`;
    } else {
      message = `the API answered ${e.status} to ${e.method} ${e.path.split('?')[0]}${e.apiMessage ? `: ${e.apiMessage}` : ''}`;
    }
  } else {
    message = `unexpected error: ${(e as Error)?.stack ?? String(e)}`;
  }
  if (json) deps.stderr.write(`${JSON.stringify({ error: message, details: details.length ? details : undefined, exitCode, ...extra })}\n`);
  else deps.stderr.write(`error: ${message}\n${details.map((l) => `${l}\n`).join('')}`);
  return exitCode;
}
