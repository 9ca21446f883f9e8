// The WebAssembly text of our f32 GEMM for the wasm backend: C[m,n] = A[m,k] · B[k,n] with both
// operands packed first, so any strides (and so both transpose flags) cost nothing extra:
//   packA: panels of MR rows, each [k][MR];  packB: panels of 8 columns, each [k][8];
//   both zero-padded to whole panels.
// The micro-kernel keeps an MR x 8 block of C in 2·MR SIMD registers and, per step of k, loads
// one packed row of B (two v128), splats MR values of A and issues 2·MR multiply-adds. With
// `fma` they are relaxed SIMD's f32x4.relaxed_madd (one fused instruction on x86 with FMA3),
// without it f32x4.mul + f32x4.add. MR = 4 keeps 8 accumulators + 3 operands inside x86-64's 16
// vector registers (V8 spills at MR = 6: measured 24 against 33 GFLOP/s on the device's Xeon).
// Partial column panels are written through a 32-byte scratch block (`tmp`).

export interface GemmWatOptions {
  /** Rows of C per micro-kernel call. */
  mr: number;
  /** Use f32x4.relaxed_madd (needs relaxed SIMD). */
  fma: boolean;
  /** Import the memory as shared (tfjs's threaded build). */
  shared: boolean;
}

export const GEMM_NR = 8;

// `packed`: A comes packed (row r of the block at pa + 4r, next step + 4·MR); otherwise A is read
// in place, row r at pa + r·ai, next step + ap. B's rows are sb bytes apart (32 packed, n·4 in place).
function microKernel(mr: number, fma: boolean, packed: boolean): string {
  const l: string[] = [];
  l.push(
    `(func $mk${packed ? 'p' : 's'} (param $pa i32) (param $ai i32) (param $ap i32) (param $pb i32) (param $sb i32) (param $k i32) (param $c i32) (param $ldc i32) (param $rows i32) (param $nc i32) (param $tmp i32)`,
  );
  for (let r = 0; r < mr; r++) l.push(`  (local $x${r}0 v128) (local $x${r}1 v128) (local $a${r} i32)`);
  l.push('  (local $b0 v128) (local $b1 v128) (local $s v128) (local $cr i32) (local $j i32)');
  // In place, rows past the last (rows < MR) re-read row 0: nothing outside A is touched.
  if (!packed) {
    for (let r = 0; r < mr; r++) {
      l.push(
        `  (local.set $a${r} (select (i32.add (local.get $pa) (i32.mul (local.get $ai) (i32.const ${r}))) (local.get $pa) (i32.gt_u (local.get $rows) (i32.const ${r}))))`,
      );
    }
  }
  l.push('  (block $done (loop $step');
  l.push('    (br_if $done (i32.eqz (local.get $k)))');
  l.push('    (local.set $b0 (v128.load (local.get $pb)))');
  l.push('    (local.set $b1 (v128.load offset=16 (local.get $pb)))');
  for (let r = 0; r < mr; r++) {
    l.push(
      packed
        ? `    (local.set $s (v128.load32_splat offset=${4 * r} (local.get $pa)))`
        : `    (local.set $s (v128.load32_splat (local.get $a${r})))`,
    );
    for (const h of [0, 1]) {
      const x = `$x${r}${h}`;
      l.push(
        fma
          ? `    (local.set ${x} (f32x4.relaxed_madd (local.get $s) (local.get $b${h}) (local.get ${x})))`
          : `    (local.set ${x} (f32x4.add (f32x4.mul (local.get $s) (local.get $b${h})) (local.get ${x})))`,
      );
    }
    if (!packed) l.push(`    (local.set $a${r} (i32.add (local.get $a${r}) (local.get $ap)))`);
  }
  if (packed) l.push(`    (local.set $pa (i32.add (local.get $pa) (i32.const ${4 * mr})))`);
  l.push('    (local.set $pb (i32.add (local.get $pb) (local.get $sb)))');
  l.push('    (local.set $k (i32.sub (local.get $k) (i32.const 1)))');
  l.push('    (br $step)))');
  for (let r = 0; r < mr; r++) {
    l.push(`  (if (i32.gt_u (local.get $rows) (i32.const ${r})) (then`);
    l.push(`    (local.set $cr (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const ${r}))))`);
    l.push('    (if (i32.eq (local.get $nc) (i32.const 8)) (then');
    l.push(`      (v128.store (local.get $cr) (local.get $x${r}0))`);
    l.push(`      (v128.store offset=16 (local.get $cr) (local.get $x${r}1)))`);
    l.push('    (else');
    l.push(`      (v128.store (local.get $tmp) (local.get $x${r}0))`);
    l.push(`      (v128.store offset=16 (local.get $tmp) (local.get $x${r}1))`);
    l.push('      (local.set $j (i32.const 0))');
    l.push('      (block $e (loop $l (br_if $e (i32.ge_u (local.get $j) (local.get $nc)))');
    l.push('        (f32.store (i32.add (local.get $cr) (i32.shl (local.get $j) (i32.const 2)))');
    l.push('          (f32.load (i32.add (local.get $tmp) (i32.shl (local.get $j) (i32.const 2)))))');
    l.push('        (local.set $j (i32.add (local.get $j) (i32.const 1))) (br $l)))))))');
  }
  l.push(')');
  return l.join('\n');
}

