// Fused WGSL kernels for the webgpu backend. On the GPU a training step is bound by the host cost
// of each op (~40 µs of tfjs + Dawn work per dispatch) and by memory passes over activations, so
// the engine's multi-op pieces run as one kernel each there: LayerNorm (forward, and the input
// gradient in one pass), gelu_new (forward and gradient) and the Adam update (moments and weight).
// The math is the composite's, term for term; scripts/backend-parity.ts checks training on webgpu
// against cpu. Other backends keep the composite ops (wasm's per-op cost is small).
import * as tf from '@tensorflow/tfjs-core';
import { normalizeRows } from './layer-norm';
import type { KernelConfig, KernelFunc, NamedAttrMap, Tensor, TensorInfo } from '@tensorflow/tfjs-core';

/** What a program needs from tfjs-backend-webgpu 4.22's WebGPUBackend. */
interface WebgpuBackendLike {
  /** The buffer behind a tensor: its dtype can differ from the tensor's (a shared int buffer). */
  tensorMap: { get(dataId: object): { dtype: string } | undefined };
  runWebGPUProgram(program: object, inputs: TensorInfo[], dtype: string, uniforms?: Array<{ type: string; data: number[] }>): TensorInfo;
  disposeData(dataId: object): void;
}

const ELEMENTWISE_WG = 128;
const ROW_WG = 256;
const MAX_WORKGROUPS = 65535;

