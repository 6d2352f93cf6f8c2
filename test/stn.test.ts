/**
 * lib/stn: the grid generator and bilinear sampler against a naive float64 reference, hand-worked
 * cases and finite differences, on the cpu and wasm backends; the transformer layer; the
 * distorted-MNIST generators; the MNIST IDX loader on fixtures written here.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { specToSvgSync } from '../lib/plot/svg';
import { setup, mulberry32, type Rng } from '../lib/runtime';
import { loadMnistDigits, splitDigits, type DigitSet } from '../lib/data';
import {
  IDENTITY_THETA, affineGrid, affineGridNaive, applyTheta, backgroundFor, bilinearPoint, bilinearSample, normalisedCoordinate,
  pixelCoordinate, spatialTransform, spatialTransformNaive, thetaFromParams,
  SpatialTransformer, createDigitClassifier, resetToIdentity, THETA_LAYER,
  DISTORTIONS, DISTORTION_SIZE, distortedExample, distortedSet, homography, distortionRng,
  parseIdx, readIdxFile, loadMnistIdx, encodeIdx,
  matchedPair, classifierParams, distortedTrainData, transformerOutputs, disposeClassifier, digitTestError,
  toFloat16Bits, saveClassifier, loadClassifier, weightsName, STN_RECIPE, createStnTableModel, stnTableModels, stnTableErrors, disposeStnTable,
  exampleRows, transformerExplorer, affinePixelFigure, samplingGridFigure, bilinearFigure, stnDiagramFigure, distortionExamplesFigure,
  thetaEvolutionFigure, stnErrorTableFigure, stnErrorTableMarkdown, windowOutline,
} from '../lib/stn';
import { digitImage } from '../lib/data';

type Image = number[][];

function randomImage(rng: Rng, h: number, w: number): Image {
  return Array.from({ length: h }, () => Array.from({ length: w }, () => rng()));
}

function randomTheta(rng: Rng, spread = 0.4): number[] {
  return IDENTITY_THETA.map((t) => t + spread * (2 * rng() - 1));
}

/** [1, h, w, 1] tensor of an image. */
const asTensor = (im: Image) => tf.tensor4d(im.flat(), [1, im.length, im[0].length, 1]);
const asImage = (t: tf.Tensor): Image => (t.squeeze([0, 3]).arraySync() as Image);

