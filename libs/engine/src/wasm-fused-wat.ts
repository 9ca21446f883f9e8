// The WebAssembly text of the fused row and element kernels for the wasm backend, the same
// functions as the webgpu ones in webgpu-kernels.ts (one pass over memory instead of ~7 tfjs ops
// forward and ~15 backward each):
//   layerNorm(x, g, b, y, rows, d, eps)          y = (x − mean) · rstd · g + b, per row
//   layerNormGradX(x, dy, g, dx, rows, d, eps)   dx = rstd (γdy − mean(γdy) − x̂ mean(γdy x̂))
//   geluNew(x, y, n)                             y = x · σ(c (x + a x³)), c = 2 √(2/π), a = 0.044715
//   geluNewGrad(x, dy, dx, n)                    dx = dy (s + x s (1 − s) c (1 + 3a x²)), s = σ(…)
// Byte offsets; rows of d floats with d a multiple of 4; n a multiple of 4.
// σ(z) = 1 / (1 + e^(−z)) with e^v from v = n ln2 + r (Cody–Waite split of ln2, |r| ≤ ln2/2) and
// a degree-6 polynomial for e^r (relative error ~2e-7 over the clamped range [−87, 87]).

import { assembleWat } from './wasm-assemble';

export const GELU_C = 2 * Math.sqrt(2 / Math.PI);
export const GELU_A = 0.044715;

const f4 = (v: number): string => `(f32x4.splat (f32.const ${v}))`;

// e^v for v in a v128 local $v (clobbers $r $t $n). The rounding of v·log2(e) to an integer and
// its conversion use the 1.5·2^23 trick (adding it leaves the integer in the low mantissa bits)
// rather than f32x4.nearest and i32x4.trunc_sat_f32x4_s, and the clamp uses pmin/pmax (plain
// minps/maxps): V8 expands the IEEE-exact forms into several instructions each on x86.
const MAGIC = 12582912; // 1.5 · 2^23, bits 0x4b400000
const EXP = `
    (local.set $v (f32x4.pmax (f32x4.pmin (local.get $v) ${f4(87)}) ${f4(-87)}))
    (local.set $n (f32x4.add (f32x4.mul (local.get $v) ${f4(Math.LOG2E)}) ${f4(MAGIC)}))
    (local.set $t (f32x4.sub (local.get $n) ${f4(MAGIC)}))
    (local.set $r (f32x4.sub (f32x4.sub (local.get $v) (f32x4.mul (local.get $t) ${f4(0.693145751953125)})) (f32x4.mul (local.get $t) ${f4(1.428606765330187e-6)})))
    (local.set $n (i32x4.shl (i32x4.add (i32x4.sub (local.get $n) (i32x4.splat (i32.const 0x4b400000))) (i32x4.splat (i32.const 127))) (i32.const 23)))
    (local.set $t ${f4(1 / 720)})
    ${[1 / 120, 1 / 24, 1 / 6, 0.5, 1, 1].map((c) => `(local.set $t (f32x4.add (f32x4.mul (local.get $t) (local.get $r)) ${f4(c)}))`).join('\n    ')}
    (local.set $v (f32x4.mul (local.get $t) (local.get $n)))`;

// s = σ(c (x + a x³)) for x in $x, into $s.
const SIGMOID = `
    (local.set $v (f32x4.mul (f32x4.mul (f32x4.add (local.get $x) (f32x4.mul ${f4(GELU_A)} (f32x4.mul (local.get $x) (f32x4.mul (local.get $x) (local.get $x))))) ${f4(GELU_C)}) ${f4(-1)}))
    ${EXP}
    (local.set $s (f32x4.div ${f4(1)} (f32x4.add ${f4(1)} (local.get $v))))`;

const ELEMENT_LOCALS = '(local $end i32) (local $x v128) (local $s v128) (local $v v128) (local $t v128) (local $r v128) (local $n v128)';