/** One thread per element; `body` sees `index` and writes with setOutputAtIndex. */
function elementwise(key: string, names: string[], shape: number[], body: string, uniforms = ''): object {
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    variableNames: names,
    outputShape: shape,
    shaderKey: key,
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.ceil(size / ELEMENTWISE_WG), 1, 1],
    workgroupSize: [ELEMENTWISE_WG, 1, 1],
    size: true,
    ...(uniforms ? { uniforms } : {}),
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`,
  };
}

// Row reductions over a workgroup: `red` holds one partial per thread.
const ROW_PRELUDE = `
  var<workgroup> red : array<f32, ${ROW_WG}>;
  var<workgroup> red2 : array<f32, ${ROW_WG}>;
  fn rowIndex() -> i32 {
    return i32(workgroupId.z * numWorkgroups.x * numWorkgroups.y + workgroupId.y * numWorkgroups.x + workgroupId.x);
  }
  fn reduce2(a : f32, b : f32, lid : i32) -> vec2<f32> {
    red[lid] = a;
    red2[lid] = b;
    workgroupBarrier();
    for (var k = ${ROW_WG / 2}; k > 0; k = k / 2) {
      if (lid < k) {
        red[lid] = red[lid] + red[lid + k];
        red2[lid] = red2[lid] + red2[lid + k];
      }
      workgroupBarrier();
    }
    let r = vec2<f32>(red[0], red2[0]);
    workgroupBarrier();
    return r;
  }
  fn rowStats(base : i32, d : i32, lid : i32) -> vec2<f32> {
    var s = 0.0;
    for (var j = lid; j < d; j = j + ${ROW_WG}) { s = s + X[base + j]; }
    let mean = reduce2(s, 0.0, lid).x / f32(d);
    var v = 0.0;
    for (var j = lid; j < d; j = j + ${ROW_WG}) { let c = X[base + j] - mean; v = v + c * c; }
    let variance = reduce2(v, 0.0, lid).x / f32(d);
    return vec2<f32>(mean, inverseSqrt(variance + uniforms.eps));
  }`;

/** One workgroup per row of `[rows, d]`. */
function rowwise(key: string, names: string[], shape: number[], body: string): object {
  return {
    variableNames: names,
    outputShape: shape,
    shaderKey: key,
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [shape[0], 1, 1],
    workgroupSize: [ROW_WG, 1, 1],
    uniforms: 'd : i32, eps : f32,',
    getUserCode: () => `
      ${ROW_PRELUDE}
      fn main(index : i32) {
        let row = rowIndex();
        let lid = i32(localId.x);
        let d = uniforms.d;
        let base = row * d;
        let st = rowStats(base, d, lid);
        let mean = st.x;
        let rstd = st.y;
        ${body}
      }`,
  };
}

// gelu_new as the composite computes it: x · sigmoid(c (x + 0.044715 x³)), c = 2 sqrt(2/π).
const GELU_C = 2 * Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

function kernel(
  name: string,
  fn: (inputs: Record<string, TensorInfo>, be: WebgpuBackendLike, attrs: NamedAttrMap) => TensorInfo | TensorInfo[],
): KernelConfig {
  return {
    kernelName: name,
    backendName: 'webgpu',
    kernelFunc: (({ inputs, backend, attrs }: { inputs: Record<string, TensorInfo>; backend: WebgpuBackendLike; attrs: NamedAttrMap }) =>
      fn(inputs, backend, attrs)) as unknown as KernelFunc,
  };
}

const f32 = (v: number) => ({ type: 'float32', data: [v] });
const i32 = (v: number) => ({ type: 'int32', data: [v] });

const KERNELS: KernelConfig[] = [
  kernel('LoraGeluNew', ({ x }, be) =>
    be.runWebGPUProgram(
      elementwise(
        'lora_gelu_new',
        ['X'],
        x.shape,
        `let x = X[index];
         let u = ${GELU_C} * (x + ${GELU_A} * x * x * x);
         setOutputAtIndex(index, x / (1.0 + exp(-u)));`,
      ),
      [x],
      'float32',
    ),
  ),
  kernel('LoraGeluNewGrad', ({ dy, x }, be) =>
    be.runWebGPUProgram(
      elementwise(
        'lora_gelu_new_grad',
        ['DY', 'X'],
        x.shape,
        `let x = X[index];
         let s = 1.0 / (1.0 + exp(-${GELU_C} * (x + ${GELU_A} * x * x * x)));
         setOutputAtIndex(index, DY[index] * (s + x * s * (1.0 - s) * ${GELU_C} * (1.0 + ${3 * GELU_A} * x * x)));`,
      ),
      [dy, x],
      'float32',
    ),
  ),
  kernel('LoraLayerNorm', ({ x, gamma, beta }, be, attrs) => {
    const d = x.shape[1];
    return be.runWebGPUProgram(
      rowwise(
        'lora_layer_norm',
        ['X', 'G', 'B'],
        x.shape,
        `for (var j = lid; j < d; j = j + ${ROW_WG}) {
           setOutputAtIndex(base + j, (X[base + j] - mean) * rstd * G[j] + B[j]);
         }`,
      ),
      [x, gamma, beta],
      'float32',
      [i32(d), f32(attrs.eps as number)],
    );
  }),
  // dx = rstd (g − mean(g) − x̂ mean(g x̂)), g = dy γ, x̂ = (x − mean) rstd: one pass per row.
  kernel('LoraLayerNormGradX', ({ dy, x, gamma }, be, attrs) => {
    const d = x.shape[1];
    return be.runWebGPUProgram(
      rowwise(
        'lora_layer_norm_grad_x',
        ['X', 'DY', 'G'],
        x.shape,
        `var sg = 0.0;
         var sgx = 0.0;
         for (var j = lid; j < d; j = j + ${ROW_WG}) {
           let g = DY[base + j] * G[j];
           sg = sg + g;
           sgx = sgx + g * (X[base + j] - mean) * rstd;
         }
         let sums = reduce2(sg, sgx, lid) / f32(d);
         for (var j = lid; j < d; j = j + ${ROW_WG}) {
           let xh = (X[base + j] - mean) * rstd;
           setOutputAtIndex(base + j, rstd * (DY[base + j] * G[j] - sums.x - xh * sums.y));
         }`,
      ),
      [x, dy, gamma],
      'float32',
      [i32(d), f32(attrs.eps as number)],
    );
  }),
  // Adam in two dispatches: both moments into one [m'; v'] buffer, then the weight. The per-step
  // scalars (lr / c1, 1 / c2, lr) come in a 3-value tensor `h` rather than as uniforms, so every
  // step's dispatches carry the same uniforms (and reuse their bind groups: webgpu-dispatch.ts).
  // w' = w·(1 − lr·s·wd) − (lr/c1)·s · m' / (sqrt(v'/c2) + eps), s = the group's lr scale.
  kernel('LoraAdamUpdate', ({ w, mv, g, h }, be, attrs) => {
    const a = attrs as unknown as { beta1: number; beta2: number; eps: number; lrScale: number; weightDecay: number };
    const n = w.shape.reduce((x, y) => x * y, 1);
    const mvNew = be.runWebGPUProgram(
      elementwise(
        'lora_adam_mv',
        ['MV', 'G'],
        [2 * n],
        `if (index < uniforms.n) {
           setOutputAtIndex(index, uniforms.b1 * MV[index] + (1.0 - uniforms.b1) * G[index]);
         } else {
           let gi = G[index - uniforms.n];
           setOutputAtIndex(index, uniforms.b2 * MV[index] + (1.0 - uniforms.b2) * gi * gi);
         }`,
        'n : i32, b1 : f32, b2 : f32,',
      ),
      [mv, g],
      'float32',
      [i32(n), f32(a.beta1), f32(a.beta2)],
    );
    const wNew = be.runWebGPUProgram(
      elementwise(
        'lora_adam_w',
        ['W', 'MV', 'H'],
        w.shape,
        `let decay = 1.0 - H[2] * uniforms.lrScale * uniforms.wd;
         let step = -H[0] * uniforms.lrScale;
         setOutputAtIndex(index, W[index] * decay + step * MV[index] / (sqrt(MV[index + uniforms.n] * H[1]) + uniforms.eps));`,
        'n : i32, lrScale : f32, wd : f32, eps : f32,',
      ),
      [w, mvNew, h],
      'float32',
      [i32(n), f32(a.lrScale), f32(a.weightDecay), f32(a.eps)],
    );
    return [mvNew, wNew];
  }),
];

// Causal self-attention over the packed projection `qkv [B·T, 3·D]` (q | k | v, heads side by
// side), output `[B·T, D]` with heads merged: the model's split → head transposes → Q·Kᵀ → mask →
// softmax → ·V → merge (11 ops forward, ~14 backward) as one dispatch forward and two backward.
// One workgroup of ATT_WG threads per (query row i, batch·head); T is baked into the shader.
// Backward, as FlashAttention does it: the row pass recomputes row i's softmax p, dP = dO·Vᵀ,
// D = Σ p·dP and dQ = s·Σ dS·K (dS = p (dP − D)); it leaves logsumexp and D in row i's (still
// unused) K slot of its output; the column pass, one workgroup per key row j, recomputes p and dS
// down column j from them and writes dK = s·Σ dS·Q and dV = Σ p·dO, copying dQ through.
const ATT_WG = 64;
/** Two f32 arrays of T per workgroup: 8 KiB at 1,024 (WebGPU guarantees 16 KiB). */
const MAX_ATTENTION_SEQ = 1024;
/** Above this many multiply-adds per layer the composite (tfjs's batched matmuls) is faster. */
const MAX_FUSED_ATTENTION_MACS = 2 ** 27;
const ATT_PRELUDE = `
  var<workgroup> red : array<f32, ${ATT_WG}>;
  fn wgReduce(a : f32, lid : i32, isMax : bool) -> f32 {
    red[lid] = a;
    workgroupBarrier();
    for (var k = ${ATT_WG / 2}; k > 0; k = k / 2) {
      if (lid < k) {
        if (isMax) { red[lid] = max(red[lid], red[lid + k]); } else { red[lid] = red[lid] + red[lid + k]; }
      }
      workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
  }`;

function attentionProgram(key: string, names: string[], outShape: number[], t: number, bh: number, body: string): object {
  return {
    variableNames: names,
    outputShape: outShape,
    shaderKey: `${key}_${t}`,
    dispatchLayout: { x: outShape.map((_, i) => i) },
    dispatch: [t, bh, 1],
    workgroupSize: [ATT_WG, 1, 1],
    uniforms: 't : i32, nh : i32, hd : i32, scale : f32,',
    getUserCode: () => `
      ${ATT_PRELUDE}
      var<workgroup> pa : array<f32, ${t}>;
      var<workgroup> pb : array<f32, ${t}>;
      fn main(index : i32) {
        let r = i32(workgroupId.x);
        let bh = i32(workgroupId.y);
        let b = bh / uniforms.nh;
        let hh = bh % uniforms.nh;
        let lid = i32(localId.x);
        let hd = uniforms.hd;
        let d = uniforms.nh * hd;
        let w3 = 3 * d;
        let t = uniforms.t;
        let row0 = b * t;
        let hoff = hh * hd;
        ${body}
      }`,
  };
}

// Row i's scaled scores q_i·k_j (j ≤ i) into `pa`, and their maximum `m` over the workgroup.
const ROW_SCORES = `var m = -3.0e38;
         for (var j = lid; j <= i; j = j + ${ATT_WG}) {
           let k = (row0 + j) * w3 + d + hoff;
           var s = 0.0;
           for (var c = 0; c < hd; c = c + 1) { s = s + QKV[q + c] * QKV[k + c]; }
           s = s * uniforms.scale;
           pa[j] = s;
           m = max(m, s);
         }
         m = wgReduce(m, lid, true);`;

/** The attention programs' shape, head count and uniforms (t, nh, hd, scale) from the kernel's attrs. */
function attentionDims(qkv: TensorInfo, attrs: NamedAttrMap) {
  const { batch, seq, heads } = attrs as unknown as { batch: number; seq: number; heads: number };
  const d = qkv.shape[1] / 3;
  const hd = d / heads;
  return { batch, seq, heads, d, uniforms: [i32(seq), i32(heads), i32(hd), f32(1 / Math.sqrt(hd))] };
}

const ATTENTION_KERNELS: KernelConfig[] = [
  kernel('LoraCausalAttention', ({ qkv }, be, attrs) => {
    const { batch, seq, heads, d, uniforms } = attentionDims(qkv, attrs);
    return be.runWebGPUProgram(
      attentionProgram(
        'lora_attention',
        ['QKV'],
        [batch * seq, d],
        seq,
        batch * heads,
        `let i = r;
         let q = (row0 + i) * w3 + hoff;
         ${ROW_SCORES}
         var z = 0.0;
         for (var j = lid; j <= i; j = j + ${ATT_WG}) { let e = exp(pa[j] - m); pa[j] = e; z = z + e; }
         z = wgReduce(z, lid, false);
         for (var c = lid; c < hd; c = c + ${ATT_WG}) {
           var acc = 0.0;
           for (var j = 0; j <= i; j = j + 1) { acc = acc + pa[j] * QKV[(row0 + j) * w3 + 2 * d + hoff + c]; }
           setOutputAtIndex((row0 + i) * d + hoff + c, acc / z);
         }`,
      ),
      [qkv],
      'float32',
      uniforms,
    );
  }),
  kernel('LoraCausalAttentionGrad', ({ qkv, dy }, be, attrs) => {
    const { batch, seq, heads, d, uniforms } = attentionDims(qkv, attrs);
    const rows = be.runWebGPUProgram(
      attentionProgram(
        'lora_attention_grad_rows',
        ['QKV', 'DY'],
        [batch * seq, 3 * d],
        seq,
        batch * heads,
        `let i = r;
         let q = (row0 + i) * w3 + hoff;
         let o = (row0 + i) * d + hoff;
         ${ROW_SCORES}
         var z = 0.0;
         for (var j = lid; j <= i; j = j + ${ATT_WG}) { z = z + exp(pa[j] - m); }
         let lse = m + log(wgReduce(z, lid, false));
         var dd = 0.0;
         for (var j = lid; j <= i; j = j + ${ATT_WG}) {
           let v = (row0 + j) * w3 + 2 * d + hoff;
           let p = exp(pa[j] - lse);
           var dp = 0.0;
           for (var c = 0; c < hd; c = c + 1) { dp = dp + DY[o + c] * QKV[v + c]; }
           pa[j] = p;
           pb[j] = dp;
           dd = dd + p * dp;
         }
         dd = wgReduce(dd, lid, false);
         for (var j = lid; j <= i; j = j + ${ATT_WG}) { pb[j] = pa[j] * (pb[j] - dd); }
         workgroupBarrier();
         for (var c = lid; c < hd; c = c + ${ATT_WG}) {
           var acc = 0.0;
           for (var j = 0; j <= i; j = j + 1) { acc = acc + pb[j] * QKV[(row0 + j) * w3 + d + hoff + c]; }
           setOutputAtIndex(q + c, acc * uniforms.scale);
         }
         if (lid == 0) {
           setOutputAtIndex(q + d, lse);
           setOutputAtIndex(q + d + 1, dd);
         }`,
      ),
      [qkv, dy],
      'float32',
      uniforms,
    );
    const out = be.runWebGPUProgram(
      attentionProgram(
        'lora_attention_grad_cols',
        ['QKV', 'DY', 'R'],
        [batch * seq, 3 * d],
        seq,
        batch * heads,
        `let j = r;
         let k = (row0 + j) * w3 + d + hoff;
         let v = k + d;
         for (var i = j + lid; i < t; i = i + ${ATT_WG}) {
           let q = (row0 + i) * w3 + hoff;
           let o = (row0 + i) * d + hoff;
           var s = 0.0;
           var dp = 0.0;
           for (var c = 0; c < hd; c = c + 1) {
             s = s + QKV[q + c] * QKV[k + c];
             dp = dp + DY[o + c] * QKV[v + c];
           }
           let p = exp(s * uniforms.scale - R[q + d]);
           pa[i] = p;
           pb[i] = p * (dp - R[q + d + 1]);
         }
         workgroupBarrier();
         for (var c = lid; c < hd; c = c + ${ATT_WG}) {
           var dk = 0.0;
           var dv = 0.0;
           for (var i = j; i < t; i = i + 1) {
             dk = dk + pb[i] * QKV[(row0 + i) * w3 + hoff + c];
             dv = dv + pa[i] * DY[(row0 + i) * d + hoff + c];
           }
           let jq = (row0 + j) * w3 + hoff + c;
           setOutputAtIndex(jq, R[jq]);
           setOutputAtIndex(jq + d, dk * uniforms.scale);
           setOutputAtIndex(jq + 2 * d, dv);
         }`,
      ),
      [qkv, dy, rows],
      'float32',
      uniforms,
    );
    be.disposeData(rows.dataId);
    return out;
  }),
];

// A plain product `[b, m, k] · [b, k, n]` (no transpose flags, no broadcast) with 128×128 output
// tiles, 256 threads and 8×8 results per thread, k in steps of 16 through workgroup memory. tfjs's
// packed matmul uses 32×32 tiles of 64 threads (4×4 each), ~22 TFLOP/s on an H200 for the
// projections of a d1024 model; the larger tile reads each loaded value four times as often.
const MM_TILE = 128;
const MM_K = 16;

function tiledMatMulProgram(batch: number, m: number, n: number): object {
  const rows = Array.from({ length: 8 }, (_, i) => i);
  const fma = (kk: string) =>
    rows
      .map((i) => {
        const c = 'xyzw'[i % 4];
        const a = i < 4 ? 'a0' : 'a1';
        return `acc[${2 * i}] = fma(vec4<f32>(${a}.${c}), b0, acc[${2 * i}]); acc[${2 * i + 1}] = fma(vec4<f32>(${a}.${c}), b1, acc[${2 * i + 1}]);`;
      })
      .join('\n            ') + ` // ${kk}`;
  return {
    variableNames: ['A', 'B'],
    variableComponents: [4, 4],
    outputComponent: 4,
    outputShape: [batch, m, n],
    shaderKey: 'lora_mm_tiled_128x128x16',
    dispatchLayout: { x: [2], y: [1], z: [0] },
    dispatch: [n / MM_TILE, m / MM_TILE, batch],
    workgroupSize: [16, 16, 1],
    uniforms: 'dimM : i32, dimN : i32, dimK : i32,',
    getUserCode: () => `
      var<workgroup> As : array<vec4<f32>, ${(MM_K * MM_TILE) / 4}>; // [k][m / 4]
      var<workgroup> Bs : array<vec4<f32>, ${(MM_K * MM_TILE) / 4}>; // [k][n / 4]
      fn main() {
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let tid = ty * 16 + tx;
        let M = uniforms.dimM;
        let N = uniforms.dimN;
        let K = uniforms.dimK;
        let batch = i32(workgroupId.z);
        let row0 = i32(workgroupId.y) * ${MM_TILE};
        let col0 = i32(workgroupId.x) * ${MM_TILE};
        let aBase = batch * M * K;
        let bBase = batch * K * N;
        var acc : array<vec4<f32>, 16>;
        // A tile: 128 rows × 16 k = 512 vec4, two per thread; B tile: 16 k × 128 cols, two per thread.
        let ar = tid / 4;
        let ak = (tid % 4) * 4;
        let bk = tid / 32;
        let bn = (tid % 32) * 4;
        for (var k0 = 0; k0 < K; k0 = k0 + ${MM_K}) {
          for (var h = 0; h < 2; h = h + 1) {
            let r = ar + h * 64;
            let av = A[(aBase + (row0 + r) * K + k0 + ak) / 4];
            As[(ak + 0) * 32 + r / 4][r % 4] = av.x;
            As[(ak + 1) * 32 + r / 4][r % 4] = av.y;
            As[(ak + 2) * 32 + r / 4][r % 4] = av.z;
            As[(ak + 3) * 32 + r / 4][r % 4] = av.w;
            let kr = bk + h * 8;
            Bs[kr * 32 + bn / 4] = B[(bBase + (k0 + kr) * N + col0 + bn) / 4];
          }
          workgroupBarrier();
          for (var kk = 0; kk < ${MM_K}; kk = kk + 1) {
            let a0 = As[kk * 32 + ty * 2];
            let a1 = As[kk * 32 + ty * 2 + 1];
            let b0 = Bs[kk * 32 + tx * 2];
            let b1 = Bs[kk * 32 + tx * 2 + 1];
            ${fma('kk')}
          }
          workgroupBarrier();
        }
        let outBase = batch * M * N;
        for (var i = 0; i < 8; i = i + 1) {
          let o = (outBase + (row0 + ty * 8 + i) * N + col0 + tx * 8) / 4;
          result[o] = acc[2 * i];
          result[o + 1] = acc[2 * i + 1];
        }
      }`,
  };
}