function maxAbsDiff(a: Image, b: Image): number {
  let worst = 0;
  a.forEach((row, i) => row.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - b[i][j])); }));
  return worst;
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`stn sampler on ${backend}`, function () {
    this.timeout(60_000);
    before(async () => { await setup({ backend, quiet: true, seed: 1 }); });
    after(async () => { await setup({ backend: 'wasm', quiet: true }); });

    for (const alignCorners of [false, true]) {
      describe(`alignCorners ${alignCorners}`, () => {
        it('the identity θ reproduces the input exactly (grayscale, RGB, non-square)', () => {
          const rng = mulberry32(2);
          for (const [h, w, c] of [[5, 5, 1], [6, 9, 3], [28, 28, 1]]) {
            const data = Float32Array.from({ length: h * w * c }, () => rng());
            const image = tf.tensor4d(data, [1, h, w, c]);
            const out = spatialTransform(image, tf.tensor2d([IDENTITY_THETA as number[]]), [h, w], { alignCorners });
            assert.deepEqual(Array.from(out.dataSync()), Array.from(data), `${h}×${w}×${c}`);
            const viaGrid = bilinearSample(image, affineGrid(tf.tensor2d([IDENTITY_THETA as number[]]), [h, w], { alignCorners }), { alignCorners });
            assert.ok(Math.max(...Array.from(tf.abs(tf.sub(viaGrid, image)).dataSync())) < 1e-5, 'grid route');
            tf.dispose([image, out, viaGrid]);
          }
        });

        it('matches the naive float64 reference for random θ, sizes and background', () => {
          const rng = mulberry32(3);
          for (let trial = 0; trial < 6; trial++) {
            const [h, w] = [4 + Math.floor(rng() * 8), 4 + Math.floor(rng() * 8)];
            const [oh, ow] = [3 + Math.floor(rng() * 8), 3 + Math.floor(rng() * 8)];
            const image = randomImage(rng, h, w);
            const theta = randomTheta(rng, 0.8);
            const background = trial % 2 ? -0.42 : 0;
            const expected = spatialTransformNaive(image, theta, [oh, ow], { alignCorners, background });
            const fused = tf.tidy(() => asImage(spatialTransform(asTensor(image), tf.tensor2d([theta]), [oh, ow], { alignCorners, background })));
            const composed = tf.tidy(() => asImage(bilinearSample(asTensor(image), affineGrid(tf.tensor2d([theta]), [oh, ow], { alignCorners }), { alignCorners, background })));
            assert.ok(maxAbsDiff(fused, expected) < 1e-5, `fused: ${maxAbsDiff(fused, expected)}`);
            assert.ok(maxAbsDiff(composed, expected) < 1e-5, `composed: ${maxAbsDiff(composed, expected)}`);
          }
        });

        it('the grid is θ applied to the output pixel coordinates', () => {
          const theta = [0.8, -0.3, 0.1, 0.25, 0.9, -0.2];
          const grid = tf.tidy(() => affineGrid(tf.tensor2d([theta]), [3, 4], { alignCorners }).arraySync() as number[][][][]);
          const naive = affineGridNaive(theta, [3, 4], { alignCorners });
          for (let i = 0; i < 3; i++) {
            for (let j = 0; j < 4; j++) {
              const xt = normalisedCoordinate(j, 4, alignCorners), yt = normalisedCoordinate(i, 3, alignCorners);
              const p = applyTheta(theta, xt, yt);
              assert.ok(Math.abs(grid[0][i][j][0] - p.x) < 1e-6 && Math.abs(grid[0][i][j][1] - p.y) < 1e-6);
              assert.ok(Math.abs(naive[i][j].x - p.x) < 1e-12 && Math.abs(naive[i][j].y - p.y) < 1e-12);
            }
          }
        });

        it('a 90° rotation permutes the pixels; a whole-pixel translation shifts them', () => {
          const rng = mulberry32(4);
          const n = 6;
          const image = randomImage(rng, n, n);
          // (xˢ, yˢ) = (−yᵗ, xᵗ): output (i, j) reads input row j, column n−1−i.
          const rotated = tf.tidy(() => asImage(spatialTransform(asTensor(image), tf.tensor2d([[0, -1, 0, 1, 0, 0]]), n, { alignCorners })));
          for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) assert.equal(rotated[i][j], Math.fround(image[j][n - 1 - i]));
          // Shift by k pixels: k pixel steps in normalised units (2/n, or 2/(n−1) with aligned corners).
          const k = 2, step = alignCorners ? 2 / (n - 1) : 2 / n;
          const shifted = tf.tidy(() => asImage(spatialTransform(asTensor(image), tf.tensor2d([[1, 0, k * step, 0, 1, -k * step]]), n, { alignCorners })));
          for (let i = 0; i < n; i++) {
            for (let j = 0; j < n; j++) {
              const [r, c] = [i - k, j + k];
              const expected = r >= 0 && c < n ? image[r][c] : 0; // outside: the background
              assert.ok(Math.abs(shifted[i][j] - expected) < 1e-5, `(${i}, ${j}): ${shifted[i][j]} vs ${expected}`);
            }
          }
        });

        it('rotation, scale and translation move a blob to where θ⁻¹ says', () => {
          const n = 41;
          // A Gaussian blob at normalised (0.3, −0.2) of the input.
          const [bx, by] = [0.3, -0.2];
          const image = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => {
            const [x, y] = [normalisedCoordinate(j, n, alignCorners), normalisedCoordinate(i, n, alignCorners)];
            return Math.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * 0.06 ** 2));
          }));
          for (const p of [{ rotation: 30, scale: 0.8, tx: 0.1, ty: 0.05 }, { rotation: -60, scale: 1.1, tx: -0.2, ty: 0.1 }]) {
            const theta = thetaFromParams(p);
            const out = tf.tidy(() => asImage(spatialTransform(asTensor(image), tf.tensor2d([theta]), n, { alignCorners })));
            // Centroid of the output, in normalised output coordinates.
            let [sum, sx, sy] = [0, 0, 0];
            out.forEach((row, i) => row.forEach((v, j) => {
              sum += v; sx += v * normalisedCoordinate(j, n, alignCorners); sy += v * normalisedCoordinate(i, n, alignCorners);
            }));
            // θ maps the target point to the blob: solve θ·(x, y, 1) = (bx, by).
            const [a, b, c, d, e, f] = theta;
            const det = a * e - b * d;
            const [ex, ey] = [(e * (bx - c) - b * (by - f)) / det, (a * (by - f) - d * (bx - c)) / det];
            assert.ok(Math.abs(sx / sum - ex) < 0.01 && Math.abs(sy / sum - ey) < 0.01,
              `${JSON.stringify(p)}: blob at (${(sx / sum).toFixed(3)}, ${(sy / sum).toFixed(3)}), θ⁻¹ says (${ex.toFixed(3)}, ${ey.toFixed(3)})`);
          }
        });

        it('resizing with the identity θ matches tf.image.resizeBilinear with the same corner convention', () => {
          const rng = mulberry32(5);
          const image = randomImage(rng, 8, 8);
          // Without aligned corners, downsampling by 2 reads between pixel pairs and never leaves the image.
          const size = alignCorners ? 5 : 4;
          const ours = tf.tidy(() => asImage(spatialTransform(asTensor(image), tf.tensor2d([IDENTITY_THETA as number[]]), size, { alignCorners })));
          const theirs = tf.tidy(() => asImage(tf.image.resizeBilinear(asTensor(image), [size, size], alignCorners, !alignCorners)));
          assert.ok(maxAbsDiff(ours, theirs) < 1e-5, `max difference ${maxAbsDiff(ours, theirs)}`);
        });

        it('gradients match finite differences, for θ and for the image', () => {
          const rng = mulberry32(6);
          const [h, w, oh, ow] = [7, 6, 5, 4];
          for (let trial = 0; trial < 3; trial++) {
            const image = randomImage(rng, h, w);
            const weights = randomImage(rng, oh, ow).map((row) => row.map((v) => v - 0.5)); // loss = Σ out·weights
            const background = trial === 2 ? 0.3 : 0;
            const options = { alignCorners, background };
            let theta = randomTheta(rng, 0.5);
            // Keep sample points away from pixel boundaries, where the bilinear map has kinks.
            const nearKink = (t: number[]) => affineGridNaive(t, [oh, ow], options).flat().some((p) =>
              [pixelCoordinate(p.x, w, alignCorners), pixelCoordinate(p.y, h, alignCorners)].some((u) => Math.abs(u - Math.round(u)) < 1e-3));
            while (nearKink(theta)) theta = randomTheta(rng, 0.5);
            const loss = (im: Image, t: number[]) => spatialTransformNaive(im, t, [oh, ow], options)
              .reduce((s, row, i) => s + row.reduce((a, v, j) => a + v * weights[i][j], 0), 0);
            const eps = 1e-6;
            const fdTheta = theta.map((_, k) => {
              const [up, down] = [theta.slice(), theta.slice()];
              up[k] += eps; down[k] -= eps;
              return (loss(image, up) - loss(image, down)) / (2 * eps);
            });
            const fdImage = image.map((row, i) => row.map((_, j) => {
              const bumped = image.map((r) => r.slice());
              bumped[i][j] += 1; // the loss is linear in the image
              return loss(bumped, theta) - loss(image, theta);
            }));
            for (const route of ['fused', 'composed'] as const) {
              const [gImage, gTheta] = tf.tidy(() => {
                const wt = tf.tensor4d(weights.flat(), [1, oh, ow, 1]);
                const f = (im: tf.Tensor, t: tf.Tensor) => tf.sum(tf.mul(route === 'fused'
                  ? spatialTransform(im, t, [oh, ow], options)
                  : bilinearSample(im, affineGrid(t, [oh, ow], { alignCorners }), options), wt));
                const [gi, gt] = tf.grads(f)([asTensor(image), tf.tensor2d([theta])]);
                return [asImage(gi), (gt.arraySync() as number[][])[0]];
              }) as [Image, number[]];
              const scale = Math.max(1, ...fdTheta.map(Math.abs));
              gTheta.forEach((g, k) => assert.ok(Math.abs(g - fdTheta[k]) < 2e-4 * scale, `${route} ∂/∂θ${k}: ${g} vs finite difference ${fdTheta[k]}`));
              assert.ok(maxAbsDiff(gImage, fdImage) < 1e-5, `${route} ∂/∂image: max difference ${maxAbsDiff(gImage, fdImage)}`);
            }
          }
        });
      });
    }

    it('out-of-range samples take the background value of the image the sampler reads', () => {
      const rng = mulberry32(7);
      const raw = randomImage(rng, 6, 6);
      const far = tf.tensor2d([[1, 0, 5, 0, 1, 5]]); // the window lies entirely outside
      const all = tf.tidy(() => asImage(spatialTransform(asTensor(raw), far, 4, { background: -0.7 })));
      all.flat().forEach((v) => assert.ok(Math.abs(v + 0.7) < 1e-6));
      // Normalising commutes with sampling only with the normalised blank as background.
      const norm = { mean: 0.1307, std: 0.3081 };
      const normalise = (t: tf.Tensor) => tf.div(tf.sub(t, norm.mean), norm.std);
      const theta = tf.tensor2d([[1.3, 0.2, 0.1, -0.1, 1.2, 0]]); // zoomed out: part of the grid is outside
      const [right, wrong, expected] = tf.tidy(() => [
        asImage(spatialTransform(normalise(asTensor(raw)), theta, 6, { background: backgroundFor(norm) })),
        asImage(spatialTransform(normalise(asTensor(raw)), theta, 6, { background: 0 })),
        asImage(normalise(spatialTransform(asTensor(raw), theta, 6, { background: 0 }))),
      ]);
      assert.ok(maxAbsDiff(right, expected) < 1e-5, 'background = (0 − mean)/std');
      assert.ok(maxAbsDiff(wrong, expected) > 0.1, 'background 0 on a normalised image is a grey frame (the tutorial bug)');
      tf.dispose([far, theta]);
    });

    it('bilinearPoint: the four neighbours, their weights and the value', () => {
      const image = [[0, 1, 2], [3, 4, 5], [6, 7, 8]];
      // Pixel (u, v) = (0.25, 1.5) with aligned corners: x = 2u/2 − 1, y = 2v/2 − 1.
      const s = bilinearPoint(image, 0.25 - 1, 1.5 - 1, { alignCorners: true });
      assert.deepEqual(s.neighbours.map((n) => [n.row, n.col]), [[1, 0], [1, 1], [2, 0], [2, 1]]);
      assert.deepEqual(s.neighbours.map((n) => n.weight), [0.375, 0.125, 0.375, 0.125]);
      assert.ok(Math.abs(s.value - (3 * 0.375 + 4 * 0.125 + 6 * 0.375 + 7 * 0.125)) < 1e-12);
      const edge = bilinearPoint(image, 1, 1, { alignCorners: false, background: 10 }); // pixel (2.5, 2.5): 3 of 4 neighbours outside
      assert.equal(edge.neighbours.filter((n) => !n.inside).length, 3);
      assert.equal(edge.value, 0.25 * 8 + 0.75 * 10);
    });

    it('a batch samples each image with its own θ, and θ may be [batch, 2, 3]', () => {
      const rng = mulberry32(8);
      const images = [randomImage(rng, 5, 5), randomImage(rng, 5, 5)];
      const thetas = [randomTheta(rng), randomTheta(rng)];
      const out = tf.tidy(() => spatialTransform(tf.tensor4d(images.flat(2), [2, 5, 5, 1]), tf.tensor3d(thetas.map((t) => [t.slice(0, 3), t.slice(3)])), 4)
        .squeeze([3]).arraySync() as Image[]);
      out.forEach((o, b) => assert.ok(maxAbsDiff(o, spatialTransformNaive(images[b], thetas[b], 4)) < 1e-5));
    });

    it('leaks no tensor (forward and gradient)', () => {
      const image = tf.randomUniform([3, 9, 9, 2]);
      const theta = tf.tensor2d([IDENTITY_THETA as number[], [0.9, 0.1, 0, -0.1, 0.8, 0.1], [1.2, 0, 0.3, 0, 1.2, 0]]);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        spatialTransform(image, theta, 7).dispose();
        tf.tidy(() => { tf.grads((a: tf.Tensor, b: tf.Tensor) => spatialTransform(a, b, 7).sum())([image, theta]); });
        tf.tidy(() => { tf.grads((a: tf.Tensor, b: tf.Tensor) => bilinearSample(a, affineGrid(b, 7)).sum())([image, theta]); });
        affineGrid(theta, [4, 5]).dispose();
      }
      assert.equal(tf.memory().numTensors, before);
      tf.dispose([image, theta]);
    });

    it('bad input is refused with a message that says what to do', () => {
      const image = tf.zeros([2, 5, 5, 1]);
      assert.throws(() => spatialTransform(tf.zeros([5, 5]), tf.zeros([1, 6]), 3), /\[batch, height, width, channels\].*expandDims/);
      assert.throws(() => spatialTransform(image, tf.zeros([2, 4]), 3), /θ must be \[batch, 6\] or \[batch, 2, 3\]/);
      assert.throws(() => spatialTransform(image, tf.zeros([3, 6]), 3), /θ has 3 rows for a batch of 2 images/);
      assert.throws(() => spatialTransform(image, tf.zeros([2, 6]), 0), /outSize must be a positive integer/);
      assert.throws(() => spatialTransform(image, tf.zeros([2, 6]), 3, { background: NaN }), /background must be a finite number/);
      assert.throws(() => bilinearSample(image, tf.zeros([2, 3, 3, 3])), /grid must be \[2, outH, outW, 2\]/);
      assert.throws(() => applyTheta([1, 0, 0], 0, 0), /θ must be 6 numbers/);
      assert.throws(() => backgroundFor({ mean: 0.1, std: 0 }), /std must be > 0/);
      tf.dispose(image);
    });
  });
}