// Packs `len` items along the wide axis (rows of A, columns of B) into panels of `w`:
// item (i, p), i < len, p < k, read at src + i*si + p*sp bytes, lands at
// dst + (i/w)*k*w*4 + p*w*4 + (i%w)*4. Whole panels with unit stride along i are vector copies.
function packer(name: string, w: number): string {
  const vec: string[] = [];
  for (let v = 0; v < Math.floor(w / 4); v++) {
    vec.push(`(v128.store offset=${16 * v} (local.get $dst) (v128.load offset=${16 * v} (local.get $row)))`);
  }
  return `(func (export "${name}") (param $src i32) (param $si i32) (param $sp i32) (param $len i32) (param $k i32) (param $dst i32)
  (local $i0 i32) (local $p i32) (local $q i32) (local $i i32) (local $row i32)
  (block $e0 (loop $l0 (br_if $e0 (i32.ge_u (local.get $i0) (local.get $len)))
    (if (i32.and (i32.eq (local.get $si) (i32.const 4)) (i32.le_u (i32.add (local.get $i0) (i32.const ${w})) (local.get $len))) (then
      (local.set $row (i32.add (local.get $src) (i32.shl (local.get $i0) (i32.const 2))))
      (local.set $p (i32.const 0))
      (block $e1 (loop $l1 (br_if $e1 (i32.ge_u (local.get $p) (local.get $k)))
        ${vec.join(' ')}
        (local.set $dst (i32.add (local.get $dst) (i32.const ${4 * w})))
        (local.set $row (i32.add (local.get $row) (local.get $sp)))
        (local.set $p (i32.add (local.get $p) (i32.const 1))) (br $l1))))
    (else
      (local.set $p (i32.const 0))
      (block $e2 (loop $l2 (br_if $e2 (i32.ge_u (local.get $p) (local.get $k)))
        (local.set $row (i32.add (local.get $src) (i32.mul (local.get $p) (local.get $sp))))
        (local.set $q (i32.const 0))
        (block $e3 (loop $l3 (br_if $e3 (i32.ge_u (local.get $q) (i32.const ${w})))
          (local.set $i (i32.add (local.get $i0) (local.get $q)))
          (f32.store (local.get $dst)
            (if (result f32) (i32.lt_u (local.get $i) (local.get $len))
              (then (f32.load (i32.add (local.get $row) (i32.mul (local.get $i) (local.get $si)))))
              (else (f32.const 0))))
          (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
          (local.set $q (i32.add (local.get $q) (i32.const 1))) (br $l3)))
        (local.set $p (i32.add (local.get $p) (i32.const 1))) (br $l2)))))
    (local.set $i0 (i32.add (local.get $i0) (i32.const ${w}))) (br $l0))))`;
}

/** The module: imports env.memory, exports packA, packB and gemm. */
export function gemmWat({ mr, fma, shared }: GemmWatOptions): string {
  if (mr !== 4 && mr !== 8) throw new Error(`gemm: mr must be 4 or 8, got ${mr}`);
  const memory = shared ? '(import "env" "memory" (memory 1 65536 shared))' : '(import "env" "memory" (memory 1))';
  return `(module ${memory}
${microKernel(mr, fma, true)}
${microKernel(mr, fma, false)}
${packer('packA', mr)}
${packer('packB', GEMM_NR)}
;; C rows of A's row blocks [q0, q1) (MR rows each) times B's column panels (8 columns each)
;; for the n columns from pb; C row i at c + i*ldc bytes. A packed (apk != 0): block q at
;; pa + q*MR*k*4; in place: at pa + q*MR*ai, rows ai apart, steps ap apart. B panel j0/8 at
;; pb + j0*bcol, rows sb apart.
(func (export "gemm") (param $pa i32) (param $ai i32) (param $ap i32) (param $apk i32)
    (param $pb i32) (param $sb i32) (param $bcol i32) (param $c i32) (param $ldc i32)
    (param $m i32) (param $n i32) (param $k i32) (param $q0 i32) (param $q1 i32) (param $tmp i32)
  (local $j0 i32) (local $q i32) (local $nc i32) (local $bp i32) (local $i i32) (local $cp i32)
  (block $e0 (loop $l0 (br_if $e0 (i32.ge_u (local.get $j0) (local.get $n)))
    (local.set $nc (select (i32.const 8) (i32.sub (local.get $n) (local.get $j0)) (i32.le_u (i32.add (local.get $j0) (i32.const 8)) (local.get $n))))
    (local.set $bp (i32.add (local.get $pb) (i32.mul (local.get $j0) (local.get $bcol))))
    (local.set $q (local.get $q0))
    (block $e1 (loop $l1 (br_if $e1 (i32.ge_u (local.get $q) (local.get $q1)))
      (local.set $i (i32.mul (local.get $q) (i32.const ${mr})))
      (local.set $cp (i32.add (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldc))) (i32.shl (local.get $j0) (i32.const 2))))
      (if (local.get $apk)
        (then (call $mkp (i32.add (local.get $pa) (i32.mul (local.get $i) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 4) (i32.const ${4 * mr})
          (local.get $bp) (local.get $sb) (local.get $k) (local.get $cp) (local.get $ldc) (i32.sub (local.get $m) (local.get $i)) (local.get $nc) (local.get $tmp)))
        (else (call $mks (i32.add (local.get $pa) (i32.mul (local.get $i) (local.get $ai))) (local.get $ai) (local.get $ap)
          (local.get $bp) (local.get $sb) (local.get $k) (local.get $cp) (local.get $ldc) (i32.sub (local.get $m) (local.get $i)) (local.get $nc) (local.get $tmp))))
      (local.set $q (i32.add (local.get $q) (i32.const 1))) (br $l1)))
    (local.set $j0 (i32.add (local.get $j0) (i32.const 8))) (br $l0))))
)`;
}
