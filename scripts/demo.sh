#!/usr/bin/env bash
# One command on a fresh machine: install, generate, build, migrate, then run the demo sweep
# (API + one worker on the shipped base model and Moby Dick). `--exit` stops when it is done.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent prisma:generate >/dev/null
npm run --silent build
node dist/scripts/migrate.js
exec node dist/scripts/demo.js "$@"