describe('stn layer and models', function () {
  this.timeout(60_000);
  before(async () => { await setup({ backend: 'wasm', quiet: true, seed: 2 }); });

  it('an untrained ST model passes the image through (identity θ at initialisation)', () => {
    const model = createDigitClassifier({ inputSize: 28, kind: 'cnn', transformer: { outSize: 28 } });
    const rng = mulberry32(9);
    const images = Float32Array.from({ length: 2 * 28 * 28 }, () => rng());
    const { theta, sampled } = transformerOutputs(model, images, 2, 28);
    theta.forEach((t) => t.forEach((v, k) => assert.ok(Math.abs(v - IDENTITY_THETA[k]) < 1e-7)));
    assert.ok(Math.abs(sampled[1][3][4] - images[28 * 28 + 3 * 28 + 4]) < 1e-6);
    assert.equal(resetToIdentity(model), 1);
    disposeClassifier(model);
  });

  it("the localisation net's activation is an option (relu by default) and the net still starts at the identity", () => {
    const activations = (m: tf.LayersModel) => m.layers.filter((l) => /^loc_(conv|hidden)/.test(l.name)).map((l) => (l.getConfig() as { activation?: string }).activation);
    const plain = createDigitClassifier({ inputSize: 28, kind: 'cnn', transformer: { outSize: 28 } });
    const tanh = createDigitClassifier({ inputSize: 28, kind: 'cnn', transformer: { outSize: 28, localisation: { activation: 'tanh' } } });
    assert.deepEqual(activations(plain), ['relu', 'relu', 'relu']);
    assert.deepEqual(activations(tanh), ['tanh', 'tanh', 'tanh']);
    const images = Float32Array.from({ length: 28 * 28 }, (_, i) => (i % 7) / 7);
    transformerOutputs(tanh, images, 1, 28).theta[0].forEach((v, k) => assert.ok(Math.abs(v - IDENTITY_THETA[k]) < 1e-7));
    disposeClassifier(plain);
    disposeClassifier(tanh);
  });

  it('the SpatialTransformer layer checks its inputs and serialises its settings', () => {
    const st = new SpatialTransformer({ outSize: [10, 12], alignCorners: true, background: -1 });
    assert.deepEqual(st.computeOutputShape([[null, 20, 20, 3], [null, 6]]), [null, 10, 12, 3]);
    assert.throws(() => st.computeOutputShape([null, 20, 20, 3]), /two inputs, \[features, theta\]/);
    assert.throws(() => st.computeOutputShape([[null, 20, 20, 3], [null, 4]]), /θ must be \[batch, 6\]/);
    assert.deepEqual([st.getConfig().outSize, st.getConfig().alignCorners, st.getConfig().background], [[10, 12], true, -1]);
    assert.throws(() => new SpatialTransformer({ outSize: 0 }), /outSize must be a positive integer/);
  });

  it('gradients reach the localisation network through the sampler (one step changes θ)', async () => {
    const model = createDigitClassifier({ inputSize: 28, kind: 'cnn', transformer: { outSize: 20 }, learningRate: 0.01 });
    const x = tf.randomUniform([8, 28, 28, 1]);
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 10));
    const before = tf.memory().numTensors;
    const head = model.getLayer(THETA_LAYER);
    const kernelBefore = head.getWeights()[0].dataSync().slice();
    await model.trainOnBatch(x, y);
    const moved = Math.max(...Array.from(head.getWeights()[0].dataSync()).map((v, i) => Math.abs(v - kernelBefore[i])));
    assert.ok(moved > 0, 'the θ layer did not move');
    const afterFirst = tf.memory().numTensors; // Adam's state, made by the first step
    await model.trainOnBatch(x, y);
    assert.equal(tf.memory().numTensors, afterFirst, 'a training step leaks no tensor');
    assert.ok(afterFirst - before <= 2 * model.trainableWeights.length + 2);
    tf.dispose([x, y]);
    disposeClassifier(model);
  });

  it('a transformer inside a network (on a feature map) passes gradients back to the layers before it', async () => {
    const input = tf.input({ shape: [16, 16, 1] });
    const features = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'before' }).apply(input) as tf.SymbolicTensor;
    const flat = tf.layers.flatten().apply(tf.layers.averagePooling2d({ poolSize: 4 }).apply(features)) as tf.SymbolicTensor;
    const theta = tf.layers.dense({ units: 6, kernelInitializer: 'zeros', biasInitializer: tf.initializers.constant({ value: 0.5 }), name: 'loc_theta' }).apply(flat) as tf.SymbolicTensor;
    const warped = new SpatialTransformer({ outSize: 8, name: 'inside' }).apply([features, theta]) as tf.SymbolicTensor;
    const output = tf.layers.dense({ units: 4, activation: 'softmax' }).apply(tf.layers.flatten().apply(warped)) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: output });
    assert.deepEqual(model.getLayer('inside').outputShape, [null, 8, 8, 3]);
    model.compile({ optimizer: tf.train.sgd(0.5), loss: 'categoricalCrossentropy' });
    const x = tf.randomUniform([4, 16, 16, 1]);
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 4));
    const before = model.getLayer('before').getWeights()[0].dataSync().slice();
    await model.trainOnBatch(x, y);
    const after = model.getLayer('before').getWeights()[0].dataSync();
    assert.ok(Array.from(after).some((v, i) => v !== before[i]), 'the conv before the transformer did not learn');
    tf.dispose([x, y]);
    disposeClassifier(model);
  });

  it('matched pairs have the same parameter budget (within one hidden unit)', () => {
    for (const distortion of ['R', 'RTS', 'TC'] as const) {
      for (const kind of ['cnn', 'fcn'] as const) {
        const pair = matchedPair({ kind, distortion });
        const [plain, st] = [classifierParams(pair.plain), classifierParams(pair.st)];
        assert.equal(plain, pair.params.plain, 'the formula agrees with the model');
        assert.equal(st, pair.params.st);
        const unit = classifierParams({ ...pair.plain, hidden: (pair.plain.hidden ?? 0) + 1 }) - plain; // one more hidden unit
        assert.ok(Math.abs(plain - st) <= unit / 2, `${kind} ${distortion}: ${plain} vs ${st} (one unit: ${unit})`);
      }
    }
  });
});