interface BatchMatMulArgs {
  inputs: { a: TensorInfo; b: TensorInfo };
  backend: WebgpuBackendLike;
  attrs: { transposeA: boolean; transposeB: boolean };
}

/** Whether the tiled kernel takes this product: float32, no flags, tile-aligned, same batch. */
export function tiledMatMulFits(
  a: { shape: number[]; dtype: string },
  b: { shape: number[]; dtype: string },
  transposeA: boolean,
  transposeB: boolean,
): boolean {
  if (transposeA || transposeB || a.dtype !== 'float32' || b.dtype !== 'float32') return false;
  if (a.shape.length !== b.shape.length || a.shape.length < 2 || a.shape.length > 3) return false;
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  const batch = a.shape.length === 3 ? a.shape[0] : 1;
  if (a.shape.length === 3 && b.shape[0] !== batch) return false;
  return (
    k === k2 && m % MM_TILE === 0 && n % MM_TILE === 0 && k % MM_K === 0 && n / MM_TILE <= MAX_WORKGROUPS && m / MM_TILE <= MAX_WORKGROUPS
  );
}

let tiledMatMulOn = true;

/** Turns the tiled matmul off (tfjs's own kernel for every product) or back on: for comparisons. */
export function useTiledMatMul(on: boolean): void {
  tiledMatMulOn = on;
}

