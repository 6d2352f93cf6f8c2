;; Kernels the wasm backend runs in JavaScript otherwise, as WebAssembly SIMD (128-bit) working
;; directly on the backend's memory (imported). Assembled by tools/build-wasm.ts into
;; simd-kernels.wasm.ts (base64); a test checks that the two agree. Pointers are byte offsets.
;;
;; The same text is assembled twice: with "(memory 1)" for the backend's ordinary build and with
;; "(memory 1 65536 shared)" for its multi-threaded build, whose memory is shared.
(module
  (import "env" "memory" (memory 1))

  ;; maxPool2x2Grad: the gradient of a 2×2, stride-2, unpadded max pool over NHWC input x
  ;; [b, h, w, c] (c a multiple of 4): dy [b, oh, ow, c] goes to the first maximum of each window
  ;; in row-major window order, starting from −∞ (NaN and −∞ are never a maximum; a window with
  ;; no maximum gets no gradient) — the cpu backend's rule. Every element of every window is
  ;; written (dy or 0); rows and columns past the windows (odd h or w) are not touched.
  (func (export "maxPool2x2Grad")
    (param $x i32) (param $dy i32) (param $dx i32)
    (param $b i32) (param $h i32) (param $w i32) (param $c i32) (param $oh i32) (param $ow i32)
    (local $cB i32) (local $rowB i32) (local $n i32) (local $oy i32) (local $ox i32) (local $k i32)
    (local $i0 i32) (local $d i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $best v128) (local $at v128) (local $s v128) (local $g v128)
    (local.set $cB (i32.shl (local.get $c) (i32.const 2)))                 ;; bytes per pixel
    (local.set $rowB (i32.mul (local.get $w) (local.get $cB)))             ;; bytes per input row
    (local.set $d (local.get $dy))
    (local.set $n (i32.const 0))
    (block $doneN (loop $loopN
      (br_if $doneN (i32.ge_u (local.get $n) (local.get $b)))
      (local.set $oy (i32.const 0))
      (block $doneY (loop $loopY
        (br_if $doneY (i32.ge_u (local.get $oy) (local.get $oh)))
        (local.set $ox (i32.const 0))
        (block $doneX (loop $loopX
          (br_if $doneX (i32.ge_u (local.get $ox) (local.get $ow)))
          ;; byte offset of the window's top-left pixel: ((n·h + 2·oy)·w + 2·ox)·c·4
          (local.set $i0 (i32.add
            (i32.mul (i32.add (i32.mul (local.get $n) (local.get $h)) (i32.shl (local.get $oy) (i32.const 1))) (local.get $rowB))
            (i32.mul (i32.shl (local.get $ox) (i32.const 1)) (local.get $cB))))
          (local.set $k (i32.const 0))
          (block $doneK (loop $loopK
            (br_if $doneK (i32.ge_u (local.get $k) (local.get $cB)))
            (local.set $v0 (v128.load (i32.add (local.get $x) (i32.add (local.get $i0) (local.get $k)))))
            (local.set $v1 (v128.load (i32.add (local.get $x) (i32.add (i32.add (local.get $i0) (local.get $cB)) (local.get $k)))))
            (local.set $v2 (v128.load (i32.add (local.get $x) (i32.add (i32.add (local.get $i0) (local.get $rowB)) (local.get $k)))))
            (local.set $v3 (v128.load (i32.add (local.get $x)
              (i32.add (i32.add (i32.add (local.get $i0) (local.get $rowB)) (local.get $cB)) (local.get $k)))))
            ;; best starts at −∞ and at (the window index of the maximum) at −1
            (local.set $best (f32x4.splat (f32.const -inf)))
            (local.set $at (i32x4.splat (i32.const -1)))
            (local.set $s (f32x4.gt (local.get $v0) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $v0) (local.get $best) (local.get $s)))
            (local.set $at (v128.bitselect (i32x4.splat (i32.const 0)) (local.get $at) (local.get $s)))
            (local.set $s (f32x4.gt (local.get $v1) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $v1) (local.get $best) (local.get $s)))
            (local.set $at (v128.bitselect (i32x4.splat (i32.const 1)) (local.get $at) (local.get $s)))
            (local.set $s (f32x4.gt (local.get $v2) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $v2) (local.get $best) (local.get $s)))
            (local.set $at (v128.bitselect (i32x4.splat (i32.const 2)) (local.get $at) (local.get $s)))
            (local.set $s (f32x4.gt (local.get $v3) (local.get $best)))
            (local.set $at (v128.bitselect (i32x4.splat (i32.const 3)) (local.get $at) (local.get $s)))
            (local.set $g (v128.load (local.get $d)))
            ;; each element of the window: dy where it is the maximum, +0 elsewhere
            (v128.store (i32.add (local.get $dx) (i32.add (local.get $i0) (local.get $k)))
              (v128.and (local.get $g) (i32x4.eq (local.get $at) (i32x4.splat (i32.const 0)))))
            (v128.store (i32.add (local.get $dx) (i32.add (i32.add (local.get $i0) (local.get $cB)) (local.get $k)))
              (v128.and (local.get $g) (i32x4.eq (local.get $at) (i32x4.splat (i32.const 1)))))
            (v128.store (i32.add (local.get $dx) (i32.add (i32.add (local.get $i0) (local.get $rowB)) (local.get $k)))
              (v128.and (local.get $g) (i32x4.eq (local.get $at) (i32x4.splat (i32.const 2)))))
            (v128.store (i32.add (local.get $dx)
              (i32.add (i32.add (i32.add (local.get $i0) (local.get $rowB)) (local.get $cB)) (local.get $k)))
              (v128.and (local.get $g) (i32x4.eq (local.get $at) (i32x4.splat (i32.const 3)))))
            (local.set $d (i32.add (local.get $d) (i32.const 16)))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $loopK)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $loopX)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $loopY)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $loopN)))
  )
)