describe('distorted MNIST', function () {
  this.timeout(60_000);
  let digits: DigitSet;
  before(() => { digits = splitDigits(loadMnistDigits(), { testFraction: 0.2, seed: 42 }).test; });

  it('every distortion is seeded, sized as in the paper, in [0, 1] and keeps the label', () => {
    for (const kind of DISTORTIONS) {
      const a = distortedExample(kind, digits, 17, 3);
      const b = distortedExample(kind, digits, 17, 3);
      const c = distortedExample(kind, digits, 17, 4);
      assert.deepEqual(a.pixels, b.pixels, `${kind}: same seed and index, same image`);
      assert.notDeepEqual(a.pixels, c.pixels, `${kind}: another seed, another distortion`);
      assert.equal(a.size, DISTORTION_SIZE[kind]);
      assert.equal(a.pixels.length, a.size * a.size);
      assert.equal(a.label, digits.labels[17]);
      assert.ok(a.pixels.every((v) => v >= 0 && v <= 1));
      const ink = a.pixels.reduce((s, v) => s + v, 0);
      assert.ok(ink > 10, `${kind}: the digit is visible (ink ${ink.toFixed(1)})`);
    }
    assert.equal(distortedExample('R', digits, digits.count + 5, 1).digit, 5, 'indices past the set cycle through the digits');
    assert.throws(() => distortedExample('X' as 'R', digits, 0, 0), /unknown distortion 'X': use one of R, RTS, P, E, TC/);
  });

  it('the affine distortions draw the digit where their placement says', () => {
    for (const kind of ['R', 'RTS', 'TC'] as const) {
      for (let i = 0; i < 5; i++) {
        const ex = distortedExample(kind, digits, i, 11, { clutterPieces: 0 });
        const A = ex.placement!;
        // The digit's own ink centroid (normalised in its 28×28 frame), mapped by A…
        const px = 28 * 28;
        const own = digits.images.subarray(ex.digit * px, (ex.digit + 1) * px);
        const centroid = (im: ArrayLike<number>, n: number) => {
          let [s, x, y] = [0, 0, 0];
          for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) { const v = im[r * n + c]; s += v; x += v * ((2 * c + 1) / n - 1); y += v * ((2 * r + 1) / n - 1); }
          return [x / s, y / s];
        };
        const [dx, dy] = centroid(own, 28);
        const expected = [A[0] * dx + A[1] * dy + A[2], A[3] * dx + A[4] * dy + A[5]];
        const [gx, gy] = centroid(ex.pixels, ex.size);
        const tol = 3 / ex.size; // a pixel or so: interpolation and clipping at the canvas edge
        assert.ok(Math.abs(gx - expected[0]) < tol && Math.abs(gy - expected[1]) < tol, `${kind} #${i}: (${gx.toFixed(3)}, ${gy.toFixed(3)}) vs (${expected[0].toFixed(3)}, ${expected[1].toFixed(3)})`);
      }
    }
    const rts = Array.from({ length: 200 }, (_, i) => distortedExample('RTS', digits, i, 5).params);
    assert.ok(rts.every((p) => Math.abs(p.angle) <= 45 && p.scale >= 0.7 && p.scale <= 1.2));
    const r = Array.from({ length: 200 }, (_, i) => distortedExample('R', digits, i, 5).params.angle);
    assert.ok(Math.min(...r) < -80 && Math.max(...r) > 80 && r.every((a) => Math.abs(a) <= 90));
  });

  it('cluttered images carry 6 crops of other digits; without clutter only the digit', () => {
    const clean = distortedExample('TC', digits, 3, 9, { clutterPieces: 0 });
    const cluttered = distortedExample('TC', digits, 3, 9);
    const extra = cluttered.pixels.reduce((n, v, i) => n + (v > clean.pixels[i] + 1e-6 ? 1 : 0), 0);
    assert.ok(extra > 10 && extra <= 6 * 36, `${extra} pixels of clutter`);
  });

  it('homography maps the four points exactly', () => {
    const from: [number, number][] = [[-0.7, -0.8], [0.8, -0.7], [0.75, 0.7], [-0.8, 0.75]];
    const to: [number, number][] = [[-1, -1], [1, -1], [1, 1], [-1, 1]];
    const H = homography(from, to);
    from.forEach(([x, y], k) => {
      const w = H[6] * x + H[7] * y + H[8];
      assert.ok(Math.abs((H[0] * x + H[1] * y + H[2]) / w - to[k][0]) < 1e-9 && Math.abs((H[3] * x + H[4] * y + H[5]) / w - to[k][1]) < 1e-9);
    });
  });

  it('training data gives fresh distortions each epoch; sets and batches have the right shapes', () => {
    const data = distortedTrainData('RTS', digits, { epochSize: 10, seed: 1 });
    const first = data.batch([0, 1]);
    data.nextEpoch();
    const second = data.batch([0, 1]);
    assert.deepEqual((first.xs as tf.Tensor).shape, [2, 42, 42, 1]);
    assert.deepEqual((first.ys as tf.Tensor).shape, [2, 10]);
    assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(first.xs as tf.Tensor, second.xs as tf.Tensor))).dataSync()[0]) > 0.1);
    tf.dispose([first.xs as tf.Tensor, first.ys as tf.Tensor, second.xs as tf.Tensor, second.ys as tf.Tensor]);
    const set = distortedSet('P', digits, { count: 4, seed: 2 });
    assert.equal(set.images.length, 4 * 28 * 28);
    assert.deepEqual(Array.from(set.labels), Array.from(digits.labels.subarray(0, 4)));
    assert.notEqual(distortionRng(1, 2)(), distortionRng(2, 1)());
  });

  it('digitTestError counts mistakes (an untrained model is near chance)', async () => {
    await setup({ backend: 'wasm', quiet: true, seed: 3 });
    const model = createDigitClassifier({ inputSize: 28, kind: 'fcn', hidden: 16 });
    const set = distortedSet('R', digits, { count: 100, seed: 1 });
    const before = tf.memory().numTensors;
    const error = digitTestError(model, set, 32);
    assert.equal(tf.memory().numTensors, before);
    assert.ok(error > 0.6 && error <= 1, `untrained error ${error}`);
    disposeClassifier(model);
  });
});