/** Wraps tfjs's BatchMatMul for webgpu: tile-aligned plain products take the tiled kernel. */
function installTiledMatMul(): void {
  const original = tf.getKernel('BatchMatMul', 'webgpu');
  if (!original) return;
  const inner = original.kernelFunc as unknown as (args: BatchMatMulArgs) => TensorInfo;
  const kernelFunc = (args: BatchMatMulArgs): TensorInfo => {
    const { a, b } = args.inputs;
    const { transposeA, transposeB } = args.attrs;
    const be = args.backend;
    const floatBuffers = be.tensorMap.get(a.dataId)?.dtype === 'float32' && be.tensorMap.get(b.dataId)?.dtype === 'float32';
    if (!tiledMatMulOn || !floatBuffers || !tiledMatMulFits(a, b, transposeA, transposeB)) return inner(args);
    const [m, k] = a.shape.slice(-2);
    const n = b.shape[b.shape.length - 1];
    const batch = a.shape.length === 3 ? a.shape[0] : 1;
    const a3 = { ...a, shape: [batch, m, k] };
    const b3 = { ...b, shape: [batch, k, n] };
    const out = args.backend.runWebGPUProgram(tiledMatMulProgram(batch, m, n), [a3, b3], 'float32', [i32(m), i32(n), i32(k)]);
    return { dataId: out.dataId, shape: a.shape.length === 3 ? [batch, m, n] : [m, n], dtype: 'float32' };
  };
  tf.unregisterKernel('BatchMatMul', 'webgpu');
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as KernelFunc });
}

