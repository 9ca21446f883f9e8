// @lora/engine: tfjs backend selection, the GPT-2 model, training loop, evaluation and
// Hugging Face folder I/O; plus the I/O layer (safetensors, tokenizers, corpora, batches).
export * from './io';
export * from './backend';
export * from './adapter-hooks';
export * from './gpt2';
export * from './adam';
export * from './train';
export * from './evaluate';
export * from './hf';
export * from './resume-state';
export { registerEngineGradients } from './gradients';
export { installWasmKernelFixes } from './wasm-kernels';
export { constant } from './constants';
export { useFusedAttention, useTiledMatMul } from './webgpu-kernels';