describe('MNIST IDX loader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stn-idx-'));
  const count = 3;
  const pixels = Uint8Array.from({ length: count * 28 * 28 }, (_, i) => (i * 37) % 256);
  const labels = Uint8Array.from([7, 0, 9]);
  const write = (name: string, bytes: Uint8Array) => { const p = join(dir, name); writeFileSync(p, bytes); return p; };
  const imagesRaw = write('images-idx3-ubyte', encodeIdx([count, 28, 28], pixels));
  const labelsRaw = write('labels-idx1-ubyte', encodeIdx([count], labels));
  const imagesGz = write('images-idx3-ubyte.gz', gzipSync(encodeIdx([count, 28, 28], pixels)));
  const labelsGz = write('labels-idx1-ubyte.gz', gzipSync(encodeIdx([count], labels)));

  it('reads images and labels, gzipped or not, into a DigitSet in [0, 1]', () => {
    for (const [images, labelFile] of [[imagesRaw, labelsRaw], [imagesGz, labelsGz], [imagesGz, labelsRaw]]) {
      const set = loadMnistIdx({ images, labels: labelFile });
      assert.equal(set.count, 3);
      assert.deepEqual(Array.from(set.labels), [7, 0, 9]);
      assert.equal(set.images.length, 3 * 784);
      assert.equal(set.images[5], Math.fround(pixels[5] / 255));
      assert.equal(set.images[784 * 2 + 100], Math.fround(pixels[784 * 2 + 100] / 255));
    }
    assert.deepEqual(readIdxFile(labelsGz).dims, [3]);
  });

  it('a loaded set feeds the generators like the npm digits', () => {
    const set = loadMnistIdx({ images: imagesGz, labels: labelsGz });
    assert.equal(distortedExample('RTS', set, 2, 1).label, 9);
  });

  it('a wrong magic number, a truncated file or mismatched files fail with a clear message', () => {
    const text = write('notes.txt', new TextEncoder().encode('hello, this is not IDX'));
    assert.throws(() => readIdxFile(text), /wrong magic number 0x68656c6c: not an IDX file \(MNIST images start with 0x00000803, labels with 0x00000801\)/);
    const full = encodeIdx([count, 28, 28], pixels);
    const cut = write('cut-idx3-ubyte', full.subarray(0, full.length - 100));
    assert.throws(() => readIdxFile(cut), /truncated: the header says 3×28×28 = 2352 bytes of data, the file has 2252\. Download the file again/);
    const cutGz = write('cut.gz', gzipSync(full).subarray(0, 40));
    assert.throws(() => readIdxFile(cutGz), /truncated or corrupt gzip data/);
    assert.throws(() => parseIdx(Uint8Array.from([0, 0, 8])), /truncated: 3 bytes, too short for an IDX header/);
    assert.throws(() => parseIdx(Uint8Array.from([0, 0, 8, 2, 0, 0])), /header announces 2 dimensions/);
    assert.throws(() => loadMnistIdx({ images: labelsRaw, labels: labelsRaw }), /expected images of shape \[count, 28, 28\], got \[3\] \(is this a labels file\?\)/);
    assert.throws(() => loadMnistIdx({ images: imagesRaw, labels: imagesRaw }), /expected labels of shape \[count\]/);
    const two = write('two-labels', encodeIdx([2], Uint8Array.from([1, 2])));
    assert.throws(() => loadMnistIdx({ images: imagesRaw, labels: two }), /has 3 images but .* has 2 labels/);
    assert.throws(() => readIdxFile(join(dir, 'missing')), /cannot read .*missing.*give the path of an MNIST IDX file/);
  });
});