let registered = false;

/** Registers the fused kernels for 'webgpu' and their gradients (idempotent). */
export function registerWebgpuKernels(): void {
  if (registered) return;
  registered = true;
  for (const k of [...KERNELS, ...ATTENTION_KERNELS]) tf.registerKernel(k);
  installTiledMatMul();
  registerFusedGradients();
}

let gradientsRegistered = false;

/**
 * The gradients of the fused ops, by kernel name (so for every backend that registers the
 * kernels: webgpu here, wasm in wasm-fused.ts). Idempotent.
 */
export function registerFusedGradients(): void {
  if (gradientsRegistered) return;
  gradientsRegistered = true;
  tf.registerGradient({
    kernelName: 'LoraGeluNew',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => tf.engine().runKernel('LoraGeluNewGrad', { dy: dy as Tensor, x }) as Tensor }),
  });
  tf.registerGradient({
    kernelName: 'LoraCausalAttention',
    inputsToSave: ['qkv'],
    gradFunc: (dy, [qkv], attrs) => ({
      qkv: () => tf.engine().runKernel('LoraCausalAttentionGrad', { qkv, dy: dy as Tensor }, attrs) as Tensor,
    }),
  });
  tf.registerGradient({
    kernelName: 'LoraLayerNorm',
    inputsToSave: ['x', 'gamma'],
    gradFunc: (d, [x, gamma], attrs) => {
      const dy = d as Tensor;
      // γ and β gradients (pretraining only: LoRA freezes them) from the normalised input.
      const xhat = () => normalizeRows(x, attrs.eps as number);
      return {
        x: () => tf.engine().runKernel('LoraLayerNormGradX', { dy, x, gamma }, attrs) as Tensor,
        gamma: () => tf.sum(tf.mul(dy, xhat()), 0),
        beta: () => tf.sum(dy, 0),
      };
    },
  });
}

