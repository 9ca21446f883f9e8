#!/usr/bin/env bash
# Packs what the accelerator machine needs to run our engine (it has no Node.js and no network)
# into .carry/ (git-ignored): this machine's node binary and the webgpu package's dawn.node,
# xz-compressed; the benches bundled into single files with esbuild (from the swc build, which
# already resolved @lora/* paths); and the wasm backend's .wasm files where the bundle's
# require.resolve finds them. Usage: bash scripts/bundle-device.sh [entries under dist/, no .js]
# Then, on the device (see bench/README.md): unpack node and dawn.node, set WEBGPU_DAWN_NODE.
set -euo pipefail
cd "$(dirname "$0")/.."
ENTRIES=("$@")
[ ${#ENTRIES[@]} -gt 0 ] || ENTRIES=(bench/engine-vs-torch.bench bench/webgpu-ops.bench bench/dawn-calls.bench scripts/backend-parity)
npx swc apps libs scripts bench test/support -d dist --ignore "**/*.spec.ts" --ignore "apps/dashboard/**" --quiet
mkdir -p .carry/bench
for e in "${ENTRIES[@]}"; do
  # require.resolve('@tensorflow/tfjs-backend-wasm') stays a runtime lookup (the copy below).
  npx esbuild "dist/$e.js" --bundle --platform=node --target=node20 --format=cjs \
    --log-level=error --outfile=".carry/bench/$(basename "$e").js"
done
wasm=.carry/bench/node_modules/@tensorflow/tfjs-backend-wasm
rm -rf "$wasm" && mkdir -p "$wasm/dist"
cp node_modules/@tensorflow/tfjs-backend-wasm/package.json "$wasm/"
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.node.js "$wasm/dist/"
# The threaded build (libs/engine/src/wasm-threads.ts loads it by path).
mkdir -p "$wasm/wasm-out" && cp node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.* "$wasm/wasm-out/"
[ -s .carry/node.xz ] || xz -T2 -6 -c "$(readlink -f "$(command -v node)")" >.carry/node.xz
dawn=node_modules/webgpu/dist/linux-x64/dawn.node
if [ -f "$dawn" ] && { [ ! -s .carry/dawn.node.xz ] || [ "$dawn" -nt .carry/dawn.node.xz ]; }; then xz -T2 -9 -c "$dawn" >.carry/dawn.node.xz; fi
du -sh .carry/* .carry/bench/*