// Row statistics of row `base` into $mean and $rstd (clobbers $j $acc $c).
const ROW_STATS = `
    (local.set $acc (v128.const f32x4 0 0 0 0))
    (local.set $j (i32.const 0))
    (block $e1 (loop $l1 (br_if $e1 (i32.ge_u (local.get $j) (local.get $rowBytes)))
      (local.set $acc (f32x4.add (local.get $acc) (v128.load (i32.add (local.get $xr) (local.get $j)))))
      (local.set $j (i32.add (local.get $j) (i32.const 16))) (br $l1)))
    (local.set $mean (f32.div (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
      (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))) (local.get $df)))
    (local.set $acc (v128.const f32x4 0 0 0 0))
    (local.set $j (i32.const 0))
    (block $e2 (loop $l2 (br_if $e2 (i32.ge_u (local.get $j) (local.get $rowBytes)))
      (local.set $c (f32x4.sub (v128.load (i32.add (local.get $xr) (local.get $j))) (f32x4.splat (local.get $mean))))
      (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $c) (local.get $c))))
      (local.set $j (i32.add (local.get $j) (i32.const 16))) (br $l2)))
    (local.set $rstd (f32.div (f32.const 1) (f32.sqrt (f32.add (local.get $eps) (f32.div (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
      (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))) (local.get $df))))))`;

const ROW_LOCALS =
  '(local $row i32) (local $rowBytes i32) (local $xr i32) (local $j i32) (local $df f32) (local $mean f32) (local $rstd f32) (local $acc v128) (local $acc2 v128) (local $c v128) (local $h v128) (local $gg v128)';

