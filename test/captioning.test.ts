/**
 * lib/captioning: the scene generator and its grammar, the vocabulary and batches, the soft
 * attention written out by hand against the lib (values and gradients), the LSTM step, the
 * doubly stochastic regulariser, REINFORCE's pieces, greedy and beam decoding, attention
 * correctness, the Flickr8k loader on fixtures, weights on disk, and every figure rendered.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import * as jpeg from 'jpeg-js';
import type { TopLevelSpec } from 'vega-lite';
import { installWasmTrainingKernels } from '../lib/backend/wasm-training';
import { mulberry32 } from '../lib/runtime/random';
import {
  COLOUR_NAMES, DIGIT_WORDS, SCENE_CELL, SCENE_SIZE, attentionCaptionFigure, attentionCorrectness,
  attentionGate, attentionLogits, attentionMassInBox, beamCaption, blendAttention, buildCaptionVocabulary,
  calibrateEncoder, captionCards, captionForward, captionLoss, captionQualityTable, captionTrainingCurves,
  captionDigits, createCaptionVocabulary, createCaptioner, createEncoder, createSceneSet, doublyStochasticPenalty,
  encodeImages, encodeScenes, evaluateCaptioner, expectedContext, greedyCaptions, initialState, loadCaptioning,
  loadFlickr8k, lstmStep, makeCaptionBatch, namedObject, parseFlickrCaptions, prepareAnnotations, readImageFile,
  reinforceLoss, relationsBetween, resizeArea, sampleLocations, saveCaptioning, sceneCaptionDataset, sceneCaptions,
  sceneImagePixels, sceneImages, sceneVocabulary, scenesOf, splitLayouts, tokenizeCaption, trainCaptioner,
  underlinedWordFigure, upsampleAttention, writeFlickrFixture,
  CAPTIONING_RECIPE, DECODER_SETTINGS, recipeDifferences,
  type CaptionSceneSet, type SceneObject,
} from '../lib/captioning';
import { specToSvgSync } from '../lib/plot/svg';

const obj = (digit: number, colour: (typeof COLOUR_NAMES)[number], row: number, col: number): SceneObject => ({
  digit, colour, row, col, digitIndex: 0, box: { x: col * SCENE_CELL, y: row * SCENE_CELL, width: SCENE_CELL, height: SCENE_CELL },
});

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const arr2 = (t: tf.Tensor) => t.arraySync() as number[][];

function renderSvg(spec: TopLevelSpec): { svg: string; messages: string[] } {
  const messages: string[] = [];
  const logger = {
    level: () => logger, info: () => logger, debug: () => logger,
    warn: (...a: unknown[]) => { messages.push(a.join(' ')); return logger; },
    error: (...a: unknown[]) => { messages.push(a.join(' ')); return logger; },
  } as unknown as vega.LoggerInterface;
  vl.compile(spec, { logger });
  return { svg: specToSvgSync(spec), messages };
}

describe('lib/captioning', function () {
  this.timeout(120000);
  let trainSet: CaptionSceneSet;
  let testSet: CaptionSceneSet;

  before(async () => {
    tf.enableProdMode();
    assert.ok(await tf.setBackend('wasm'), 'wasm backend did not initialise');
    await tf.ready();
    installWasmTrainingKernels();
    trainSet = createSceneSet({ split: 'train', size: 300, seed: 1 });
    testSet = createSceneSet({ split: 'test', size: 60, seed: 2 });
  });

  describe('scenes and their grammar', () => {
    it('names relations as a reader would: same row → left/right, same column → above/below, diagonal → both', () => {
      assert.deepEqual(relationsBetween({ row: 0, col: 0 }, { row: 0, col: 2 }), ['left of']);
      assert.deepEqual(relationsBetween({ row: 2, col: 1 }, { row: 0, col: 1 }), ['below']);
      assert.deepEqual(relationsBetween({ row: 0, col: 2 }, { row: 1, col: 0 }), ['above', 'right of']);
      assert.throws(() => relationsBetween({ row: 1, col: 1 }, { row: 1, col: 1 }), /share a cell/);
    });

    it('writes the references of a hand-made scene, forwards and backwards', () => {
      const caps = sceneCaptions([obj(2, 'blue', 1, 1), obj(7, 'red', 0, 0)]).map((c) => c.join(' '));
      assert.deepEqual(caps, [
        'a red seven above a blue two',
        'a red seven left of a blue two',
        'a blue two below a red seven',
        'a blue two right of a red seven',
      ]);
      const row = sceneCaptions([obj(1, 'green', 2, 0), obj(3, 'white', 2, 2), obj(0, 'yellow', 2, 1)]).map((c) => c.join(' '));
      assert.deepEqual(row, [
        'a green one left of a yellow zero left of a white three',
        'a white three right of a yellow zero right of a green one',
      ]);
    });

    it('draws the same scene from the same seed, with 2–4 distinct objects, every one named in every reference', () => {
      const again = createSceneSet({ split: 'train', size: 300, seed: 1 });
      for (let i = 0; i < 50; i++) {
        const s = trainSet.scene(i);
        assert.deepEqual(s.objects, again.scene(i).objects);
        assert.deepEqual(Array.from(s.image.slice(0, 500)), Array.from(again.scene(i).image.slice(0, 500)));
        assert.ok(s.objects.length >= 2 && s.objects.length <= 4);
        assert.equal(new Set(s.objects.map((o) => `${o.colour} ${o.digit}`)).size, s.objects.length);
        assert.ok(s.references.length >= 2, 'several references per image');
        for (const ref of s.references) {
          for (const o of s.objects) assert.ok(ref.join(' ').includes(`${o.colour} ${DIGIT_WORDS[o.digit]}`), `${ref.join(' ')} misses ${o.colour} ${o.digit}`);
        }
        for (const o of s.objects) {
          assert.ok(o.box.x >= 0 && o.box.y >= 0 && o.box.x + o.box.width <= SCENE_SIZE && o.box.y + o.box.height <= SCENE_SIZE);
          assert.equal(trainSet.digits.labels[o.digitIndex], o.digit);
        }
      }
      assert.notDeepEqual(createSceneSet({ split: 'train', size: 300, seed: 9 }).scene(0).objects, trainSet.scene(0).objects);
    });

    it('paints each object inside its box, in its colour, and nothing outside the boxes', () => {
      const s = trainSet.scene(3);
      for (let y = 0; y < SCENE_SIZE; y++) {
        for (let x = 0; x < SCENE_SIZE; x++) {
          const o = s.objects.find((b) => x >= b.box.x && x < b.box.x + b.box.width && y >= b.box.y && y < b.box.y + b.box.height);
          const px = [0, 1, 2].map((c) => s.image[(y * SCENE_SIZE + x) * 3 + c]);
          if (!o) assert.deepEqual(px, [0, 0, 0]);
        }
      }
      const o = s.objects[0];
      let ink = 0;
      for (let y = o.box.y; y < o.box.y + o.box.height; y++) for (let x = o.box.x; x < o.box.x + o.box.width; x++) ink += s.image[(y * SCENE_SIZE + x) * 3];
      assert.ok(ink > 1, 'the digit is drawn');
    });

    it('keeps test layouts and test digit images out of training', () => {
      for (const n of [2, 3, 4]) {
        const tr = new Set(splitLayouts(n, 'train').map((l) => l.join()));
        const te = splitLayouts(n, 'test');
        assert.ok(te.length > 0);
        for (const l of te) assert.ok(!tr.has(l.join()), `layout ${l} is in both`);
      }
      const trainLayouts = new Set(trainSet.layouts.map((l) => l.join()));
      for (let i = 0; i < testSet.size; i++) {
        const cells = testSet.scene(i).objects.map((o) => o.row * 3 + o.col).sort((a, b) => a - b).join();
        assert.ok(!trainLayouts.has(cells));
      }
      const { train, test } = captionDigits();
      assert.equal(trainSet.digits, train);
      assert.equal(testSet.digits, test);
    });

    it('resizes by area: constants stay constant, 2×2 blocks average', () => {
      assert.deepEqual(Array.from(resizeArea([1, 2, 3, 4], 2, 2, 1, 1)), [2.5]);
      const flat = resizeArea(new Array(28 * 28).fill(0.5), 28, 28, 16, 16);
      for (const v of flat) assert.ok(Math.abs(v - 0.5) < 1e-6);
      assert.throws(() => resizeArea([1, 2, 3], 2, 2, 1, 1), /do not make a 2×2×1 image/);
    });

    it('refuses impossible settings with a message that says what to change', () => {
      assert.throws(() => createSceneSet({ split: 'valid' as 'train', size: 3 }), /split must be 'train' or 'test'/);
      assert.throws(() => createSceneSet({ split: 'train', size: 0 }), /size must be a positive integer/);
      assert.throws(() => createSceneSet({ split: 'train', size: 3, objectCounts: [9] }), /objectCounts/);
      assert.throws(() => trainSet.scene(300), /out of range/);
    });
  });

  describe('vocabulary and batches', () => {
    it('round-trips words and lays out teacher forcing: inputs start with <start>, targets end with <end>, padding masked', () => {
      const vocab = sceneVocabulary();
      assert.equal(vocab.words.slice(0, 4).join(), '<pad>,<start>,<end>,<unk>');
      const words = ['a', 'red', 'seven', 'above', 'a', 'blue', 'two'];
      assert.deepEqual(vocab.decode(vocab.encode(words)), words);
      assert.deepEqual(vocab.decode([...vocab.encode(['a', 'red']), vocab.id('<end>'), vocab.id('blue')]), ['a', 'red']);
      assert.equal(vocab.id('zebra'), vocab.id('<unk>'));
      const feats = tf.zeros([2, 36, 64]) as tf.Tensor3D;
      const b = makeCaptionBatch(feats, [['a', 'red'], ['a', 'blue', 'two']], vocab);
      const id = (w: string) => vocab.id(w);
      assert.deepEqual(b.inputs, [[id('<start>'), id('<start>')], [id('a'), id('a')], [id('red'), id('blue')], [id('<pad>'), id('two')]]);
      assert.deepEqual(b.targets, [[id('a'), id('a')], [id('red'), id('blue')], [id('<end>'), id('two')], [id('<pad>'), id('<end>')]]);
      assert.deepEqual(b.mask, [[1, 1], [1, 1], [1, 1], [0, 1]]);
      assert.deepEqual(b.lengths, [3, 4]);
      feats.dispose();
    });

    it('builds a vocabulary from captions, most frequent first, rare words to <unk>', () => {
      const v = buildCaptionVocabulary([['a', 'dog'], ['a', 'cat'], ['a', 'dog', 'runs']], 2);
      assert.deepEqual(v.words, ['<pad>', '<start>', '<end>', '<unk>', 'a', 'dog']);
      assert.throws(() => createCaptionVocabulary(['two words']), /not a word/);
    });
  });

  describe('the model: soft attention written out by hand against the lib', () => {
    const vocab = sceneVocabulary();
    let encoder: ReturnType<typeof createEncoder>;
    let soft: ReturnType<typeof createCaptioner>;
    before(() => {
      encoder = createEncoder({ seed: 3 });
      soft = createCaptioner({ kind: 'soft', vocabSize: vocab.size, encoder, seed: 4, hidden: 16, attention: 8, embedding: 8 });
    });
    after(() => { soft.dispose(); encoder.dispose(); });

    it('encodes a 48×48 scene into a 6×6 grid of 64-d annotation vectors', () => {
      const imgs = sceneImages(scenesOf(trainSet, 3));
      const a = encodeImages(encoder, imgs);
      assert.deepEqual(a.shape, [3, 36, 64]);
      assert.throws(() => encodeImages(encoder, tf.zeros([1, 40, 40, 3]) as tf.Tensor4D), /resize them/);
      tf.dispose([imgs, a]);
    });

    it('standardises the annotations after calibration (mean 0, std 1 per channel)', () => {
      const enc = createEncoder({ seed: 8 });
      const imgs = sceneImages(scenesOf(trainSet, 40));
      calibrateEncoder(enc, imgs);
      const a = encodeImages(enc, imgs);
      const { mean, variance } = tf.moments(tf.reshape(a, [-1, 64]), 0);
      for (const m of mean.dataSync()) assert.ok(Math.abs(m) < 1e-3);
      // channels that respond at all come out with unit variance (a dead ReLU channel stays 0)
      const vs = Array.from(variance.dataSync());
      assert.ok(vs.filter((v) => v > 0.99).length >= 32, `${vs.filter((v) => v > 0.99).length} channels of unit variance`);
      for (const v of vs) assert.ok(v < 1.001, `variance ${v}`);
      tf.dispose([imgs, a, mean, variance]);
      enc.dispose();
    });

    it('computes score_i = w·tanh(a_i W_a + b + h W_h), p = softmax, z = β Σ p_i a_i as the naive loops do', () => {
      const feats = tf.randomNormal([2, 36, 64], 0, 1, 'float32', 5) as tf.Tensor3D;
      const h = tf.randomNormal([2, 16], 0, 1, 'float32', 6) as tf.Tensor2D;
      const enc = prepareAnnotations(soft, feats);
      const logp = attentionLogits(soft, enc, h);
      const p = arr2(tf.exp(logp));
      const z = arr2(tf.mul(attentionGate(soft, h), expectedContext(enc.annotations, tf.exp(logp) as tf.Tensor2D)));
      const W = (n: string) => arr2(soft.weights[n]);
      const a = enc.annotations.arraySync() as number[][][];
      const [Wa, ba, Wh, w, Wg] = [W('att/image'), soft.weights['att/bias'].arraySync() as number[], W('att/hidden'), W('att/score'), W('gate/kernel')];
      const bg = (soft.weights['gate/bias'].arraySync() as number[])[0];
      const hv = arr2(h);
      for (let b = 0; b < 2; b++) {
        const scores = a[b].map((ai) => {
          let s = 0;
          for (let k = 0; k < 8; k++) {
            let u = ba[k];
            for (let d = 0; d < 64; d++) u += ai[d] * Wa[d][k];
            for (let j = 0; j < 16; j++) u += hv[b][j] * Wh[j][k];
            s += w[k][0] * Math.tanh(u);
          }
          return s;
        });
        const mx = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - mx));
        const sum = e.reduce((x, y) => x + y, 0);
        const pn = e.map((v) => v / sum);
        assert.ok(Math.abs(p[b].reduce((x, y) => x + y, 0) - 1) < 1e-5, 'attention sums to 1');
        pn.forEach((v, i) => assert.ok(Math.abs(v - p[b][i]) < 1e-5, `p[${b}][${i}] ${p[b][i]} vs naive ${v}`));
        let g = bg;
        for (let j = 0; j < 16; j++) g += hv[b][j] * Wg[j][0];
        const beta = sigmoid(g);
        for (let d = 0; d < 64; d++) {
          const zn = beta * pn.reduce((s, pi, i) => s + pi * a[b][i][d], 0);
          assert.ok(Math.abs(zn - z[b][d]) < 1e-4, `z[${b}][${d}]`);
        }
      }
      tf.dispose([feats, h, enc.annotations, enc.projected!, logp]);
    });

    it('runs one LSTM step with the four gates of one matMul as the textbook equations do', () => {
      const x = tf.randomNormal([1, 8], 0, 1, 'float32', 1) as tf.Tensor2D;
      const h = tf.randomNormal([1, 16], 0, 1, 'float32', 2) as tf.Tensor2D;
      const c = tf.randomNormal([1, 16], 0, 1, 'float32', 3) as tf.Tensor2D;
      const z = tf.randomNormal([1, 64], 0, 1, 'float32', 4) as tf.Tensor2D;
      const out = lstmStep(soft, x, h, c, z);
      const input = [...x.dataSync(), ...h.dataSync(), ...z.dataSync()];
      const K = arr2(soft.weights['lstm/kernel']);
      const bias = soft.weights['lstm/bias'].dataSync();
      const gate = (k: number) => bias[k] + input.reduce((s, v, r) => s + v * K[r][k], 0);
      const cv = c.dataSync(), hOut = out.h.dataSync(), cOut = out.c.dataSync();
      for (let j = 0; j < 16; j++) {
        const [i, f, o, g] = [sigmoid(gate(j)), sigmoid(gate(16 + j)), sigmoid(gate(32 + j)), Math.tanh(gate(48 + j))];
        const cn = f * cv[j] + i * g;
        assert.ok(Math.abs(cn - cOut[j]) < 1e-4);
        assert.ok(Math.abs(o * Math.tanh(cn) - hOut[j]) < 1e-4);
      }
      tf.dispose([x, h, c, z, out.h, out.c]);
    });

    it("the loss's gradient matches finite differences (soft attention, regulariser on)", () => {
      const scenes = scenesOf(trainSet, 3);
      const imgs = sceneImages(scenes);
      const feats = encodeImages(encoder, imgs);
      const batch = makeCaptionBatch(feats, scenes.map((s) => s.references[0]), vocab);
      const f = () => captionLoss(soft, batch, { doublyStochastic: 0.01 }).loss;
      const { grads } = tf.variableGrads(f as () => tf.Scalar, soft.variables());
      const eps = 1e-2;
      for (const name of ['att/score', 'att/hidden', 'gate/kernel', 'position', 'embed']) {
        const v = soft.weights[name];
        const g = grads[v.name].dataSync();
        const base = v.dataSync().slice();
        const flat = Array.from(g.keys()).sort((i, j) => Math.abs(g[j]) - Math.abs(g[i]));
        const i = flat[0]; // the largest gradient entry: well above float32 noise
        const probe = (delta: number) => {
          const moved = base.slice();
          moved[i] += delta;
          v.assign(tf.tensor(moved, v.shape));
          const value = tf.tidy(() => f().dataSync()[0]);
          v.assign(tf.tensor(base, v.shape));
          return value;
        };
        const numeric = (probe(eps) - probe(-eps)) / (2 * eps);
        assert.ok(Math.abs(numeric - g[i]) < 0.05 * Math.abs(g[i]) + 2e-3, `${name}[${i}]: analytic ${g[i]} vs numeric ${numeric}`);
      }
      tf.dispose([imgs, feats, ...Object.values(grads)]);
    });

    it('the doubly stochastic penalty is Σ_i (1 − Σ_t p_ti)² over real steps only', () => {
      // two steps, one example, L = 2: p = [0.2, 0.8], [0.6, 0.4]; the second step is padding in example 2
      const logp = [tf.log(tf.tensor2d([[0.2, 0.8], [0.5, 0.5]])), tf.log(tf.tensor2d([[0.6, 0.4], [0.9, 0.1]]))] as tf.Tensor2D[];
      const value = doublyStochasticPenalty(logp, [[1, 1], [1, 0]]).dataSync()[0];
      const ex1 = (1 - 0.8) ** 2 + (1 - 1.2) ** 2;
      const ex2 = (1 - 0.5) ** 2 + (1 - 0.5) ** 2;
      assert.ok(Math.abs(value - (ex1 + ex2) / 2) < 1e-5);
      tf.dispose(logp);
    });

    it('samples locations with the frequencies of p (seeded)', () => {
      const p = [0.1, 0.6, 0.3];
      const counts = [0, 0, 0];
      const rng = mulberry32(1);
      for (let n = 0; n < 4000; n++) counts[sampleLocations(p, 1, 3, rng)[0]]++;
      counts.forEach((c, i) => assert.ok(Math.abs(c / 4000 - p[i]) < 0.03, `${counts}`));
    });

    it('REINFORCE: the loss is nll − λ_r·mean((R − b)·Σ log p(s)) − λ_e·H, and b is a moving average of R', () => {
      const hard = createCaptioner({ kind: 'hard', vocabSize: vocab.size, encoder, seed: 5, hidden: 16, attention: 8, embedding: 8 });
      const scenes = scenesOf(trainSet, 4);
      const imgs = sceneImages(scenes);
      const feats = encodeImages(encoder, imgs);
      const batch = makeCaptionBatch(feats, scenes.map((s) => s.references[0]), vocab);
      const baseline = { value: -2 as number | null };
      const r = reinforceLoss(hard, batch, { rng: mulberry32(3), baseline, reinforceWeight: 0, entropyWeight: 0 });
      // with both weights 0 the loss is the plain cross-entropy of the sampled path
      assert.ok(Math.abs(r.loss.dataSync()[0] - r.nll.dataSync()[0]) < 1e-6);
      assert.ok(Math.abs(baseline.value! - (0.9 * -2 + 0.1 * r.reward)) < 1e-9);
      const again = reinforceLoss(hard, batch, { rng: mulberry32(3), baseline: { value: -2 }, reinforceWeight: 1, entropyWeight: 0.5 });
      assert.ok(Math.abs(again.nll.dataSync()[0] - r.nll.dataSync()[0]) < 1e-6, 'same seed, same sampled path');
      assert.ok(again.entropy.dataSync()[0] > 0 && again.entropy.dataSync()[0] <= Math.log(36) + 1e-5);
      // hard attention's training needs no gradient through the sample, yet reaches the attention weights
      const { grads } = tf.variableGrads(() => reinforceLoss(hard, batch, { rng: mulberry32(3), baseline: { value: 0 } }).loss, hard.variables());
      assert.ok(grads[hard.weights['att/score'].name].abs().sum().dataSync()[0] > 0);
      assert.throws(() => captionLoss(hard, batch), /reinforceLoss/);
      tf.dispose([imgs, feats, r.loss, r.nll, r.entropy, again.loss, again.nll, again.entropy, ...Object.values(grads)]);
      hard.dispose();
    });

    it('decodes greedily and by beam search (beam 1 = greedy), one attention map per word, no tensor left behind', () => {
      const scenes = scenesOf(testSet, 3);
      const imgs = sceneImages(scenes);
      const feats = encodeImages(encoder, imgs);
      const before = tf.memory().numTensors;
      const greedy = greedyCaptions(soft, feats, vocab, { maxWords: 12 });
      const one = tf.slice(feats, [0, 0, 0], [1, -1, -1]) as tf.Tensor3D;
      const beam1 = beamCaption(soft, one, vocab, { beamSize: 1, maxWords: 12 });
      const beam3 = beamCaption(soft, one, vocab, { beamSize: 3, maxWords: 12 });
      one.dispose();
      assert.equal(tf.memory().numTensors, before);
      assert.deepEqual(beam1.words, greedy[0].words);
      for (const c of [...greedy, beam3]) {
        assert.equal(c.attention.length, c.words.length);
        assert.ok(c.words.length <= 12);
        assert.ok(!c.words.includes('<pad>') && !c.words.includes('<start>'), 'special tokens are never written');
        for (const m of c.attention) assert.ok(Math.abs(m.reduce((x, y) => x + y, 0) - 1) < 1e-4);
      }
      assert.ok(beam3.logProb / (beam3.words.length + 1) >= beam1.logProb / (beam1.words.length + 1) - 1e-6, 'beam 3 scores at least as well per word');
      tf.dispose([imgs, feats]);
    });

    it("pairs each generated word with the map that produced it: a teacher-forced pass over the greedy words gives the same maps", () => {
      const scenes = scenesOf(testSet, 2);
      const imgs = sceneImages(scenes);
      const feats = encodeImages(encoder, imgs);
      const greedy = greedyCaptions(soft, feats, vocab, { maxWords: 10 });
      greedy.forEach((cap, b) => {
        const one = tf.slice(feats, [b, 0, 0], [1, -1, -1]) as tf.Tensor3D;
        // step t reads word t−1 (<start> first) and writes word t: its map is the one paired with word t
        const inputs = ['<start>', ...cap.words].slice(0, cap.words.length).map((w) => [vocab.id(w)]);
        const maps = tf.tidy(() => captionForward(soft, one, inputs).logAttention.map((lp) => Array.from(tf.exp(lp).dataSync())));
        assert.equal(maps.length, cap.attention.length);
        maps.forEach((m, t) => m.forEach((v, i) => assert.ok(Math.abs(v - cap.attention[t][i]) < 1e-5, `word ${t} (${cap.words[t]}), cell ${i}: ${v} vs ${cap.attention[t][i]}`)));
        one.dispose();
      });
      tf.dispose([imgs, feats]);
    });

    it('refuses inputs of the wrong shape and unknown kinds', () => {
      assert.throws(() => createCaptioner({ kind: 'fuzzy' as 'soft', vocabSize: vocab.size, encoder }), /kind must be/);
      assert.throws(() => createCaptioner({ kind: 'soft', vocabSize: 2, encoder }), /vocabSize/);
      assert.throws(() => createEncoder({ imageSize: 50 }), /multiple of 8/);
      const bad = tf.zeros([1, 30, 64]) as tf.Tensor3D;
      assert.throws(() => greedyCaptions(soft, bad, vocab), /encoder features \[n, 36, 64\]/);
      bad.dispose();
    });
  });

  describe('attention correctness', () => {
    it('counts the mass inside a box, each cell spread over its pixels', () => {
      const box = { x: 16, y: 0, width: 16, height: 16 };
      const uniform = new Array(36).fill(1 / 36);
      assert.ok(Math.abs(attentionMassInBox(uniform, 6, 48, box) - 256 / 2304) < 1e-9);
      const inside = new Array(36).fill(0);
      inside[0 * 6 + 2] = 0.5; inside[1 * 6 + 3] = 0.5;
      assert.ok(Math.abs(attentionMassInBox(inside, 6, 48, box) - 1) < 1e-9);
      const half = new Array(36).fill(0);
      half[0] = 1;
      assert.equal(attentionMassInBox(half, 6, 48, { x: 4, y: 0, width: 8, height: 8 }), 0.5);
    });

    it('finds the object a word names, and scores a caption against the boxes (uniform maps: 1/9)', () => {
      const objects = [obj(7, 'red', 0, 0), obj(2, 'blue', 1, 1)];
      const words = 'a red seven above a blue two'.split(' ');
      assert.equal(namedObject(words, 2, objects), objects[0]);
      assert.equal(namedObject(words, 5, objects), objects[1]);
      assert.equal(namedObject(words, 0, objects), null);
      assert.equal(namedObject('a green seven'.split(' '), 2, objects), objects[0], 'a wrong colour still names the only seven');
      const map = (cells: number[]) => { const m = new Array(36).fill(0); cells.forEach((c) => { m[c] = 1 / cells.length; }); return m; };
      const onRed = map([0, 1, 6, 7]), onBlue = map([14, 15, 20, 21]);
      const scene = { index: 0, objects, references: [words], image: new Float32Array(SCENE_SIZE * SCENE_SIZE * 3) };
      const caption = { words, attention: [onRed, onRed, onRed, onBlue, onBlue, onBlue, onBlue], logProb: 0 };
      const r = attentionCorrectness([caption], [scene], { grid: 6, imageSize: 48 });
      assert.equal(r.nouns, 1);
      assert.equal(r.attributes, 1);
      assert.equal(r.counted, 2);
      const u = attentionCorrectness([caption], [scene], { grid: 6, imageSize: 48, uniform: true });
      assert.ok(Math.abs(u.nouns - 1 / 9) < 1e-9);
      assert.ok(Math.abs(r.uniform - 1 / 9) < 1e-9);
    });
  });

  describe('training and evaluation', () => {
    it('a soft-attention decoder overfits a few scenes (loss falls), evaluation returns BLEU by object count', async () => {
      const vocab = sceneVocabulary();
      const encoder = createEncoder({ seed: 2 });
      const data = encodeScenes(encoder, scenesOf(trainSet, 8));
      const model = createCaptioner({ kind: 'soft', vocabSize: vocab.size, encoder, seed: 6, hidden: 32, attention: 16 });
      const before = tf.memory().numTensors;
      const run = await trainCaptioner(model, { data, vocab, steps: 40, batchSize: 8, learningRate: 1e-2, progress: 'none' });
      assert.equal(tf.memory().numTensors, before, 'training leaks no tensor');
      const first = run.history.stepLoss.slice(0, 5).reduce((a, b) => a + b) / 5;
      const last = run.history.stepLoss.slice(-5).reduce((a, b) => a + b) / 5;
      assert.ok(last < 0.6 * first, `loss ${first} → ${last}`);
      const ev = evaluateCaptioner(model, data, vocab);
      assert.ok(ev.bleu > 0 && ev.bleu <= 1);
      assert.deepEqual(Object.keys(ev.byObjects).sort(), [...new Set(data.scenes.map((s) => String(s.objects.length)))].sort());
      assert.ok(ev.correctness !== null && ev.uniform !== null);
      model.dispose();
      data.dispose();
      encoder.dispose();
    });

    it('REINFORCE trains a hard-attention decoder with its baseline following the reward', async () => {
      const vocab = sceneVocabulary();
      const encoder = createEncoder({ seed: 2 });
      const data = encodeScenes(encoder, scenesOf(trainSet, 8));
      const model = createCaptioner({ kind: 'hard', vocabSize: vocab.size, encoder, seed: 6, hidden: 32, attention: 16 });
      const run = await trainCaptioner(model, { data, vocab, steps: 30, batchSize: 8, learningRate: 1e-2, progress: 'none' });
      assert.equal(run.reward.length, 30);
      assert.ok(run.reward[29] > run.reward[0], `reward ${run.reward[0]} → ${run.reward[29]}`);
      for (let k = 1; k < 30; k++) assert.ok(Math.abs(run.baseline[k] - (0.9 * run.baseline[k - 1] + 0.1 * run.reward[k])) < 1e-9);
      model.dispose();
      data.dispose();
      encoder.dispose();
    });
  });

  describe('shipped weights (datasets/captioning)', () => {
    it('meet the lesson\'s bars on the held-out scenes of their recipe, with the scores stored beside them', async () => {
      const dir = path.join(__dirname, '..', 'datasets', 'captioning');
      const saved = loadCaptioning(dir);
      const r = saved.meta.recipe as typeof CAPTIONING_RECIPE;
      assert.deepEqual(recipeDifferences(r, CAPTIONING_RECIPE), [], 'the shipped weights follow the recipe in lib/captioning/recipe.ts');
      const test = encodeScenes(saved.encoder, scenesOf(createSceneSet({ split: 'test', size: r.testScenes, seed: r.testSceneSeed })));
      const ev = Object.fromEntries((['none', 'soft', 'hard'] as const).map((k) => [k, evaluateCaptioner(saved.models[k]!, test, saved.vocab)]));
      const runs = saved.meta.runs as Record<string, { bleu: number; correctness: { nouns: number } | null }>;
      for (const k of ['none', 'soft', 'hard']) assert.ok(Math.abs(ev[k].bleu - runs[k].bleu) < 0.005, `${k}: BLEU ${ev[k].bleu} here, ${runs[k].bleu} stored`);
      assert.ok(ev.soft.bleu >= 0.7, `soft BLEU-4 ${ev.soft.bleu}`);
      assert.ok(ev.hard.bleu >= 0.5, `hard BLEU-4 ${ev.hard.bleu}`);
      const threeFour = (k: string) => (ev[k].byObjects[3] + ev[k].byObjects[4]) / 2;
      assert.ok(threeFour('soft') > threeFour('none'), 'soft beats no attention on 3–4 objects');
      assert.ok(ev.soft.correctness!.nouns >= 0.6, `soft attention correctness ${ev.soft.correctness!.nouns}`);
      assert.ok(Math.abs(ev.soft.correctness!.nouns - runs.soft.correctness!.nouns) < 0.005, 'the stored correctness is what these weights give');
      test.dispose();
      saved.dispose();
    });

    it("a decoder's training reads only its own settings (what lets --merge keep decoders across a change to another's)", async () => {
      const vocab = sceneVocabulary();
      const encoder = createEncoder({ seed: 2 });
      const data = encodeScenes(encoder, scenesOf(trainSet, 8));
      const other = { doublyStochastic: 0.5, entropyWeight: 0.3, expectationRate: 0.9 };
      const base = { doublyStochastic: 0, entropyWeight: 0.01, expectationRate: 0.5 };
      const weightsAfter = async (kind: 'none' | 'soft' | 'hard', settings: typeof base, attention: number) => {
        const m = createCaptioner({ kind, vocabSize: vocab.size, encoder, seed: 6, hidden: 16, attention, embedding: 8 });
        await trainCaptioner(m, { data, vocab, steps: 3, batchSize: 4, learningRate: 1e-2, progress: 'none', seed: 3, ...settings });
        const w = m.variables().map((v) => Array.from(v.dataSync()));
        m.dispose();
        return w;
      };
      for (const kind of ['none', 'soft', 'hard'] as const) {
        const readers = Object.entries(DECODER_SETTINGS).filter(([, ks]) => !ks.includes(kind)).map(([name]) => name);
        const changed: Partial<typeof base> = {};
        for (const name of readers) if (name in other) (changed as Record<string, number>)[name] = other[name as keyof typeof other];
        const a = await weightsAfter(kind, base, 8);
        const b = await weightsAfter(kind, { ...base, ...changed }, readers.includes('attention') ? 12 : 8);
        assert.deepEqual(b, a, `${kind}: settings it does not read (${readers.join(', ')}) changed its weights`);
      }
      // …and the check can fail: the soft decoder does read λ
      assert.notDeepEqual(await weightsAfter('soft', { ...base, doublyStochastic: 0.5 }, 8), await weightsAfter('soft', base, 8));
      data.dispose();
      encoder.dispose();
    });
  });

  describe('weights on disk (tfjs weight format)', () => {
    it('saves and loads an encoder with its captioners: same captions after the round trip', async () => {
      const vocab = sceneVocabulary();
      const encoder = createEncoder({ seed: 12 });
      const soft = createCaptioner({ kind: 'soft', vocabSize: vocab.size, encoder, seed: 1, hidden: 16, attention: 8 });
      const none = createCaptioner({ kind: 'none', vocabSize: vocab.size, encoder, seed: 1, hidden: 16 });
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'captioning-'));
      await saveCaptioning(dir, { encoder, models: { soft, none }, vocab, meta: { note: 'test' } });
      const loaded = loadCaptioning(dir);
      assert.deepEqual(loaded.meta, { note: 'test' });
      assert.deepEqual(loaded.vocab.words, vocab.words);
      const imgs = sceneImages(scenesOf(testSet, 2));
      const a = encodeImages(encoder, imgs), b = encodeImages(loaded.encoder, imgs);
      assert.deepEqual(greedyCaptions(soft, a, vocab, { maxWords: 8 }), greedyCaptions(loaded.models.soft!, b, loaded.vocab, { maxWords: 8 }));
      assert.deepEqual(greedyCaptions(none, a, vocab, { maxWords: 8 }), greedyCaptions(loaded.models.none!, b, loaded.vocab, { maxWords: 8 }));
      tf.dispose([imgs, a, b]);
      fs.truncateSync(path.join(dir, 'weights.bin'), 100);
      assert.throws(() => loadCaptioning(dir), /truncated/);
      assert.throws(() => loadCaptioning(path.join(dir, 'nowhere')), /does not exist/);
      loaded.dispose(); soft.dispose(); none.dispose(); encoder.dispose();
      fs.rmSync(dir, { recursive: true });
    });
  });

  describe('the Flickr8k-style loader', () => {
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flickr-')); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('tokenises captions: lower case, punctuation dropped', () => {
      assert.deepEqual(tokenizeCaption('A dog, running; in the park .'), ['a', 'dog', 'running', 'in', 'the', 'park']);
      assert.deepEqual(tokenizeCaption("The dog's ball!"), ['the', "dog's", 'ball']);
    });

    it('parses Flickr8k.token.txt lines and the captions.txt CSV alike', () => {
      const a = parseFlickrCaptions('x.jpg#0\tA red ball .\nx.jpg#1\tA ball.\n\ny.png#0\tBlue, blue sky');
      assert.deepEqual(a.map((l) => [l.image, l.k, l.words.join(' ')]), [['x.jpg', 0, 'a red ball'], ['x.jpg', 1, 'a ball'], ['y.png', 0, 'blue blue sky']]);
      const b = parseFlickrCaptions('image,caption\nx.jpg,A red ball .\nx.jpg,"A ball, round"\n');
      assert.deepEqual(b.map((l) => [l.image, l.k, l.words.join(' ')]), [['x.jpg', 0, 'a red ball'], ['x.jpg', 1, 'a ball round']]);
      assert.throws(() => parseFlickrCaptions('x.jpg A red ball', 'Flickr8k.token.txt'), /Flickr8k.token.txt, line 1: expected 'image#k<TAB>caption'/);
      assert.throws(() => parseFlickrCaptions(''), /no captions/);
    });

    for (const format of ['token', 'csv'] as const) {
      it(`loads a ${format} fixture: JPEG and PNG images, square and shrunk, captions grouped per image`, () => {
        writeFlickrFixture(dir, { format });
        const d = loadFlickr8k(dir, { imageSize: 8 });
        assert.deepEqual(d.names, ['red.jpg', 'blue.png']);
        assert.equal(d.pixels.length, 2 * 8 * 8 * 3);
        assert.deepEqual(d.references[0], [['a', 'red', 'square', 'on', 'a', 'black', 'background'], ['a', 'red', 'block', 'in', 'the', 'middle']]);
        // the centre of red.jpg is red, its corner black; the centre of blue.png is blue
        const px = (i: number, y: number, x: number) => [0, 1, 2].map((c) => d.pixels[((i * 8 + y) * 8 + x) * 3 + c]);
        const [r, g, b] = px(0, 4, 4);
        assert.ok(r > 0.7 && g < 0.3 && b < 0.3, `red centre ${[r, g, b]}`);
        assert.ok(px(0, 0, 0).every((v) => v < 0.1));
        assert.ok(px(1, 4, 4)[2] > 0.7);
        assert.ok(d.vocab.words.includes('square'));
      });
    }

    it('names the caption line whose image is missing, and the file that cannot be decoded', () => {
      writeFlickrFixture(dir);
      fs.appendFileSync(path.join(dir, 'Flickr8k.token.txt'), 'gone.jpg#0\tA missing picture .\n');
      assert.throws(() => loadFlickr8k(dir), /Flickr8k.token.txt, line 5: the caption's image gone.jpg is not in .*Images/);
      fs.writeFileSync(path.join(dir, 'Images', 'gone.jpg'), 'not a jpeg at all');
      assert.throws(() => loadFlickr8k(dir), /gone.jpg could not be decoded as JPEG .*corrupt/);
      assert.throws(() => readImageFile(path.join(dir, 'Flickr8k.token.txt')), /only .jpg\/.jpeg and .png/);
      assert.throws(() => loadFlickr8k(path.join(dir, 'nope')), /is not a folder/);
      fs.rmSync(path.join(dir, 'Flickr8k.token.txt'));
      assert.throws(() => loadFlickr8k(dir), /no captions file/);
      // keeps jpeg-js in the test's imports honest: a real JPEG decodes
      assert.ok(jpeg.decode(fs.readFileSync(path.join(dir, 'Images', 'red.jpg'))).width === 40);
    });
  });

  describe('figures', () => {
    const pixels = () => sceneImagePixels(trainSet.scene(0).image);

    it('upsamples an attention map smoothly with its peak at 1, and lights the attended cell', () => {
      const m = new Array(36).fill(0);
      m[7] = 1;
      const up = upsampleAttention(m, 6, 48);
      assert.equal(up.length, 48);
      assert.ok(Math.abs(Math.max(...up.flat()) - 1) < 1e-9);
      assert.ok(up[12][12] > 0.9 && up[40][40] === 0);
      const lit = blendAttention(pixels(), m, 6);
      assert.ok(lit[12][12][0] >= 0.45 && lit[40][40].every((v) => v === 0));
    });

    it('renders every figure without a vega warning', () => {
      const p = pixels();
      const words = trainSet.scene(0).references[0];
      const att = words.map((_, t) => { const m = new Array(36).fill(0); m[t % 36] = 1; return m; });
      const specs: TopLevelSpec[] = [
        captionCards([{ title: 'scene 0', pixels: p, lines: ['reference: a red seven', 'soft: a red seven'] }]),
        attentionCaptionFigure(p, [{ label: 'soft', words, attention: att }, { label: 'hard', words, attention: att, locations: words.map((_, t) => t % 36) }], 6),
        underlinedWordFigure(p, { words, attention: att }, 6),
        captionTrainingCurves([{ name: 'soft', stepLoss: [3, 2, 1.5, 1.2, 1] }, { name: 'none', stepLoss: [3, 2.5, 2] }], { smooth: 2 }),
        captionQualityTable([{ model: 'soft', bleu: 0.8, byObjects: { 2: 0.9, 3: 0.8, 4: 0.7 }, correctness: 0.7 }, { model: 'none', bleu: 0.6, byObjects: { 2: 0.7, 3: 0.6, 4: 0.5 }, correctness: NaN }]),
      ];
      for (const spec of specs) {
        const { svg, messages } = renderSvg(spec);
        assert.deepEqual(messages, []);
        assert.match(svg, /^<svg/);
      }
      assert.throws(() => attentionCaptionFigure(p, [{ label: 'none', words, attention: [] }], 6), /no attention maps|has \d+ words but 0 attention maps/);
    });
  });
});