describe('stn weights (tfjs layers-model format, float16)', function () {
  this.timeout(60_000);
  before(async () => { await setup({ backend: 'wasm', quiet: true, seed: 4 }); });

  it('toFloat16Bits rounds like IEEE half precision', () => {
    const cases: [number, number][] = [[1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [1e6, 0x7c00], [0.1, 0x2e66], [6.103515625e-5, 0x0400], [5.960464477539063e-8, 0x0001], [1e-9, 0], [0, 0]];
    for (const [value, bits] of cases) assert.equal(toFloat16Bits(value), bits, `${value}`);
    assert.equal(toFloat16Bits(NaN) & 0x7c00, 0x7c00);
  });

  it('a saved ST model loads back (custom layer included) and predicts the same', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stn-weights-'));
    const model = createDigitClassifier({ inputSize: 42, kind: 'cnn', filters: [4, 8], hidden: 8, transformer: { outSize: 20, localisation: { downsample: 2 } } });
    // Move θ away from the identity so the sampler's settings matter.
    const head = model.getLayer(THETA_LAYER);
    const moved = [tf.randomNormal(head.getWeights()[0].shape, 0, 0.01), tf.tensor1d([0.8, 0.1, 0.05, -0.1, 0.9, 0])];
    head.setWeights(moved);
    tf.dispose(moved);
    const record = { distortion: 'RTS' as const, model: 'st-cnn', params: model.countParams(), steps: 0, batchSize: 1, seed: 4, trainingDigits: 0, testError: 1, seconds: 0, backend: 'wasm', command: 'test' };
    const x = tf.randomUniform([3, 42, 42, 1]);
    const expected = tf.tidy(() => (model.predict(x) as tf.Tensor).arraySync() as number[][]);
    for (const float16 of [false, true]) {
      await saveClassifier(model, dir, `m${float16}`, record, { float16 });
      const { model: loaded, record: back } = await loadClassifier(dir, `m${float16}`);
      assert.deepEqual(back, record);
      const got = tf.tidy(() => (loaded.predict(x) as tf.Tensor).arraySync() as number[][]);
      const worst = Math.max(...got.flat().map((v, k) => Math.abs(v - expected.flat()[k])));
      assert.ok(worst < (float16 ? 1e-2 : 1e-6), `float16 ${float16}: predictions differ by ${worst}`);
      assert.ok(loaded.getLayer('sampler') instanceof SpatialTransformer);
      disposeClassifier(loaded);
    }
    tf.dispose(x);
    disposeClassifier(model);
    await assert.rejects(loadClassifier(dir, 'missing'), /no saved classifier .*train-weights\.ts/);
    writeFileSync(join(dir, 'mtrue.weights.bin'), new Uint8Array(10));
    await assert.rejects(loadClassifier(dir, 'mtrue'), /has 10 bytes, the manifest needs \d+: a truncated or mismatched weights file/);
  });

  it('stnTableModels loads a shipped table, skipping missing FCN weights', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stn-table-'));
    const recipe = { ...STN_RECIPE, filters: [2, 2] as [number, number] };
    for (const name of ['cnn', 'st-cnn'] as const) {
      const model = createStnTableModel('R', name, recipe);
      await saveClassifier(model, dir, weightsName('R', name), { distortion: 'R', model: name, params: model.countParams(), steps: 1, batchSize: 1, seed: 1, trainingDigits: 1, testError: 1, seconds: 1, backend: 'wasm', command: 'test' });
      disposeClassifier(model);
    }
    const before = tf.memory().numTensors;
    const table = await stnTableModels({ mode: 'shipped', trainDigits: loadMnistDigits(), distortions: ['R'], models: ['cnn', 'st-cnn', 'fcn'], dir });
    assert.deepEqual(table.records.map((r) => r.model), ['cnn', 'st-cnn']);
    const digits = splitDigits(loadMnistDigits(), { testFraction: 0.2, seed: 42 }).test;
    const rows = stnTableErrors(table, { R: distortedSet('R', digits, { count: 20, seed: 1 }) });
    assert.deepEqual(rows.map((r) => r.model), ['CNN', 'ST-CNN']);
    rows.forEach((r) => assert.ok(r.errors.R! >= 0 && r.errors.R! <= 1));
    disposeStnTable(table);
    assert.equal(tf.memory().numTensors, before);
    await assert.rejects(stnTableModels({ mode: 'shipped', trainDigits: digits, distortions: ['P'], dir }), /no saved classifier/);
  });
});