export function fusedWat(shared: boolean): string {
  const memory = shared ? '(import "env" "memory" (memory 1 65536 shared))' : '(import "env" "memory" (memory 1))';
  return `(module ${memory}
(func (export "layerNorm") (param $x i32) (param $g i32) (param $b i32) (param $y i32) (param $rows i32) (param $d i32) (param $eps f32)
  ${ROW_LOCALS}
  (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
  (local.set $df (f32.convert_i32_u (local.get $d)))
  (block $e0 (loop $l0 (br_if $e0 (i32.ge_u (local.get $row) (local.get $rows)))
    (local.set $xr (i32.add (local.get $x) (i32.mul (local.get $row) (local.get $rowBytes))))
    ${ROW_STATS}
    (local.set $j (i32.const 0))
    (block $e3 (loop $l3 (br_if $e3 (i32.ge_u (local.get $j) (local.get $rowBytes)))
      (v128.store (i32.add (i32.add (local.get $y) (i32.mul (local.get $row) (local.get $rowBytes))) (local.get $j))
        (f32x4.add (f32x4.mul (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $xr) (local.get $j))) (f32x4.splat (local.get $mean))) (f32x4.splat (local.get $rstd)))
          (v128.load (i32.add (local.get $g) (local.get $j)))) (v128.load (i32.add (local.get $b) (local.get $j)))))
      (local.set $j (i32.add (local.get $j) (i32.const 16))) (br $l3)))
    (local.set $row (i32.add (local.get $row) (i32.const 1))) (br $l0))))
(func (export "layerNormGradX") (param $x i32) (param $dy i32) (param $g i32) (param $dx i32) (param $rows i32) (param $d i32) (param $eps f32)
  ${ROW_LOCALS} (local $dyr i32) (local $sg f32) (local $sgx f32)
  (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
  (local.set $df (f32.convert_i32_u (local.get $d)))
  (block $e0 (loop $l0 (br_if $e0 (i32.ge_u (local.get $row) (local.get $rows)))
    (local.set $xr (i32.add (local.get $x) (i32.mul (local.get $row) (local.get $rowBytes))))
    (local.set $dyr (i32.add (local.get $dy) (i32.mul (local.get $row) (local.get $rowBytes))))
    ${ROW_STATS}
    (local.set $acc (v128.const f32x4 0 0 0 0))
    (local.set $acc2 (v128.const f32x4 0 0 0 0))
    (local.set $j (i32.const 0))
    (block $e3 (loop $l3 (br_if $e3 (i32.ge_u (local.get $j) (local.get $rowBytes)))
      (local.set $gg (f32x4.mul (v128.load (i32.add (local.get $dyr) (local.get $j))) (v128.load (i32.add (local.get $g) (local.get $j)))))
      (local.set $h (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $xr) (local.get $j))) (f32x4.splat (local.get $mean))) (f32x4.splat (local.get $rstd))))
      (local.set $acc (f32x4.add (local.get $acc) (local.get $gg)))
      (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (local.get $gg) (local.get $h))))
      (local.set $j (i32.add (local.get $j) (i32.const 16))) (br $l3)))
    (local.set $sg (f32.div (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
      (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))) (local.get $df)))
    (local.set $sgx (f32.div (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc2)) (f32x4.extract_lane 1 (local.get $acc2)))
      (f32.add (f32x4.extract_lane 2 (local.get $acc2)) (f32x4.extract_lane 3 (local.get $acc2)))) (local.get $df)))
    (local.set $j (i32.const 0))
    (block $e4 (loop $l4 (br_if $e4 (i32.ge_u (local.get $j) (local.get $rowBytes)))
      (local.set $gg (f32x4.mul (v128.load (i32.add (local.get $dyr) (local.get $j))) (v128.load (i32.add (local.get $g) (local.get $j)))))
      (local.set $h (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $xr) (local.get $j))) (f32x4.splat (local.get $mean))) (f32x4.splat (local.get $rstd))))
      (v128.store (i32.add (i32.add (local.get $dx) (i32.mul (local.get $row) (local.get $rowBytes))) (local.get $j))
        (f32x4.mul (f32x4.splat (local.get $rstd))
          (f32x4.sub (f32x4.sub (local.get $gg) (f32x4.splat (local.get $sg))) (f32x4.mul (local.get $h) (f32x4.splat (local.get $sgx))))))
      (local.set $j (i32.add (local.get $j) (i32.const 16))) (br $l4)))
    (local.set $row (i32.add (local.get $row) (i32.const 1))) (br $l0))))
(func (export "geluNew") (param $px i32) (param $py i32) (param $count i32)
  ${ELEMENT_LOCALS}
  (local.set $end (i32.add (local.get $px) (i32.shl (local.get $count) (i32.const 2))))
  (block $e0 (loop $l0 (br_if $e0 (i32.ge_u (local.get $px) (local.get $end)))
    (local.set $x (v128.load (local.get $px)))
    ${SIGMOID}
    (v128.store (local.get $py) (f32x4.mul (local.get $x) (local.get $s)))
    (local.set $px (i32.add (local.get $px) (i32.const 16)))
    (local.set $py (i32.add (local.get $py) (i32.const 16))) (br $l0))))
(func (export "geluNewGrad") (param $px i32) (param $pdy i32) (param $pdx i32) (param $count i32)
  ${ELEMENT_LOCALS}
  (local.set $end (i32.add (local.get $px) (i32.shl (local.get $count) (i32.const 2))))
  (block $e0 (loop $l0 (br_if $e0 (i32.ge_u (local.get $px) (local.get $end)))
    (local.set $x (v128.load (local.get $px)))
    ${SIGMOID}
    ;; s + x s (1 − s) c (1 + 3a x²)
    (local.set $v (f32x4.add (local.get $s) (f32x4.mul (f32x4.mul (f32x4.mul (local.get $x) (local.get $s)) (f32x4.sub ${f4(1)} (local.get $s)))
      (f32x4.mul ${f4(GELU_C)} (f32x4.add ${f4(1)} (f32x4.mul ${f4(3 * GELU_A)} (f32x4.mul (local.get $x) (local.get $x))))))))
    (v128.store (local.get $pdx) (f32x4.mul (v128.load (local.get $pdy)) (local.get $v)))
    (local.set $px (i32.add (local.get $px) (i32.const 16)))
    (local.set $pdy (i32.add (local.get $pdy) (i32.const 16)))
    (local.set $pdx (i32.add (local.get $pdx) (i32.const 16))) (br $l0))))
)`;
}

export interface FusedExports {
  layerNorm(x: number, g: number, b: number, y: number, rows: number, d: number, eps: number): void;
  layerNormGradX(x: number, dy: number, g: number, dx: number, rows: number, d: number, eps: number): void;
  geluNew(x: number, y: number, n: number): void;
  geluNewGrad(x: number, dy: number, dx: number, n: number): void;
}

const compiled = new Map<boolean, Promise<WebAssembly.Module>>();

/** The compiled module for a shared (threaded build) or plain memory, once per thread. */
export function fusedModule(shared: boolean): Promise<WebAssembly.Module> {
  let m = compiled.get(shared);
  if (m === undefined) {
    m = assembleWat('fused.wat', fusedWat(shared), { simd: true, threads: shared }).then((bytes) => new WebAssembly.Module(bytes));
    compiled.set(shared, m);
  }
  return m;
}
