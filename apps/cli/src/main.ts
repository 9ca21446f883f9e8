#!/usr/bin/env node
// The `lora` binary: runs the CLI with the real fetch and streams; Ctrl-C aborts the current
// wait (a second Ctrl-C exits at once).
import { runCli } from './cli';

const controller = new AbortController();
process.on('SIGINT', () => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort();
});

runCli(process.argv.slice(2), {
  fetch: (url, init) => fetch(url, init),
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