describe('stn figures', function () {
  this.timeout(60_000);
  const digits = () => splitDigits(loadMnistDigits(), { testFraction: 0.2, seed: 42 }).test;

  /** Rows of the explorer's output dataset (i, j, value) after the view ran. */
  function explorerValues(view: vega.View, names: string[]): Map<string, number> {
    const rows = names.map((name) => view.data(name) as { i?: number; j?: number; value?: number }[])
      .find((values) => values.length > 0 && values.every((r) => typeof r.value === 'number' && typeof r.i === 'number'));
    assert.ok(rows, 'no dataset with sampled values found');
    return new Map(rows.map((r) => [`${r.i},${r.j}`, r.value!]));
  }

  it('the explorer samples in vega exactly what the library samples, after moving sliders too', () => {
    const ex = distortedExample('RTS', digits(), 5, 7);
    const image = exampleRows(ex.pixels, ex.size).map((row) => row.map((v) => Math.round(v * 1000) / 1000)); // the figure keeps 3 decimals
    for (const alignCorners of [false, true]) {
      const spec = transformerExplorer(image, { outSize: 12, alignCorners, rotation: 20, scale: 0.8 });
      const compiled = vl.compile(spec).spec;
      const names = (compiled.data ?? []).map((d) => d.name);
      const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
      view.run();
      const settings: [string, number][][] = [[], [['rotation', -70], ['scale', 1.3], ['tx', 0.2]], [['d12', 0.3], ['d23', -0.4]]];
      let theta = thetaFromParams({ rotation: 20, scale: 0.8 });
      for (const moves of settings) {
        for (const [name, value] of moves) view.signal(name, value);
        view.run();
        const s = (name: string) => view.signal(name) as number;
        theta = [s('t11'), s('t12'), s('t13'), s('t21'), s('t22'), s('t23')];
        const expected = spatialTransformNaive(image, theta, 12, { alignCorners });
        const got = explorerValues(view, names);
        assert.equal(got.size, 144);
        for (let i = 0; i < 12; i++) for (let j = 0; j < 12; j++) assert.ok(Math.abs(got.get(`${i},${j}`)! - expected[i][j]) < 1e-6, `(${i}, ${j}): ${got.get(`${i},${j}`)} vs ${expected[i][j]} after ${JSON.stringify(moves)}`);
      }
      view.finalize();
    }
    const geometric = thetaFromParams({ rotation: -70, scale: 1.3, tx: 0.2 });
    assert.ok(Math.abs(geometric[0] - 1.3 * Math.cos(-70 * Math.PI / 180)) < 1e-12);
  });

  it('every figure renders to SVG and carries its sliders', () => {
    const d = digits();
    const digit = digitImage(d, 0);
    const theta = thetaFromParams({ rotation: 25, scale: 0.6, tx: 0.1 });
    const specs = {
      affine: affinePixelFigure(digit, theta, { outSize: 6 }),
      grids: samplingGridFigure([{ title: 'a', input: digit, theta }, { title: 'b', input: digit, theta: [...IDENTITY_THETA], caption: 'c' }], { outSize: 10 }),
      bilinear: bilinearFigure([[0, 1], [0.5, 0.25]]),
      explorer: transformerExplorer(digit, { outSize: 10 }),
      diagram: stnDiagramFigure(),
      examples: distortionExamplesFigure([{ name: 'R', examples: [{ pixels: digit, label: 3 }] }]),
      evolution: thetaEvolutionFigure([digit], [{ step: 0, thetas: [[...IDENTITY_THETA]] }, { step: 10, thetas: [theta], error: 0.1 }]),
      table: stnErrorTableFigure([{ model: 'CNN', errors: { R: 0.1, TC: 0.2 } }], { trainingDigits: 8000 }),
    };
    for (const [name, spec] of Object.entries(specs)) {
      const svg = specToSvgSync(spec);
      assert.ok(svg.startsWith('<svg') && svg.length > 500, name);
    }
    const sliders = (spec: object) => ((spec as { params?: { bind?: unknown }[] }).params ?? []).filter((p) => p.bind).length;
    assert.equal(sliders(specs.affine), 1);
    assert.equal(sliders(specs.bilinear), 2);
    assert.equal(sliders(specs.explorer), 10, 'rotation, scale, tx, ty and six raw Δθ');
    assert.match(specToSvgSync(specs.table), /paper: ST-CNN/);
    assert.match(stnErrorTableMarkdown([{ model: 'ST-CNN', errors: { RTS: 0.025 }, params: [1234] }]), /\| ours: ST-CNN \| — \| 2\.5% \| — \| — \| — \| 1,234 \|/);
    assert.match(stnErrorTableMarkdown([{ model: 'CNN', errors: { R: 0.5 }, params: [68920, 80758] }]), /\| ours: CNN \| 50% \| — \| — \| — \| — \| 68,920–80,758 \|/);
    assert.deepEqual(windowOutline([...IDENTITY_THETA]).map((p) => [p.x, p.y]), [[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]]);
    assert.throws(() => thetaEvolutionFigure([digit], [{ step: 0, thetas: [] }]), /has 0 θ for 1 probes/);
    assert.throws(() => bilinearFigure([[0, NaN], [0, 0]]), /2×2 array of numbers/);
  });
});
