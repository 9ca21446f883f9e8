#!/usr/bin/env bash
# Generates the Prisma client into libs/db/src/generated/prisma without network.
# Prisma 7's CLI tries to download its schema engine at start unless
# PRISMA_SCHEMA_ENGINE_BINARY names an existing file; `generate` never runs that engine
# (the Rust-free client uses a WASM query compiler), so any existing file will do.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PRISMA_SCHEMA_ENGINE_BINARY:-}" ] || [ ! -e "${PRISMA_SCHEMA_ENGINE_BINARY}" ]; then
  export PRISMA_SCHEMA_ENGINE_BINARY=/bin/true
fi
export PRISMA_HIDE_UPDATE_MESSAGE=1 CHECKPOINT_DISABLE=1 PRISMA_HIDE_PREVIEW_FLAG_WARNINGS=1
exec node node_modules/prisma/build/index.js generate --config prisma.config.ts "$@"