/** Whether the fused kernels serve the current backend (webgpu, row counts within one dispatch). */
export function fusedKernelsActive(rows = 0): boolean {
  return registered && tf.getBackend() === 'webgpu' && rows <= MAX_WORKGROUPS;
}

export function fusedLayerNorm(x: tf.Tensor2D, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor2D {
  return tf.engine().runKernel('LoraLayerNorm', { x, gamma, beta }, { eps }) as tf.Tensor2D;
}

let fusedAttentionOn = true;

/** Turns the fused attention off (the composite ops run) or back on: for comparisons. */
export function useFusedAttention(on: boolean): void {
  fusedAttentionOn = on;
}

/**
 * Whether causal attention over `[B·T, 3·D]` runs as the fused kernels: on webgpu, T within
 * workgroup memory, and small enough work. The kernels trade ~25 dispatches per layer (~1 ms of
 * host time) for GPU time: one thread per key or channel, ~90 GMAC/s on an H200, so they pay
 * while B·H·T²·hd stays near 10⁸ MACs per layer (d256, T 128, B 8: 3.4·10⁷, step 20 → 17 ms) and
 * lose well above it (d1024, T 256, B 16: 1.1·10⁹, step 90 → 174 ms). bench/engine-vs-torch
 * --fused-attention on|off measures both.
 */
export function fusedAttentionActive(batch: number, seq: number, heads: number, headDim: number): boolean {
  return (
    fusedAttentionOn &&
    fusedKernelsActive() &&
    seq <= MAX_ATTENTION_SEQ &&
    batch * heads <= MAX_WORKGROUPS &&
    batch * heads * seq * seq * headDim <= MAX_FUSED_ATTENTION_MACS
  );
}

/** Causal multi-head attention of the packed projection `qkv [B·T, 3·D]`: `[B·T, D]`, heads merged. */
export function fusedCausalAttention(qkv: tf.Tensor2D, batch: number, seq: number, heads: number): tf.Tensor2D {
  return tf.engine().runKernel('LoraCausalAttention', { qkv }, { batch, seq, heads }) as tf.Tensor2D;
}

export function fusedGeluNew(x: tf.Tensor2D): tf.Tensor2D {
  return tf.engine().runKernel('LoraGeluNew', { x }) as tf.Tensor2D;
}

export interface AdamUpdateAttrs {
  beta1: number;
  beta2: number;
  eps: number;
  /** The parameter group's learning-rate scale. */
  lrScale: number;
  /** Decoupled weight decay (0: plain Adam). */
  weightDecay: number;
}

/**
 * [mv', w'] of one Adam step (no gradient: used outside differentiation). `mv`: both moments,
 * flat `[2·size]` (m then v); `h`: `[lr / c1, 1 / c2, lr]` of this step.
 */
export function fusedAdamUpdate(w: tf.Tensor, mv: tf.Tensor, g: tf.Tensor, h: tf.Tensor, attrs: AdamUpdateAttrs): [tf.Tensor, tf.Tensor] {
  return tf.engine().runKernel('LoraAdamUpdate', { w, mv, g, h }, attrs as unknown as NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor];
}
