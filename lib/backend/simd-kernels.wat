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

  ;; convFilterGrad: the filter gradient of a convolution,
  ;; dw [fh, fw, ci, co] = Σ over b, i, j of x[b, i·sh + p − top, j·sw + q − left, c] · dy[b, i, j, :]
  ;; (zero outside x), for x [b, h, w, ci], dy [b, oh, ow, co], co a multiple of 4. Row by row of
  ;; dy (which stays in cache across the fh·fw·ci taps), each tap and input channel accumulating
  ;; 16 output channels at a time in registers along the row, then 4 at a time for the rest; dw
  ;; is zeroed first.
  (func (export "convFilterGrad")
    (param $x i32) (param $dy i32) (param $dw i32)
    (param $b i32) (param $h i32) (param $w i32) (param $ci i32) (param $oh i32) (param $ow i32) (param $co i32)
    (param $fh i32) (param $fw i32) (param $sh i32) (param $sw i32) (param $top i32) (param $left i32)
    (local $coB i32) (local $n i32) (local $i i32) (local $p i32) (local $q i32) (local $y i32)
    (local $j0 i32) (local $j1 i32) (local $a i32) (local $cb i32) (local $end i32)
    (local $xRow i32) (local $dyRow i32) (local $tap i32) (local $xp i32) (local $dp i32) (local $xEnd i32)
    (local $xStep i32) (local $c i32) (local $xs v128) (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local.set $coB (i32.shl (local.get $co) (i32.const 2)))              ;; bytes per dy pixel
    (local.set $xStep (i32.shl (i32.mul (local.get $sw) (local.get $ci)) (i32.const 2))) ;; bytes between x reads
    ;; dw = 0
    (local.set $a (local.get $dw))
    (local.set $end (i32.add (local.get $dw) (i32.mul (i32.mul (i32.mul (local.get $fh) (local.get $fw)) (local.get $ci)) (local.get $coB))))
    (block $zeroed (loop $zero
      (br_if $zeroed (i32.ge_u (local.get $a) (local.get $end)))
      (v128.store (local.get $a) (v128.const i32x4 0 0 0 0))
      (local.set $a (i32.add (local.get $a) (i32.const 16)))
      (br $zero)))
    (local.set $n (i32.const 0))
    (block $doneN (loop $loopN
      (br_if $doneN (i32.ge_u (local.get $n) (local.get $b)))
      (local.set $i (i32.const 0))
      (block $doneI (loop $loopI
        (br_if $doneI (i32.ge_u (local.get $i) (local.get $oh)))
        (local.set $dyRow (i32.add (local.get $dy)
          (i32.mul (i32.mul (i32.add (i32.mul (local.get $n) (local.get $oh)) (local.get $i)) (local.get $ow)) (local.get $coB))))
        (local.set $p (i32.const 0))
        (block $doneP (loop $loopP
          (br_if $doneP (i32.ge_u (local.get $p) (local.get $fh)))
          (local.set $y (i32.sub (i32.add (i32.mul (local.get $i) (local.get $sh)) (local.get $p)) (local.get $top)))
          (if (i32.and (i32.ge_s (local.get $y) (i32.const 0)) (i32.lt_s (local.get $y) (local.get $h))) (then
            (local.set $xRow (i32.add (local.get $x)
              (i32.shl (i32.mul (i32.mul (i32.add (i32.mul (local.get $n) (local.get $h)) (local.get $y)) (local.get $w)) (local.get $ci)) (i32.const 2))))
            (local.set $q (i32.const 0))
            (block $doneQ (loop $loopQ
              (br_if $doneQ (i32.ge_u (local.get $q) (local.get $fw)))
              ;; columns j with 0 <= j*sw + q - left < w: j0 = max(0, ceil((left - q)/sw)), j1 = min(ow, floor((w - 1 - q + left)/sw) + 1)
              (local.set $a (i32.sub (local.get $left) (local.get $q)))
              (local.set $j0 (select (i32.const 0)
                (i32.div_s (i32.add (local.get $a) (i32.sub (local.get $sw) (i32.const 1))) (local.get $sw))
                (i32.le_s (local.get $a) (i32.const 0))))
              (local.set $a (i32.add (i32.sub (i32.sub (local.get $w) (i32.const 1)) (local.get $q)) (local.get $left)))
              (local.set $j1 (select (i32.const 0)
                (i32.add (i32.div_s (local.get $a) (local.get $sw)) (i32.const 1))
                (i32.lt_s (local.get $a) (i32.const 0))))
              (if (i32.gt_s (local.get $j1) (local.get $ow)) (then (local.set $j1 (local.get $ow))))
              (if (i32.lt_s (local.get $j0) (local.get $j1)) (then
               (local.set $c (i32.const 0))
               (block $doneC (loop $loopC
                (br_if $doneC (i32.ge_u (local.get $c) (local.get $ci)))
                (local.set $tap (i32.add (local.get $dw) (i32.mul
                  (i32.add (i32.mul (i32.add (i32.mul (local.get $p) (local.get $fw)) (local.get $q)) (local.get $ci)) (local.get $c))
                  (local.get $coB))))
                ;; x address of column j0, channel c, and one past column j1 − 1
                (local.set $a (i32.add (local.get $xRow) (i32.shl (i32.add
                  (i32.mul (i32.sub (i32.add (i32.mul (local.get $j0) (local.get $sw)) (local.get $q)) (local.get $left)) (local.get $ci))
                  (local.get $c)) (i32.const 2))))
                (local.set $xEnd (i32.add (local.get $a) (i32.mul (i32.sub (local.get $j1) (local.get $j0)) (local.get $xStep))))
                (local.set $cb (i32.const 0))
                ;; 16 channels at a time
                (block $doneB (loop $loopB
                  (br_if $doneB (i32.gt_u (i32.add (local.get $cb) (i32.const 64)) (local.get $coB)))
                  (local.set $acc0 (v128.const i32x4 0 0 0 0))
                  (local.set $acc1 (v128.const i32x4 0 0 0 0))
                  (local.set $acc2 (v128.const i32x4 0 0 0 0))
                  (local.set $acc3 (v128.const i32x4 0 0 0 0))
                  (local.set $xp (local.get $a))
                  (local.set $dp (i32.add (i32.add (local.get $dyRow) (i32.mul (local.get $j0) (local.get $coB))) (local.get $cb)))
                  (block $doneJ (loop $loopJ
                    (br_if $doneJ (i32.ge_u (local.get $xp) (local.get $xEnd)))
                    (local.set $xs (v128.load32_splat (local.get $xp)))
                    (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (local.get $xs) (v128.load (local.get $dp)))))
                    (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (local.get $xs) (v128.load offset=16 (local.get $dp)))))
                    (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (local.get $xs) (v128.load offset=32 (local.get $dp)))))
                    (local.set $acc3 (f32x4.add (local.get $acc3) (f32x4.mul (local.get $xs) (v128.load offset=48 (local.get $dp)))))
                    (local.set $xp (i32.add (local.get $xp) (local.get $xStep)))
                    (local.set $dp (i32.add (local.get $dp) (local.get $coB)))
                    (br $loopJ)))
                  (local.set $end (i32.add (local.get $tap) (local.get $cb)))
                  (v128.store (local.get $end) (f32x4.add (v128.load (local.get $end)) (local.get $acc0)))
                  (v128.store offset=16 (local.get $end) (f32x4.add (v128.load offset=16 (local.get $end)) (local.get $acc1)))
                  (v128.store offset=32 (local.get $end) (f32x4.add (v128.load offset=32 (local.get $end)) (local.get $acc2)))
                  (v128.store offset=48 (local.get $end) (f32x4.add (v128.load offset=48 (local.get $end)) (local.get $acc3)))
                  (local.set $cb (i32.add (local.get $cb) (i32.const 64)))
                  (br $loopB)))
                ;; the remaining channels, 4 at a time
                (block $doneR (loop $loopR
                  (br_if $doneR (i32.ge_u (local.get $cb) (local.get $coB)))
                  (local.set $acc0 (v128.const i32x4 0 0 0 0))
                  (local.set $xp (local.get $a))
                  (local.set $dp (i32.add (i32.add (local.get $dyRow) (i32.mul (local.get $j0) (local.get $coB))) (local.get $cb)))
                  (block $doneJ (loop $loopJ
                    (br_if $doneJ (i32.ge_u (local.get $xp) (local.get $xEnd)))
                    (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (v128.load32_splat (local.get $xp)) (v128.load (local.get $dp)))))
                    (local.set $xp (i32.add (local.get $xp) (local.get $xStep)))
                    (local.set $dp (i32.add (local.get $dp) (local.get $coB)))
                    (br $loopJ)))
                  (local.set $end (i32.add (local.get $tap) (local.get $cb)))
                  (v128.store (local.get $end) (f32x4.add (v128.load (local.get $end)) (local.get $acc0)))
                  (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
                  (br $loopR)))
                (local.set $c (i32.add (local.get $c) (i32.const 1)))
                (br $loopC)))))
              (local.set $q (i32.add (local.get $q) (i32.const 1)))
              (br $loopQ)))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $loopP)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $loopI)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $loopN)))
  )

  ;; matMulTN: out [m, n] = aT b for a [k, m], b [k, n] (row-major), m a multiple of 4, written
  ;; through t [n, m] (scratch, caller's). For a long reduction into a small product (the weight
  ;; gradient of a dense layer applied to every pixel: k = 65,536, m = 16, n = 11), where
  ;; XNNPACK, packing b and streaming it per few rows, reaches 3 GFLOP/s. Chunks of 256 rows of
  ;; a and b stay in cache while 4 columns of a and 4 of b accumulate in registers.
  (func (export "matMulTN")
    (param $a i32) (param $b i32) (param $out i32) (param $t i32) (param $k i32) (param $m i32) (param $n i32)
    (local $mB i32) (local $nB i32) (local $kc i32) (local $kEnd i32) (local $mv i32) (local $nb i32)
    (local $pa i32) (local $pb i32) (local $paEnd i32) (local $pt i32) (local $i i32) (local $j i32)
    (local $av v128) (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local.set $mB (i32.shl (local.get $m) (i32.const 2)))
    (local.set $nB (i32.shl (local.get $n) (i32.const 2)))
    ;; t = 0
    (local.set $pt (local.get $t))
    (local.set $paEnd (i32.add (local.get $t) (i32.mul (local.get $n) (local.get $mB))))
    (block $zeroed (loop $zero
      (br_if $zeroed (i32.ge_u (local.get $pt) (local.get $paEnd)))
      (v128.store (local.get $pt) (v128.const i32x4 0 0 0 0))
      (local.set $pt (i32.add (local.get $pt) (i32.const 16)))
      (br $zero)))
    (local.set $kc (i32.const 0))
    (block $doneK (loop $loopK
      (br_if $doneK (i32.ge_u (local.get $kc) (local.get $k)))
      (local.set $kEnd (i32.add (local.get $kc) (i32.const 256)))
      (if (i32.gt_u (local.get $kEnd) (local.get $k)) (then (local.set $kEnd (local.get $k))))
      (local.set $mv (i32.const 0))                                       ;; byte offset of 4 columns of a
      (block $doneM (loop $loopM
        (br_if $doneM (i32.ge_u (local.get $mv) (local.get $mB)))
        (local.set $nb (i32.const 0))                                     ;; column of b
        ;; 4 columns of b at a time
        (block $doneN (loop $loopN
          (br_if $doneN (i32.gt_u (i32.add (local.get $nb) (i32.const 4)) (local.get $n)))
          (local.set $pt (i32.add (i32.add (local.get $t) (i32.mul (local.get $nb) (local.get $mB))) (local.get $mv)))
          (local.set $acc0 (v128.load (local.get $pt)))
          (local.set $acc1 (v128.load (i32.add (local.get $pt) (local.get $mB))))
          (local.set $acc2 (v128.load (i32.add (local.get $pt) (i32.shl (local.get $mB) (i32.const 1)))))
          (local.set $acc3 (v128.load (i32.add (local.get $pt) (i32.mul (local.get $mB) (i32.const 3)))))
          (local.set $pa (i32.add (i32.add (local.get $a) (i32.mul (local.get $kc) (local.get $mB))) (local.get $mv)))
          (local.set $paEnd (i32.add (i32.add (local.get $a) (i32.mul (local.get $kEnd) (local.get $mB))) (local.get $mv)))
          (local.set $pb (i32.add (i32.add (local.get $b) (i32.mul (local.get $kc) (local.get $nB))) (i32.shl (local.get $nb) (i32.const 2))))
          (block $doneR (loop $loopR
            (br_if $doneR (i32.ge_u (local.get $pa) (local.get $paEnd)))
            (local.set $av (v128.load (local.get $pa)))
            (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (v128.load32_splat (local.get $pb)) (local.get $av))))
            (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (v128.load32_splat offset=4 (local.get $pb)) (local.get $av))))
            (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (v128.load32_splat offset=8 (local.get $pb)) (local.get $av))))
            (local.set $acc3 (f32x4.add (local.get $acc3) (f32x4.mul (v128.load32_splat offset=12 (local.get $pb)) (local.get $av))))
            (local.set $pa (i32.add (local.get $pa) (local.get $mB)))
            (local.set $pb (i32.add (local.get $pb) (local.get $nB)))
            (br $loopR)))
          (v128.store (local.get $pt) (local.get $acc0))
          (v128.store (i32.add (local.get $pt) (local.get $mB)) (local.get $acc1))
          (v128.store (i32.add (local.get $pt) (i32.shl (local.get $mB) (i32.const 1))) (local.get $acc2))
          (v128.store (i32.add (local.get $pt) (i32.mul (local.get $mB) (i32.const 3))) (local.get $acc3))
          (local.set $nb (i32.add (local.get $nb) (i32.const 4)))
          (br $loopN)))
        ;; the remaining columns of b, one at a time
        (block $doneN1 (loop $loopN1
          (br_if $doneN1 (i32.ge_u (local.get $nb) (local.get $n)))
          (local.set $pt (i32.add (i32.add (local.get $t) (i32.mul (local.get $nb) (local.get $mB))) (local.get $mv)))
          (local.set $acc0 (v128.load (local.get $pt)))
          (local.set $pa (i32.add (i32.add (local.get $a) (i32.mul (local.get $kc) (local.get $mB))) (local.get $mv)))
          (local.set $paEnd (i32.add (i32.add (local.get $a) (i32.mul (local.get $kEnd) (local.get $mB))) (local.get $mv)))
          (local.set $pb (i32.add (i32.add (local.get $b) (i32.mul (local.get $kc) (local.get $nB))) (i32.shl (local.get $nb) (i32.const 2))))
          (block $doneR1 (loop $loopR1
            (br_if $doneR1 (i32.ge_u (local.get $pa) (local.get $paEnd)))
            (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (v128.load32_splat (local.get $pb)) (v128.load (local.get $pa)))))
            (local.set $pa (i32.add (local.get $pa) (local.get $mB)))
            (local.set $pb (i32.add (local.get $pb) (local.get $nB)))
            (br $loopR1)))
          (v128.store (local.get $pt) (local.get $acc0))
          (local.set $nb (i32.add (local.get $nb) (i32.const 1)))
          (br $loopN1)))
        (local.set $mv (i32.add (local.get $mv) (i32.const 16)))
        (br $loopM)))
      (local.set $kc (local.get $kEnd))
      (br $loopK)))
    ;; out [i, j] = t [j, i]
    (local.set $i (i32.const 0))
    (block $doneI (loop $loopI
      (br_if $doneI (i32.ge_u (local.get $i) (local.get $m)))
      (local.set $j (i32.const 0))
      (block $doneJ (loop $loopJ
        (br_if $doneJ (i32.ge_u (local.get $j) (local.get $n)))
        (f32.store
          (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 2)))
          (f32.load (i32.add (local.get $t) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $m)) (local.get $i)) (i32.const 2)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $loopJ)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $loopI)))
  )

  ;; convBackpropInput: the input gradient of a convolution (the forward pass of a transposed
  ;; one), dx [b, h, w, ci] with dx[b, y, x, :] = Σ over taps (p, q) with y + top − p = i·sh and
  ;; x + left − q = j·sw inside dy, and over o, of dy[b, i, j, o] · W[p, q, :, o]; wt is the filter
  ;; transposed to [fh, fw, co, ci], ci a multiple of 4. Pixel by pixel, 16 channels of dx at a
  ;; time in registers, then 4 at a time: only the taps that meet dy, none of the zeros that
  ;; padding or dilating dy by the stride would add.
  (func (export "convBackpropInput")
    (param $dy i32) (param $wt i32) (param $dx i32)
    (param $b i32) (param $h i32) (param $w i32) (param $ci i32) (param $oh i32) (param $ow i32) (param $co i32)
    (param $fh i32) (param $fw i32) (param $sh i32) (param $sw i32) (param $top i32) (param $left i32)
    (local $ciB i32) (local $coB i32) (local $n i32) (local $y i32) (local $x i32) (local $cb i32) (local $width i32)
    (local $p i32) (local $q i32) (local $u i32) (local $v i32) (local $dyp i32) (local $dyEnd i32) (local $wp i32)
    (local $out i32) (local $s v128) (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local.set $ciB (i32.shl (local.get $ci) (i32.const 2)))
    (local.set $coB (i32.shl (local.get $co) (i32.const 2)))
    (local.set $out (local.get $dx))
    (local.set $n (i32.const 0))
    (block $doneN (loop $loopN
      (br_if $doneN (i32.ge_u (local.get $n) (local.get $b)))
      (local.set $y (i32.const 0))
      (block $doneY (loop $loopY
        (br_if $doneY (i32.ge_u (local.get $y) (local.get $h)))
        (local.set $x (i32.const 0))
        (block $doneX (loop $loopX
          (br_if $doneX (i32.ge_u (local.get $x) (local.get $w)))
          (local.set $cb (i32.const 0))
          (block $doneC (loop $loopC
            (br_if $doneC (i32.ge_u (local.get $cb) (local.get $ciB)))
            ;; 16 channels if that many are left, else 4
            (local.set $width (select (i32.const 64) (i32.const 16)
              (i32.le_u (i32.add (local.get $cb) (i32.const 64)) (local.get $ciB))))
            (local.set $acc0 (v128.const i32x4 0 0 0 0))
            (local.set $acc1 (v128.const i32x4 0 0 0 0))
            (local.set $acc2 (v128.const i32x4 0 0 0 0))
            (local.set $acc3 (v128.const i32x4 0 0 0 0))
            (local.set $p (i32.const 0))
            (block $doneP (loop $loopP
              (br_if $doneP (i32.ge_u (local.get $p) (local.get $fh)))
              (local.set $u (i32.sub (i32.add (local.get $y) (local.get $top)) (local.get $p)))
              (if (i32.and (i32.ge_s (local.get $u) (i32.const 0))
                           (i32.eqz (i32.rem_s (local.get $u) (local.get $sh)))) (then
                (local.set $u (i32.div_s (local.get $u) (local.get $sh)))   ;; row i of dy
                (if (i32.lt_s (local.get $u) (local.get $oh)) (then
                  (local.set $q (i32.const 0))
                  (block $doneQ (loop $loopQ
                    (br_if $doneQ (i32.ge_u (local.get $q) (local.get $fw)))
                    (local.set $v (i32.sub (i32.add (local.get $x) (local.get $left)) (local.get $q)))
                    (if (i32.and (i32.ge_s (local.get $v) (i32.const 0))
                                 (i32.eqz (i32.rem_s (local.get $v) (local.get $sw)))) (then
                      (local.set $v (i32.div_s (local.get $v) (local.get $sw))) ;; column j of dy
                      (if (i32.lt_s (local.get $v) (local.get $ow)) (then
                        (local.set $dyp (i32.add (local.get $dy) (i32.mul
                          (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $oh)) (local.get $u)) (local.get $ow)) (local.get $v))
                          (local.get $coB))))
                        (local.set $dyEnd (i32.add (local.get $dyp) (local.get $coB)))
                        (local.set $wp (i32.add (i32.add (local.get $wt)
                          (i32.mul (i32.mul (i32.add (i32.mul (local.get $p) (local.get $fw)) (local.get $q)) (local.get $co)) (local.get $ciB)))
                          (local.get $cb)))
                        (if (i32.eq (local.get $width) (i32.const 64)) (then
                          (block $doneO (loop $loopO
                            (br_if $doneO (i32.ge_u (local.get $dyp) (local.get $dyEnd)))
                            (local.set $s (v128.load32_splat (local.get $dyp)))
                            (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (local.get $s) (v128.load (local.get $wp)))))
                            (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $wp)))))
                            (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (local.get $s) (v128.load offset=32 (local.get $wp)))))
                            (local.set $acc3 (f32x4.add (local.get $acc3) (f32x4.mul (local.get $s) (v128.load offset=48 (local.get $wp)))))
                            (local.set $dyp (i32.add (local.get $dyp) (i32.const 4)))
                            (local.set $wp (i32.add (local.get $wp) (local.get $ciB)))
                            (br $loopO))))
                        (else
                          (block $doneO1 (loop $loopO1
                            (br_if $doneO1 (i32.ge_u (local.get $dyp) (local.get $dyEnd)))
                            (local.set $acc0 (f32x4.add (local.get $acc0)
                              (f32x4.mul (v128.load32_splat (local.get $dyp)) (v128.load (local.get $wp)))))
                            (local.set $dyp (i32.add (local.get $dyp) (i32.const 4)))
                            (local.set $wp (i32.add (local.get $wp) (local.get $ciB)))
                            (br $loopO1)))))))))
                    (local.set $q (i32.add (local.get $q) (i32.const 1)))
                    (br $loopQ)))))))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $loopP)))
            (v128.store (local.get $out) (local.get $acc0))
            (if (i32.eq (local.get $width) (i32.const 64)) (then
              (v128.store offset=16 (local.get $out) (local.get $acc1))
              (v128.store offset=32 (local.get $out) (local.get $acc2))
              (v128.store offset=48 (local.get $out) (local.get $acc3))))
            (local.set $out (i32.add (local.get $out) (local.get $width)))
            (local.set $cb (i32.add (local.get $cb) (local.get $width)))
            (br $loopC)))
          (local.set $x (i32.add (local.get $x) (i32.const 1)))
          (br $loopX)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $loopY)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $loopN)))
  )

  ;; matMulTNRows: out [m, n] = aT b for a [k, m], b [k, n] (row-major), n a multiple of 4: the
  ;; same product as matMulTN, vectorised along the rows of b instead of the columns of a (the
  ;; form of convFilterGrad). Chunks of 64 rows; for each column of a, 16 columns of out at a
  ;; time accumulate in registers over the chunk, then 4 at a time for the rest.
  (func (export "matMulTNRows")
    (param $a i32) (param $b i32) (param $out i32) (param $k i32) (param $m i32) (param $n i32)
    (local $mB i32) (local $nB i32) (local $kc i32) (local $kEnd i32) (local $mi i32) (local $nb i32)
    (local $pa i32) (local $pb i32) (local $paEnd i32) (local $po i32) (local $s v128)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local.set $mB (i32.shl (local.get $m) (i32.const 2)))
    (local.set $nB (i32.shl (local.get $n) (i32.const 2)))
    ;; out = 0
    (local.set $po (local.get $out))
    (local.set $paEnd (i32.add (local.get $out) (i32.mul (local.get $m) (local.get $nB))))
    (block $zeroed (loop $zero
      (br_if $zeroed (i32.ge_u (local.get $po) (local.get $paEnd)))
      (v128.store (local.get $po) (v128.const i32x4 0 0 0 0))
      (local.set $po (i32.add (local.get $po) (i32.const 16)))
      (br $zero)))
    (local.set $kc (i32.const 0))
    (block $doneK (loop $loopK
      (br_if $doneK (i32.ge_u (local.get $kc) (local.get $k)))
      (local.set $kEnd (i32.add (local.get $kc) (i32.const 64)))
      (if (i32.gt_u (local.get $kEnd) (local.get $k)) (then (local.set $kEnd (local.get $k))))
      (local.set $mi (i32.const 0))
      (block $doneM (loop $loopM
        (br_if $doneM (i32.ge_u (local.get $mi) (local.get $m)))
        (local.set $nb (i32.const 0))                                     ;; byte offset in a row of b
        (block $doneN (loop $loopN
          (br_if $doneN (i32.ge_u (local.get $nb) (local.get $nB)))
          (local.set $po (i32.add (i32.add (local.get $out) (i32.mul (local.get $mi) (local.get $nB))) (local.get $nb)))
          (local.set $pa (i32.add (local.get $a) (i32.shl (i32.add (i32.mul (local.get $kc) (local.get $m)) (local.get $mi)) (i32.const 2))))
          (local.set $paEnd (i32.add (local.get $a) (i32.shl (i32.add (i32.mul (local.get $kEnd) (local.get $m)) (local.get $mi)) (i32.const 2))))
          (local.set $pb (i32.add (i32.add (local.get $b) (i32.mul (local.get $kc) (local.get $nB))) (local.get $nb)))
          (if (i32.le_u (i32.add (local.get $nb) (i32.const 64)) (local.get $nB)) (then
            (local.set $acc0 (v128.load (local.get $po)))
            (local.set $acc1 (v128.load offset=16 (local.get $po)))
            (local.set $acc2 (v128.load offset=32 (local.get $po)))
            (local.set $acc3 (v128.load offset=48 (local.get $po)))
            (block $doneR (loop $loopR
              (br_if $doneR (i32.ge_u (local.get $pa) (local.get $paEnd)))
              (local.set $s (v128.load32_splat (local.get $pa)))
              (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (local.get $s) (v128.load (local.get $pb)))))
              (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $pb)))))
              (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (local.get $s) (v128.load offset=32 (local.get $pb)))))
              (local.set $acc3 (f32x4.add (local.get $acc3) (f32x4.mul (local.get $s) (v128.load offset=48 (local.get $pb)))))
              (local.set $pa (i32.add (local.get $pa) (local.get $mB)))
              (local.set $pb (i32.add (local.get $pb) (local.get $nB)))
              (br $loopR)))
            (v128.store (local.get $po) (local.get $acc0))
            (v128.store offset=16 (local.get $po) (local.get $acc1))
            (v128.store offset=32 (local.get $po) (local.get $acc2))
            (v128.store offset=48 (local.get $po) (local.get $acc3))
            (local.set $nb (i32.add (local.get $nb) (i32.const 64))))
          (else
            (local.set $acc0 (v128.load (local.get $po)))
            (block $doneR1 (loop $loopR1
              (br_if $doneR1 (i32.ge_u (local.get $pa) (local.get $paEnd)))
              (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (v128.load32_splat (local.get $pa)) (v128.load (local.get $pb)))))
              (local.set $pa (i32.add (local.get $pa) (local.get $mB)))
              (local.set $pb (i32.add (local.get $pb) (local.get $nB)))
              (br $loopR1)))
            (v128.store (local.get $po) (local.get $acc0))
            (local.set $nb (i32.add (local.get $nb) (i32.const 16)))))
          (br $loopN)))
        (local.set $mi (i32.add (local.get $mi) (i32.const 1)))
        (br $loopM)))
      (local.set $kc (local.get $kEnd))
      (br $loopK)))
  )
)
