/**
 * lib/segmentation: the seeded scenes, the VOC-layout loader on a fixture written here, the
 * scores, sliding window = fully convolutional (to float tolerance), DeconvNet's pooling
 * switches and unpooling (gradients against finite differences and the cpu backend), the
 * networks' shapes, FCN's bilinear initialisation, saving/loading, the multi-scale network's
 * per-level decomposition, and the figures.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { setup } from '../lib/runtime';
import { loadMnistDigits, selectDigits, splitDigits, type DigitSet } from '../lib/data';
import { specToSvgSync } from '../lib/plot/svg';
import {
  MaxPoolWithSwitches, MaxUnpool, SEG_NUM_CLASSES, accumulateConfusion, argmaxLabels, confusionFigure,
  createDeconvNetSegmenter, createFcnSegmenter, createMultiScaleSegmenter, createPatchClassifier, createSegmenter,
  emptyConfusion, encodePaletteMask, evaluateSegmenter, fullyConvolutionalScores, generateScenes, iouBarsFigure,
  labellingCostFigure, loadModelFiles, loadVocSegmentation, lossCurvesFigure, maxAbsDifference, medianSeconds,
  multiScaleContributions, networkDiagram, networkNodes, patchBatch, pictureGrid, samplePatchCentres, saveModelFiles,
  sceneDataset, sceneOf, scoresFromConfusion, segmentationLoss, segmentationScores, slidingWindowScores,
  toFullyConvolutional, trainSegmenter, visionTasksFigure, vocColormap, vocSplitIds, writeVocDataset, labelPixels,
  greyPixels, createEncoderClassifier, transferEncoder, trainDigitClassifier, digitClassifierAccuracy, disposeModelFully,
  upsamplingFilters, loadShippedSegmenter, shippedScores, SEG_LESSON,
} from '../lib/segmentation';
import { weightedSoftmaxCrossEntropy } from '../lib/segmentation/train';

function leakCheck<T>(fn: () => T): T {
  const before = tf.memory().numTensors;
  const out = fn();
  assert.equal(tf.memory().numTensors, before, 'tensor leak');
  return out;
}

describe('lib/segmentation', function () {
  let train: DigitSet;
  let test: DigitSet;

  before(async () => {
    await setup({ seed: 1, backend: 'wasm', quiet: true });
    ({ train, test } = splitDigits(loadMnistDigits(), { testFraction: 0.2, seed: 7 }));
  });

  describe('scenes', () => {
    it('are deterministic for a seed, and scene i does not depend on how many are made', () => {
      const a = generateScenes(train, 6, { seed: 3 });
      const b = generateScenes(train, 6, { seed: 3 });
      assert.deepEqual(a.images, b.images);
      assert.deepEqual(a.labels, b.labels);
      assert.deepEqual(a.boxes, b.boxes);
      const tail = generateScenes(train, 2, { seed: 3, start: 4 });
      assert.deepEqual(tail.images, a.images.subarray(4 * 64 * 64));
      const other = generateScenes(train, 6, { seed: 4 });
      assert.notDeepEqual(other.images, a.images);
    });

    it('label pixels with the class of the instance there, inside its box', () => {
      const set = generateScenes(train, 40, { seed: 5 });
      let digits = 0;
      for (let i = 0; i < set.count; i++) {
        const s = sceneOf(set, i);
        assert.ok(s.boxes.length >= 1 && s.boxes.length <= 4, `scene ${i} has ${s.boxes.length} digits`);
        for (let p = 0; p < s.labels.length; p++) assert.equal(s.labels[p] > 0, s.instances[p] > 0);
        for (const box of s.boxes) {
          digits++;
          let count = 0;
          for (let p = 0; p < s.labels.length; p++) {
            if (s.instances[p] !== box.instance) continue;
            count++;
            assert.equal(s.labels[p], box.digit + 1);
            const [r, c] = [Math.floor(p / 64), p % 64];
            assert.ok(r >= box.y0 && r < box.y1 && c >= box.x0 && c < box.x1, 'pixel outside its box');
          }
          assert.ok(count > 0, 'a box without pixels');
        }
        assert.ok(Math.min(...s.image) >= 0 && Math.max(...s.image) <= 1);
      }
      assert.ok(digits >= 60, `only ${digits} digits in 40 scenes`);
    });

    it('draw only the digits they are given (train and test scenes use disjoint images)', () => {
      const threes = selectDigits(test, Array.from({ length: test.count }, (_, i) => i).filter((i) => test.labels[i] === 3));
      const set = generateScenes(threes, 10, { seed: 1 });
      assert.ok(set.labels.every((l) => l === 0 || l === 4));
      assert.ok(set.labels.some((l) => l === 4));
    });

    it('reject impossible settings with a message', () => {
      assert.throws(() => generateScenes(train, 1, { maxDigitSize: 80 }), /must fit on the 64×64 canvas/);
      assert.throws(() => generateScenes(train, 1, { minDigits: 3, maxDigits: 2 }), /minDigits/);
      assert.throws(() => generateScenes(train, -1), /count/);
    });

    it('make a data set whose batches are the seeded scenes', () => {
      const data = sceneDataset(train, 100, { seed: 9 });
      const batch = data.batch([3, 7]);
      const ref = generateScenes(train, 8, { seed: 9 });
      assert.deepEqual(batch.xs.shape, [2, 64, 64, 1]);
      const expected = [...ref.labels.subarray(3 * 4096, 4 * 4096), ...ref.labels.subarray(7 * 4096, 8 * 4096)];
      assert.deepEqual(Array.from(batch.labels.dataSync()), expected);
      tf.dispose([batch.xs, batch.labels]);
    });
  });

  describe('scores', () => {
    it('match a hand-computed example', () => {
      // truth 0 0 1 1 2 ; predicted 0 1 1 1 0
      const s = segmentationScores([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], 3);
      assert.deepEqual(s.confusion, [[1, 1, 0], [0, 2, 0], [1, 0, 0]]);
      assert.equal(s.pixelAccuracy, 3 / 5);
      assert.deepEqual(s.iou, [1 / 3, 2 / 3, 0]); // class 0: TP 1, FP 1, FN 1
      assert.ok(Math.abs(s.meanIou - 1 / 3) < 1e-12);
    });

    it('leave out classes absent from truth and prediction', () => {
      const s = scoresFromConfusion(accumulateConfusion(emptyConfusion(3), [0, 1], [0, 1]));
      assert.ok(Number.isNaN(s.iou[2]));
      assert.equal(s.meanIou, 1);
      assert.throws(() => segmentationScores([0, 5], [0, 0], 3), /whole numbers in 0…2/);
    });
  });

  describe('VOC-layout loader', () => {
    let root: string;
    const w = 12;
    const h = 8;
    const mask = new Uint8Array(w * h).map((_, p) => (p % w < 4 ? 0 : p % w < 8 ? 15 : 255)); // background, person, void
    const rgb = new Float32Array(w * h * 3).map((_, i) => ((i * 37) % 256) / 255);

    before(() => {
      root = mkdtempSync(join(tmpdir(), 'voc-'));
      writeVocDataset(root, [{ id: 'a', width: w, height: h, image: rgb, mask }], { train: ['a'] });
      // a second image written directly with the packages: PNG image, RGB (not palette) mask
      const colors = vocColormap();
      const png = new PNG({ width: w, height: h });
      for (let p = 0; p < w * h; p++) png.data.set([...colors[mask[p]], 255], p * 4);
      writeFileSync(join(root, 'SegmentationClass', 'b.png'), PNG.sync.write(png));
      const img = new PNG({ width: w, height: h });
      img.data.fill(200);
      writeFileSync(join(root, 'JPEGImages', 'b.png'), PNG.sync.write(img));
      writeFileSync(join(root, 'ImageSets', 'Segmentation', 'val.txt'), 'b\n');
    });
    after(() => rmSync(root, { recursive: true, force: true }));

    it('reads images and palette masks back exactly (masks) and closely (JPEG images)', () => {
      const [a] = loadVocSegmentation(root, { split: 'train' });
      assert.equal(a.id, 'a');
      assert.equal(a.width, w);
      assert.equal(a.height, h);
      assert.deepEqual(a.mask, mask);
      const worst = maxAbsDifference(a.image, rgb);
      assert.ok(worst < 0.25, `JPEG round trip off by ${worst}`);
      const [b] = loadVocSegmentation(root, { split: 'val' });
      assert.deepEqual(b.mask, mask);
      assert.ok(b.image.every((v) => Math.abs(v - 200 / 255) < 1e-6));
    });

    it('writes real 8-bit palette PNGs with VOC\'s colour map', () => {
      const decoded = PNG.sync.read(encodePaletteMask(mask, w, h)) as PNG & { colorType?: number };
      assert.equal(decoded.colorType, 3);
      assert.deepEqual(Array.from(decoded.data.subarray(4 * 5, 4 * 5 + 3)), [192, 128, 128]); // class 15 (person)
      assert.deepEqual(vocColormap()[1], [128, 0, 0]);
      assert.deepEqual(vocColormap()[255], [224, 224, 192]);
    });

    it('names the problem: missing split, image or mask; size mismatch; unknown colour', () => {
      assert.throws(() => vocSplitIds(join(root, 'nope')), /is not a folder/);
      assert.throws(() => loadVocSegmentation(root, { split: 'test' }), /split file .*test\.txt does not exist/);
      writeFileSync(join(root, 'ImageSets', 'Segmentation', 'ghost.txt'), 'ghost\n');
      assert.throws(() => loadVocSegmentation(root, { split: 'ghost' }), /image 'ghost' is listed .* does not exist/);
      writeFileSync(join(root, 'JPEGImages', 'c.jpg'), jpeg.encode({ data: new Uint8Array(w * h * 4).fill(90), width: w, height: h }, 90).data);
      writeFileSync(join(root, 'ImageSets', 'Segmentation', 'nomask.txt'), 'c\n');
      assert.throws(() => loadVocSegmentation(root, { split: 'nomask' }), /mask .*c\.png of image 'c' does not exist/);
      writeFileSync(join(root, 'SegmentationClass', 'c.png'), encodePaletteMask(new Uint8Array(6 * 4), 6, 4));
      assert.throws(() => loadVocSegmentation(root, { split: 'nomask' }), /is 6×4 but its image .* is 12×8/);
      const odd = new PNG({ width: w, height: h });
      for (let p = 0; p < w * h; p++) odd.data.set([0, 0, 0, 255], p * 4);
      odd.data.set([10, 20, 30, 255], 4 * 13);
      writeFileSync(join(root, 'SegmentationClass', 'c.png'), PNG.sync.write(odd));
      assert.throws(() => loadVocSegmentation(root, { split: 'nomask' }), /pixel \(row 1, col 1\) has colour rgb\(10, 20, 30\)/);
      writeFileSync(join(root, 'SegmentationClass', 'c.png'), 'not a png');
      assert.throws(() => loadVocSegmentation(root, { split: 'nomask' }), /could not be decoded as a PNG mask/);
    });
  });

  describe('sliding window = fully convolutional', () => {
    it('gives the same scores and labels, and the dense layer is a k×k convolution', () => {
      const patch = createPatchClassifier({ channels: [4, 4, 6], kernelSize: 5, patchSize: 15, seed: 2 });
      const fcn = toFullyConvolutional(patch);
      const scene = sceneOf(generateScenes(test, 1, { seed: 11, size: 32, maxDigitSize: 24, minDigitSize: 16 }), 0);
      const [sliding, dense] = leakCheck(() => [
        slidingWindowScores(patch, scene.image, 32, { batchSize: 100 }),
        fullyConvolutionalScores(fcn, scene.image, 32, 15),
      ]);
      assert.equal(sliding.length, 32 * 32 * SEG_NUM_CLASSES);
      const diff = maxAbsDifference(sliding, dense);
      assert.ok(diff < 1e-4, `max |difference| ${diff}`);
      assert.deepEqual(argmaxLabels(sliding, SEG_NUM_CLASSES), argmaxLabels(dense, SEG_NUM_CLASSES));
      patch.dispose();
      fcn.dispose();
    });

    it('cuts training windows around sampled centres, half of them on digits', () => {
      const set = generateScenes(train, 4, { seed: 2 });
      const samples = samplePatchCentres(set, 6, 1);
      assert.equal(samples.length, 24);
      assert.ok(samples.filter((s) => s.label > 0).length >= 10);
      const { xs, ys } = patchBatch(set, samples.slice(0, 2), 9);
      const s = samples[0];
      const centre = xs.arraySync()[0][4][4][0];
      assert.ok(Math.abs(centre - set.images[s.scene * 4096 + s.row * 64 + s.col]) < 1e-7);
      assert.deepEqual(Array.from(ys.dataSync()), [samples[0].label, samples[1].label]);
      tf.dispose([xs, ys]);
    });

    it('rejects windows the layers do not fit', () => {
      assert.throws(() => createPatchClassifier({ channels: [4, 4], kernelSize: 5, patchSize: 7, seed: 1 }), /too small/);
      assert.throws(() => createPatchClassifier({ patchSize: 28, seed: 1 }), /must be odd/);
      assert.equal(medianSeconds(() => undefined, 3).times.length, 3);
    });
  });

  describe('DeconvNet pooling switches and unpooling', () => {
    /** loss(x) = Σ w ⊙ unpool(pool(x)·a + b, switches) through the layers. */
    function lossOf(x: tf.Tensor4D, w: tf.Tensor4D): tf.Scalar {
      const pool = new MaxPoolWithSwitches({ poolSize: 2 });
      const unpool = new MaxUnpool({ poolSize: 2 });
      const [pooled, switches] = pool.apply(x) as tf.Tensor[];
      const up = unpool.apply([pooled.mul(1.5).add(0.25), switches]) as tf.Tensor;
      return up.mul(w).sum() as tf.Scalar;
    }

    it('put each maximum back at its place, including all-negative windows', () => {
      const x = tf.tensor4d([1, 5, -3, -1, 2, 0, -4, -2, 0, 0, 7, 1, 3, 0, 1, 2], [1, 4, 4, 1]);
      const [pooled, switches] = new MaxPoolWithSwitches({ poolSize: 2 }).apply(x) as tf.Tensor[];
      assert.deepEqual(Array.from(pooled.dataSync()), [5, -1, 3, 7]);
      const up = new MaxUnpool({ poolSize: 2 }).apply([pooled, switches]) as tf.Tensor;
      assert.deepEqual(Array.from(up.dataSync()), [0, 5, 0, -1, 0, 0, 0, 0, 0, 0, 7, 0, 3, 0, 0, 0]);
      tf.dispose([x, pooled, switches, up]);
    });

    it('pass gradients that match finite differences and the cpu backend', async () => {
      const rng = Array.from({ length: 2 * 6 * 6 * 3 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
      const xv = rng.map((v) => v * 2);
      const wv = rng.map((v, i) => Math.cos(i) + v);
      const grad = () => tf.tidy(() => {
        const x = tf.tensor4d(xv, [2, 6, 6, 3]);
        const w = tf.tensor4d(wv, [2, 6, 6, 3]);
        return Array.from(tf.grad((t: tf.Tensor) => lossOf(t as tf.Tensor4D, w))(x).dataSync());
      });
      const onWasm = grad();
      // finite differences (the loss is piecewise linear: a small step does not change the switches)
      const eps = 1e-3;
      const f = (v: number[]) => tf.tidy(() => lossOf(tf.tensor4d(v, [2, 6, 6, 3]), tf.tensor4d(wv, [2, 6, 6, 3])).dataSync()[0]);
      for (const i of [0, 7, 40, 100, 215]) {
        const plus = [...xv];
        const minus = [...xv];
        plus[i] += eps;
        minus[i] -= eps;
        const numeric = (f(plus) - f(minus)) / (2 * eps);
        assert.ok(Math.abs(numeric - onWasm[i]) < 2e-2, `x[${i}]: analytic ${onWasm[i]} vs numeric ${numeric}`);
      }
      assert.ok(onWasm.filter((g) => g !== 0).length >= 40, 'the gradient reached too few inputs');
      await tf.setBackend('cpu');
      try {
        const onCpu = grad();
        assert.ok(maxAbsDifference(onWasm, onCpu) < 1e-5, 'wasm and cpu gradients differ');
      } finally {
        await tf.setBackend('wasm');
      }
    });
  });

  describe('networks', () => {
    it('map 64×64 images to 11 class scores per pixel, and train without leaking', async () => {
      for (const kind of ['fcn', 'fcn-skips', 'deconvnet'] as const) {
        const model = createSegmenter(kind, { seed: 1 });
        const out = tf.tidy(() => (model.predict(tf.zeros([2, 64, 64, 1])) as tf.Tensor).shape);
        assert.deepEqual(out, [2, 64, 64, 11], kind);
        const before = tf.memory().numTensors;
        const history = await trainSegmenter({ model, digits: train, steps: 2, batchSize: 2, learningRate: 1e-3, seed: 1, progress: 'none' });
        assert.equal(history.steps, 2);
        assert.ok(history.stepLoss.every(Number.isFinite));
        assert.equal(tf.memory().numTensors, before, `${kind}: training leaked tensors`);
        const nodes = networkNodes(model);
        assert.deepEqual(nodes[nodes.length - 1].shape, [64, 64, 11]);
        assert.ok(nodes.some((n) => n.name === 'ctx2'));
        model.dispose();
      }
    });

    it('start FCN upsampling as bilinear interpolation of the coarse scores', () => {
      const model = createFcnSegmenter({ seed: 1, skips: false });
      const up = model.getLayer('up8x');
      const coarse = tf.fill([1, 8, 8, 11], 2);
      const out = up.apply(coarse) as tf.Tensor; // constant in → constant out (away from the border)
      const inner = out.slice([0, 8, 8, 0], [1, 48, 48, 11]);
      assert.ok(maxAbsDifference(inner.dataSync(), new Float32Array(48 * 48 * 11).fill(2)) < 1e-5);
      tf.dispose([coarse, out, inner]);
      model.dispose();
    });

    it('start from a digit classifier: the dense layer becomes the 8×8 score layer (average then dense = 1×1 conv then average)', async () => {
      const clf = createEncoderClassifier({ seed: 2, inputSize: 48 });
      const before = tf.memory().numTensors;
      const h = await trainDigitClassifier({ model: clf, digits: train, steps: 2, batchSize: 4, learningRate: 1e-3, seed: 1, progress: 'none' });
      assert.equal(h.steps, 2);
      assert.equal(tf.memory().numTensors, before, 'pre-training leaked tensors');
      const acc = digitClassifierAccuracy(clf, test, 8, 3);
      assert.ok(acc >= 0 && acc <= 1);
      const seg = createSegmenter('fcn-skips', { seed: 9 });
      assert.deepEqual(transferEncoder(clf, seg), ['enc1', 'enc1_bn', 'enc2', 'enc2_bn', 'enc3', 'enc3_bn', 'ctx1', 'ctx1_bn', 'ctx2', 'ctx2_bn', 'score8']);
      const x = tf.randomUniform([1, 64, 64, 1], 0, 1, 'float32', 8);
      const probe = tf.model({ inputs: seg.inputs, outputs: seg.getLayer('score8').output as tf.SymbolicTensor });
      const cellScores = (probe.predict(x) as tf.Tensor).mean([1, 2]); // [1, 11]: averaged over the 8×8 cells
      // the classifier's weights do not depend on the input size: the same classifier built for 64×64
      const clf64 = createEncoderClassifier({ seed: 2, inputSize: 64 });
      clf64.setWeights(clf.getWeights());
      const direct = clf64.predict(x) as tf.Tensor; // [1, 10]
      const d = maxAbsDifference(cellScores.slice([0, 1], [1, 10]).dataSync(), direct.dataSync());
      assert.ok(d < 1e-4, `averaged 1×1 scores vs classifier: ${d}`);
      assert.equal(cellScores.dataSync()[0], 0, 'background starts at zero');
      tf.dispose([x, cellScores, direct]);
      for (const m of [clf, clf64, seg]) m.dispose();
    });

    it('expose the learned upsampling filters, which start bilinear', () => {
      const model = createFcnSegmenter({ seed: 1, skips: true });
      const ups = upsamplingFilters(model);
      assert.deepEqual(ups.map((u) => u.layer), ['up3', 'up2', 'up1']);
      assert.equal(ups[0].filters.length, 11);
      assert.deepEqual(ups[0].filters[5], [[0.0625, 0.1875, 0.1875, 0.0625], [0.1875, 0.5625, 0.5625, 0.1875], [0.1875, 0.5625, 0.5625, 0.1875], [0.0625, 0.1875, 0.1875, 0.0625]]);
      model.dispose();
    });

    it('reject sizes the three poolings cannot halve', () => {
      assert.throws(() => createDeconvNetSegmenter({ seed: 1, inputSize: 60 }), /multiple of 8/);
    });

    it('save and load back in tfjs format, custom layers included', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'segw-'));
      try {
        const model = createDeconvNetSegmenter({ seed: 4 });
        await saveModelFiles(model, dir, 'deconvnet');
        const back = await loadModelFiles(dir, 'deconvnet');
        const x = tf.randomUniform([1, 64, 64, 1], 0, 1, 'float32', 3);
        const [a, b] = [model.predict(x) as tf.Tensor, back.predict(x) as tf.Tensor];
        assert.ok(maxAbsDifference(a.dataSync(), b.dataSync()) < 1e-5);
        tf.dispose([x, a, b]);
        model.dispose();
        back.dispose();
        await assert.rejects(() => loadModelFiles(dir, 'missing'), /no saved model/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('score a model on held-out scenes', () => {
      const scenes = generateScenes(test, 4, { seed: 1 });
      const model = createSegmenter('fcn', { seed: 2 });
      const ev = leakCheck(() => evaluateSegmenter(model, scenes));
      assert.equal(ev.predictions.length, 4 * 4096);
      assert.equal(ev.perScene.length, 4);
      assert.equal(ev.scores.pixels, 4 * 4096);
      model.dispose();
    });

    it('ship weights that still score what their command measured (else: rerun the command in datasets/segmentation/README.md)', async function () {
      const shipped = shippedScores();
      const kinds = Object.keys(shipped);
      if (kinds.length === 0) this.skip(); // no weights shipped: nothing to check
      this.timeout(120_000);
      const { test: heldOut } = splitDigits(loadMnistDigits(), SEG_LESSON.digitSplit);
      const scenes = generateScenes(heldOut, SEG_LESSON.testScenes, { seed: SEG_LESSON.testSceneSeed });
      for (const kind of kinds) {
        const model = await loadShippedSegmenter(kind);
        assert.ok(model, `scores.json lists ${kind} but its files are missing`);
        const fresh = createSegmenter(kind as 'fcn' | 'fcn-skips' | 'deconvnet', { seed: 1 });
        assert.deepEqual(model.layers.map((l) => l.name), fresh.layers.map((l) => l.name), `${kind}: the shipped network is not the one createSegmenter builds`);
        const ev = evaluateSegmenter(model, scenes);
        assert.ok(Math.abs(ev.scores.meanIou - shipped[kind].meanIou) < 2e-3,
          `${kind}: held-out mean IoU ${ev.scores.meanIou} differs from the ${shipped[kind].meanIou} in scores.json (scenes or network changed: retrain)`);
        model.dispose();
        fresh.dispose();
      }
    });

    it('weigh the background in the loss as asked', () => {
      const logits = tf.tensor4d([2, 0, 0, 2], [1, 1, 2, 2]);
      const labels = tf.tensor3d([0, 0], [1, 1, 2], 'int32');
      const each = [Math.log(1 + Math.exp(-2)), Math.log(1 + Math.exp(2))];
      assert.ok(Math.abs(segmentationLoss(logits, labels).dataSync()[0] - (each[0] + each[1]) / 2) < 1e-5);
      const labels2 = tf.tensor3d([0, 1], [1, 1, 2], 'int32');
      const weighted = segmentationLoss(logits, labels2, 0.5).dataSync()[0];
      assert.ok(Math.abs(weighted - (0.5 * each[0] + each[0]) / 1.5) < 1e-5);
      tf.dispose([logits, labels, labels2]);
    });

    it('as one op (weightedSoftmaxCrossEntropy): the same value and gradient as tf.losses.softmaxCrossEntropy weighted, and finite differences', () => {
      const shape = [2, 3, 5, 11];
      const values = Array.from({ length: 2 * 3 * 5 * 11 }, (_, i) => 3 * Math.sin(i * 0.37) + Math.cos(i * 1.3));
      const labelValues = Array.from({ length: 30 }, (_, i) => (i * 7) % 13 < 11 ? (i * 7) % 13 : 0); // background and every digit class
      const labels = tf.tensor3d(labelValues, [2, 3, 5], 'int32');
      const reference = (x: tf.Tensor, bw: number) => {
        const perPixel = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 11), x, undefined, undefined, tf.Reduction.NONE);
        const w = tf.where(labels.equal(0), tf.scalar(bw), tf.scalar(1));
        return perPixel.mul(w).sum().div(w.sum()) as tf.Scalar;
      };
      for (const bw of [1, 0.3]) {
        const x = tf.tensor4d(values, shape as [number, number, number, number]);
        const ours = tf.valueAndGrad((t: tf.Tensor) => weightedSoftmaxCrossEntropy(t, labels, bw))(x);
        const ref = tf.valueAndGrad((t: tf.Tensor) => reference(t, bw))(x);
        assert.ok(Math.abs(ours.value.dataSync()[0] - ref.value.dataSync()[0]) < 1e-5, `bw ${bw}: value ${ours.value.dataSync()[0]} vs ${ref.value.dataSync()[0]}`);
        assert.ok(maxAbsDifference(ours.grad.dataSync(), ref.grad.dataSync()) < 1e-6, `bw ${bw}: gradients differ`);
        // finite differences on a few logits, in float64 through the reference formula
        const g = ours.grad.dataSync();
        for (const i of [0, 17, 100, 329]) {
          const at = (d: number) => reference(tf.tensor4d(values.map((v, j) => (j === i ? v + d : v)), shape as [number, number, number, number]), bw).dataSync()[0];
          const numeric = (at(1e-2) - at(-1e-2)) / 2e-2;
          assert.ok(Math.abs(numeric - g[i]) < 2e-4, `bw ${bw}, logit ${i}: ${g[i]} vs finite difference ${numeric}`);
        }
        tf.dispose([x, ours.value, ours.grad, ref.value, ref.grad]);
      }
      assert.throws(() => weightedSoftmaxCrossEntropy(tf.zeros([2, 3, 4, 11]), labels), /do not match logits/);
      assert.throws(() => weightedSoftmaxCrossEntropy(tf.zeros([2, 3, 5, 11]), labels, 0), /backgroundWeight must be > 0/);
      labels.dispose();
    });

    it('add the digits-only term on digit pixels when asked', () => {
      const values = Array.from({ length: 2 * 11 }, (_, i) => Math.sin(i * 1.7) * 2);
      const logits = tf.tensor4d(values, [1, 1, 2, 11]);
      const labels = tf.tensor3d([0, 3], [1, 1, 2], 'int32');
      const base = segmentationLoss(logits, labels).dataSync()[0];
      const both = segmentationLoss(logits, labels, 1, 0.5).dataSync()[0];
      // pixel 2 is digit 2 (class 3): −log softmax over classes 1…10 at index 2
      const digits = values.slice(12, 22);
      const logZ = Math.log(digits.reduce((a, v) => a + Math.exp(v), 0));
      assert.ok(Math.abs(both - (base + 0.5 * (logZ - digits[2]))) < 1e-4);
      tf.dispose([logits, labels]);
    });
  });

  describe('multi-scale network', () => {
    it('shares one network across the pyramid, and its scores are the sum of the levels\' contributions', () => {
      const model = createMultiScaleSegmenter({ seed: 3, scales: 3 });
      const single = createMultiScaleSegmenter({ seed: 3, scales: 1 });
      assert.equal(model.getLayer('shared_conv1').countParams(), single.getLayer('shared_conv1').countParams());
      const x = tf.randomUniform([2, 64, 64, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
      const parts = multiScaleContributions(model, x);
      assert.equal(parts.length, 3);
      const total = tf.addN(parts);
      const out = model.predict(x) as tf.Tensor;
      assert.ok(maxAbsDifference(total.dataSync(), out.dataSync()) < 1e-4);
      tf.dispose([x, ...parts, total, out]);
      const before = tf.memory().numTensors;
      disposeModelFully(model);
      disposeModelFully(single);
      assert.equal(tf.memory().numTensors, before - 16, 'shared weights left behind'); // each: 3 shared convs (6) + classifier (2)
    });
  });

  describe('figures', () => {
    it('render to SVG', () => {
      const set = generateScenes(test, 2, { seed: 3 });
      const s = sceneOf(set, 0);
      const scores = segmentationScores(s.labels, s.labels, SEG_NUM_CLASSES);
      const model = createSegmenter('fcn-skips', { seed: 1 });
      const specs = [
        visionTasksFigure(s),
        pictureGrid([[{ title: 'input', pixels: greyPixels(s.image, 64) }, { title: 'truth', pixels: labelPixels(s.labels, 64) }]], { legend: true }),
        iouBarsFigure([{ name: 'perfect', scores }]),
        confusionFigure(scores),
        labellingCostFigure([{ size: 32, sliding: 1, fcn: 0.01 }, { size: 64, sliding: 4, fcn: 0.02 }]),
        networkDiagram(networkNodes(model)),
        lossCurvesFigure([{ name: 'a', loss: [3, 2, 1, 0.5] }]),
        lossCurvesFigure([{ name: 'a', loss: [3, 2, 1, 0.5] }], { subtitle: 'restart at step 3', smoothing: 2 }),
      ];
      const sub = (specs[specs.length - 1] as unknown as { title: { subtitle: string } }).title.subtitle;
      assert.equal(sub, 'restart at step 3 · moving average over 2 steps');
      for (const spec of specs) {
        const svg = specToSvgSync({ $schema: 'https://vega.github.io/schema/vega-lite/v5.json', ...spec } as never);
        assert.match(svg, /<svg/);
      }
      model.dispose();
    });

    it('the multi-scale diagram draws a row per pyramid level, the shared layers aligned in columns, without vega warnings', () => {
      const model = createMultiScaleSegmenter({ seed: 1, scales: 3 });
      const spec = networkDiagram(networkNodes(model), { layout: 'branches' }) as unknown as { layer: { data: { values: { x: number; y: number; name?: string }[] } }[] };
      const blocks = spec.layer[1].data.values;
      const centre = (name: string) => { const b = blocks.find((v) => v.name === name) as unknown as { x: number; x2: number; y: number; y2: number }; assert.ok(b, name); return { x: (b.x + b.x2) / 2, y: (b.y + b.y2) / 2 }; };
      for (const kind of ['shared_conv1', 'shared_pool1', 'shared_conv3']) {
        const [a, b, c] = [0, 1, 2].map((k) => centre(`${kind}[${k}]`));
        assert.ok(a.x === b.x && b.x === c.x, `${kind}: one column`);
        assert.ok(a.y < b.y && b.y < c.y, `${kind}: level 0 above level 1 above level 2`);
      }
      assert.equal(centre('shared_conv1[1]').y, centre('pyramid1').y);
      assert.ok(centre('concat').x > centre('up_s0').x && centre('classifier').x > centre('concat').x);
      const warnings: string[] = [];
      const warn = console.warn;
      console.warn = (...args: unknown[]) => { warnings.push(args.join(' ')); };
      try {
        specToSvgSync({ $schema: 'https://vega.github.io/schema/vega-lite/v5.json', ...spec } as never);
        specToSvgSync({ $schema: 'https://vega.github.io/schema/vega-lite/v5.json', ...networkDiagram(networkNodes(model)) } as never);
      } finally {
        console.warn = warn;
      }
      assert.deepEqual(warnings, []);
      disposeModelFully(model);
    });
  });
});
