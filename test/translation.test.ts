/**
 * lib/translation: the corpus generator and its alignments, the Tatoeba loader (on a fixture
 * written here), vocabularies and batches, BLEU against hand-computed values and NLTK's
 * documented example, the fast custom ops and the hand-written backpropagation against tfjs'
 * autodiff, attention against the formula, decoding, figures, and no tensor leaks.
 */
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { setup } from '../lib/runtime';
import { mulberry32 } from '../lib/runtime/random';
import {
  LECTURE_EXAMPLE, TranslationVocabulary, additiveAttention, alignmentAgreement, alignmentFigure, attentionMemory, beamTranslate,
  bleuByLengthFigure, bleuReport, corpusBleu, createTranslator, encodePairs, generateCorpus, greedyTranslate,
  lengthBatches, lexiconWords, lookupRows, lossAndGradients, makeTranslationBatch, parseTatoeba, loadTatoeba, paddingBias, realizeSentence,
  sentenceStats, splitColumns, splitPairs, stackTime, teacherForced, tokenizeTatoeba, trainTranslator, trainingCurvesFigure,
  translationLoss, translationsMarkdown, unstackTime, wordsOffReference, englishPlural, spanishPlural, englishThirdPerson,
  saveTranslator, loadTranslator, lessonData, type TranslationBatch, type Translator,
} from '../lib/translation';

/** Runs `body` and asserts it left no tensor behind. */
async function noLeak<T>(body: () => T | Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await body();
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  return out;
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 1e-6;
  let d = 0;
  for (let i = 0; i < a.length; i++) { scale = Math.max(scale, Math.abs(a[i])); d = Math.max(d, Math.abs(a[i] - b[i])); }
  return d / scale;
}

/** A batch of random ids with ragged source and target lengths (padding exercised). */
function randomBatch(rng: () => number, B: number, S: number, T: number, Vs: number, Vt: number, ragged = true): TranslationBatch {
  const pairs = Array.from({ length: B }, (_, b) => ({
    source: Array.from({ length: ragged ? Math.max(1, S - (b % 3)) : S }, () => 4 + Math.floor(rng() * (Vs - 4))),
    target: Array.from({ length: ragged ? Math.max(1, T - 1 - (b % 4)) : T - 1 }, () => 4 + Math.floor(rng() * (Vt - 4))),
  }));
  return makeTranslationBatch(pairs);
}

const tiny = (attention: boolean, seed = 3): Translator => createTranslator({
  attention, sourceVocabSize: 13, targetVocabSize: 11, embedding: 5, encoderUnits: 4, decoderUnits: 6, attentionUnits: 3, seed,
});

async function renders(spec: TopLevelSpec): Promise<void> {
  const messages: string[] = [];
  const logger = {
    level: () => logger, info: () => logger, debug: () => logger,
    warn: (...a: unknown[]) => { messages.push(a.join(' ')); return logger; },
    error: (...a: unknown[]) => { messages.push(a.join(' ')); return logger; },
  } as unknown as vega.LoggerInterface;
  const view = new vega.View(vega.parse(vl.compile(spec, { logger }).spec), { renderer: 'none', logger });
  await view.runAsync();
  const svg = await view.toSVG();
  view.finalize();
  assert.match(svg, /<svg/);
  assert.deepEqual(messages, [], `vega said: ${messages.join('; ')}`);
}

describe('translation', function () {
  before(async () => { await setup({ quiet: true, profile: 'quick', backend: 'wasm' }); });

  describe('corpus generator', () => {
    it('realises the lecture sentence with a one-to-one alignment', () => {
      const p = realizeSentence(LECTURE_EXAMPLE);
      assert.equal(p.source.join(' '), 'mi gato es el mejor');
      assert.equal(p.target.join(' '), 'my cat is the best');
      assert.deepEqual(p.alignment, [0, 1, 2, 3, 4]);
    });

    it('agrees, reorders and aligns: a hand-checked sentence', () => {
      const p = realizeSentence({
        clauses: [
          { subject: { np: { noun: 'gato', plural: true, det: 'def', adjectives: ['negro'] } }, negated: false, predicate: { kind: 'verb', verb: 'comer', object: { noun: 'manzana', plural: false, det: 'indef', adjectives: ['rojo'] } } },
          { subject: { pronoun: { person: 1, plural: false, feminine: false, dropped: true } }, negated: true, predicate: { kind: 'verb', verb: 'ver', object: { noun: 'perro', plural: false, det: 'def' } } },
        ],
        connectors: ['pero'],
      });
      assert.equal(p.source.join(' '), 'los gatos negros comen una manzana roja pero no veo al perro');
      assert.equal(p.target.join(' '), 'the black cats eat a red apple but I do not see the dog');
      const links = p.target.map((w, k) => `${w}←${p.source[p.alignment![k]]}`);
      assert.deepEqual(links, ['the←los', 'black←negros', 'cats←gatos', 'eat←comen', 'a←una', 'red←roja', 'apple←manzana',
        'but←pero', 'I←veo', 'do←veo', 'not←no', 'see←veo', 'the←al', 'dog←perro']);
    });

    it('moves a Saxon genitive and uses "an" before a vowel', () => {
      const p = realizeSentence({
        clauses: [{
          subject: { np: { noun: 'libro', plural: false, det: 'def', adjectives: ['viejo'], possessor: { noun: 'profesor', plural: false, det: 'def' } } },
          negated: false, predicate: { kind: 'location', place: { preposition: 8, np: { noun: 'elefante', plural: false, det: 'indef' } } },
        }],
        connectors: [],
      });
      assert.equal(p.source.join(' '), 'el libro viejo del profesor está cerca de un elefante');
      assert.equal(p.target.join(' '), "the teacher 's old book is near an elephant");
      assert.deepEqual(p.target.map((w, k) => p.source[p.alignment![k]]), ['del', 'profesor', 'del', 'viejo', 'libro', 'está', 'cerca', 'un', 'elefante']);
    });

    it('inflects regular words', () => {
      assert.deepEqual(['casa', 'ciudad', 'lápiz', 'ratón', 'jardín'].map(spanishPlural), ['casas', 'ciudades', 'lápices', 'ratones', 'jardines']);
      assert.deepEqual(['cat', 'box', 'city', 'day'].map(englishPlural), ['cats', 'boxes', 'cities', 'days']);
      assert.deepEqual(['eat', 'watch', 'cry', 'go', 'have', 'play'].map(englishThirdPerson), ['eats', 'watches', 'cries', 'goes', 'has', 'plays']);
    });

    it('draws a seeded corpus: disjoint splits, 3–50 words, every word in the lexicon, valid alignments', () => {
      const c = generateCorpus({ seed: 5, train: 600, validation: 50, test: 150 });
      const again = generateCorpus({ seed: 5, train: 600, validation: 50, test: 150 });
      assert.deepEqual(c.test.map((p) => p.source.join(' ')), again.test.map((p) => p.source.join(' ')), 'not reproducible');
      const keys = (ps: typeof c.train) => new Set(ps.map((p) => p.source.join(' ')));
      const [tr, va, te] = [keys(c.train), keys(c.validation), keys(c.test)];
      assert.equal(tr.size + va.size + te.size, 800, 'duplicate sentences');
      for (const k of te) assert.ok(!tr.has(k) && !va.has(k), `test sentence also elsewhere: ${k}`);
      assert.ok(!tr.has('mi gato es el mejor'), 'the lecture sentence must stay out of training');
      const lex = lexiconWords();
      const es = new Set(lex.source), en = new Set(lex.target);
      assert.ok(es.size >= 500 && en.size >= 300, `vocabulary too small to memorise: ${es.size} / ${en.size}`);
      const all = [...c.train, ...c.validation, ...c.test];
      const lengths = all.map((p) => p.source.length);
      assert.ok(Math.min(...lengths) >= 3 && Math.max(...lengths) <= 50);
      assert.ok(lengths.filter((n) => n >= 30).length > 200, 'too few long sentences');
      for (const p of all) {
        p.source.forEach((w) => assert.ok(es.has(w), `'${w}' not in the Spanish lexicon`));
        p.target.forEach((w) => assert.ok(en.has(w), `'${w}' not in the English lexicon`));
        assert.equal(p.alignment!.length, p.target.length);
        p.alignment!.forEach((a) => assert.ok(a >= -1 && a < p.source.length));
      }
    });

    it('rejects impossible settings', () => {
      assert.throws(() => generateCorpus({ minLength: 2 }), /3 ≤ minLength/);
      assert.throws(() => generateCorpus({ train: -1 }), /train must be/);
    });
  });

  describe('Tatoeba loader', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tatoeba-'));
    const file = path.join(dir, 'spa.txt');
    before(() => {
      fs.writeFileSync(file, [
        'Go.\tVe.\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #4986655 (cueyayotl)',
        'My cat is the best.\tMi gato es el mejor.\tCC-BY 2.0 (France) Attribution: tatoeba.org #1 & #2',
        'Where is it?\t¿Dónde está?',                       // two columns: accepted
        'I don’t know.\tNo lo sé.\tattribution',            // curly apostrophe normalised
        'only one column',                                   // malformed
        '\tFalta el inglés.\tattribution',                   // malformed: empty English
        'A\tB\tC\tD',                                        // malformed: too many tabs
        '',
        'This is a very long sentence with far too many words in it.\tEsta frase es demasiado larga para el filtro.\tx',
      ].join('\n'));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('normalises and tokenises', () => {
      assert.deepEqual(tokenizeTatoeba('¿Dónde  está?'), ['¿', 'dónde', 'está', '?']);
      assert.deepEqual(tokenizeTatoeba('I DON’T know...'), ['i', "don't", 'know', '.', '.', '.']);
      assert.deepEqual(tokenizeTatoeba('Mi gato es el mejor.'), ['mi', 'gato', 'es', 'el', 'mejor', '.']);
    });

    it('reads pairs Spanish → English, counts and skips malformed lines with a warning', () => {
      const warnings: string[] = [];
      const data = loadTatoeba(file, { maxLength: 8, warn: (m) => warnings.push(m) });
      assert.equal(data.lines, 8);
      assert.equal(data.malformed, 3);
      assert.equal(data.filtered, 1);
      assert.equal(data.pairs.length, 4);
      assert.deepEqual(data.pairs[1], { source: ['mi', 'gato', 'es', 'el', 'mejor', '.'], target: ['my', 'cat', 'is', 'the', 'best', '.'] });
      assert.deepEqual(data.pairs[3].target, ['i', "don't", 'know', '.']);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /skipped 3 malformed lines of 8/);
      assert.match(warnings[0], /line 5/);
    });

    it('says where to get the data when the file is missing', () => {
      assert.throws(() => loadTatoeba(path.join(dir, 'nope.txt')), /manythings\.org\/anki/);
      assert.throws(() => parseTatoeba('x\ty\tz', { minLength: 0 }), /minLength/);
    });

    it('feeds the lesson: lessonData reads a Tatoeba file into splits and vocabularies', () => {
      const lines = Array.from({ length: 40 }, (_, i) => `Sentence number ${i % 7}.\tFrase número ${i % 7} ${i}.\tCC-BY`);
      const big = path.join(dir, 'many.txt');
      fs.writeFileSync(big, lines.join('\n'));
      const d = lessonData({ tatoebaFile: big, tatoeba: { validation: 5, test: 5, minCount: 2, warn: null } });
      assert.equal(d.kind, 'tatoeba');
      assert.equal(d.train.length + d.validation.length + d.test.length, 40);
      assert.ok(d.sourceVocab.has('frase') && !d.sourceVocab.has('39'), 'words seen once become <unk>');
    });

    it('builds a vocabulary with a frequency cut-off and <unk>, and splits by source sentence', () => {
      const data = parseTatoeba('Go.\tVe.\nGo!\tVe.\nRun.\tCorre.\nRun!\tCorre.\nSit.\tSiéntate.', { warn: null });
      const v = TranslationVocabulary.fromSentences(data.pairs.map((p) => p.source), { minCount: 2 });
      assert.deepEqual(v.words.slice(4), ['.', 'corre', 've']);
      assert.deepEqual(v.encode(['ve', 'siéntate', '.']), [v.id('ve'), 3, v.id('.')]);
      assert.deepEqual(v.decode([1, v.id('ve'), 2, v.id('.')]), ['ve']);
      const s = splitPairs(data.pairs, { validation: 1, test: 1, seed: 1 });
      const src = (ps: typeof data.pairs) => new Set(ps.map((p) => p.source.join(' ')));
      for (const k of src(s.test)) assert.ok(!src(s.train).has(k) && !src(s.validation).has(k));
      assert.equal(s.train.length + s.validation.length + s.test.length, 5);
    });
  });

  describe('BLEU', () => {
    const ref = 'the cat is on the mat'.split(' ');

    it('is 100 for a perfect corpus and 0 for an empty hypothesis', () => {
      assert.equal(corpusBleu([ref], [ref]).bleu, 100);
      const empty = corpusBleu([[]], [ref]);
      assert.equal(empty.bleu, 0);
      assert.equal(empty.brevityPenalty, 0);
      assert.equal(corpusBleu([], []).bleu, 0);
    });

    it('clips repeated words (Papineni et al.: "the the the …" has unigram precision 2/7)', () => {
      const s = sentenceStats('the the the the the the the'.split(' '), [ref, 'there is a cat on the mat'.split(' ')]);
      assert.deepEqual(s.matches.slice(0, 2), [2, 0]);
      assert.deepEqual(s.totals, [7, 6, 5, 4]);
    });

    it('matches a hand-computed score with a brevity penalty', () => {
      // hyp "the cat is on the" (5 words) vs ref (6): p1 = 5/5, p2 = 4/4, p3 = 3/3, p4 = 2/2,
      // BP = exp(1 − 6/5) → BLEU = 100·e^(−0.2) = 81.873…
      const s = corpusBleu(['the cat is on the'.split(' ')], [ref]);
      assert.ok(Math.abs(s.bleu - 100 * Math.exp(-0.2)) < 1e-9, String(s.bleu));
      // a hypothesis longer than its reference has no penalty: "the cat is on the mat today"
      // p = 6/7, 5/6, 4/5, 3/4 → BLEU = 100·(6/7·5/6·4/5·3/4)^(1/4) = 100·(3/7)^(1/4)
      const long = corpusBleu(['the cat is on the mat today'.split(' ')], [ref]);
      assert.equal(long.brevityPenalty, 1);
      assert.ok(Math.abs(long.bleu - 100 * (3 / 7) ** 0.25) < 1e-9, String(long.bleu));
    });

    it('takes the closest reference length (the shorter on a tie) with several references', () => {
      const h = 'a b c d e'.split(' ');
      assert.equal(sentenceStats(h, ['a b c d'.split(' '), 'a b c d e f'.split(' ')]).referenceLength, 4);
      assert.equal(sentenceStats(h, ['a b c d e f g'.split(' '), 'a b c'.split(' ')]).referenceLength, 3);
    });

    it('reproduces NLTK\'s documented corpus_bleu example (0.5920…), multiple references included', () => {
      const hyp1 = ['It', 'is', 'a', 'guide', 'to', 'action', 'which', 'ensures', 'that', 'the', 'military', 'always', 'obeys', 'the', 'commands', 'of', 'the', 'party'];
      const ref1a = ['It', 'is', 'a', 'guide', 'to', 'action', 'that', 'ensures', 'that', 'the', 'military', 'will', 'forever', 'heed', 'Party', 'commands'];
      const ref1b = ['It', 'is', 'the', 'guiding', 'principle', 'which', 'guarantees', 'the', 'military', 'forces', 'always', 'being', 'under', 'the', 'command', 'of', 'the', 'Party'];
      const ref1c = ['It', 'is', 'the', 'practical', 'guide', 'for', 'the', 'army', 'always', 'to', 'heed', 'the', 'directions', 'of', 'the', 'party'];
      const hyp2 = ['he', 'read', 'the', 'book', 'because', 'he', 'was', 'interested', 'in', 'world', 'history'];
      const ref2a = ['he', 'was', 'interested', 'in', 'world', 'history', 'because', 'he', 'read', 'the', 'book'];
      const corpus = corpusBleu([hyp1, hyp2], [[ref1a, ref1b, ref1c], [ref2a]]);
      assert.equal(corpus.bleu.toFixed(2), '59.21');
      const s1 = corpusBleu([hyp1], [[ref1a, ref1b, ref1c]]).bleu;
      const s2 = corpusBleu([hyp2], [[ref2a]]).bleu;
      assert.equal(((s1 + s2) / 2).toFixed(2), '62.23'); // NLTK: averaging sentence scores gives 0.6223…
    });

    it('reports BLEU per length bucket', () => {
      const pairs = [{ source: ['a', 'b', 'c'], target: ref }, { source: new Array(35).fill('x'), target: ref }];
      const r = bleuReport(pairs, [ref, []]);
      assert.equal(r.buckets[0].bleu, 100);
      assert.equal(r.buckets[3].bleu, 0);
      assert.equal(r.buckets[1].count, 0);
      assert.equal(r.buckets[1].bleu, null);
      assert.throws(() => corpusBleu([ref], []), /references/);
    });
  });

  describe('fast ops', () => {
    it('unstackTime / stackTime / splitColumns / lookupRows equal the tfjs ops, with their gradients', async () => {
      await noLeak(() => tf.tidy(() => {
        const x = tf.randomNormal([5, 3, 4], 0, 1, 'float32', 1);
        const ids = [2, 0, 2, 4, 1];
        const w = tf.randomNormal([5, 3, 4], 0, 1, 'float32', 2);
        const f = (mine: boolean) => (t: tf.Tensor) => {
          const steps = mine ? unstackTime(t) : tf.unstack(t);
          const parts = mine ? splitColumns(steps[1].reshape([3, 4]), 2) : tf.split(steps[1].reshape([3, 4]), 2, 1);
          const table = t.reshape([15, 4]);
          const rows = mine ? lookupRows(table, ids) : tf.gather(table, tf.tensor1d(ids, 'int32'));
          const back = mine ? stackTime(steps) : tf.stack(steps);
          return tf.sum(tf.mul(back, w)).add(tf.sum(tf.mul(parts[1], parts[1]))).add(tf.sum(tf.mul(rows, rows)));
        };
        const [a, b] = [tf.valueAndGrad(f(true))(x), tf.valueAndGrad(f(false))(x)];
        assert.ok(Math.abs(a.value.dataSync()[0] - b.value.dataSync()[0]) < 1e-4);
        assert.ok(maxRelDiff(a.grad.dataSync(), b.grad.dataSync()) < 1e-5);
      }));
      assert.throws(() => lookupRows(tf.zeros([2, 2]), [2]), /outside the table/);
    });
  });

  describe('models', () => {
    it('additive attention equals vᵀ tanh(W s + U h) softmaxed, masks padding, rows sum to 1', async () => {
      await noLeak(() => tf.tidy(() => {
        const rng = mulberry32(4);
        const B = 2, S = 4, D = 3, H = 5, A = 2;
        const r = (shape: number[]) => tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng() * 2 - 1), shape);
        const h = r([B, S, D]), s = r([B, H]), W = r([H, A]), U = r([D, A]), v = r([A, 1]);
        const mask = paddingBias([4, 2], S);
        const { weights, context } = additiveAttention(s, attentionMemory(h, U, mask), W, v);
        const hv = h.arraySync() as number[][][], sv = s.arraySync() as number[][];
        const Wv = W.arraySync() as number[][], Uv = U.arraySync() as number[][], vv = (v.arraySync() as number[][]).map((x) => x[0]);
        const lengths = [4, 2];
        const got = weights.arraySync() as number[][];
        const ctx = context.arraySync() as number[][];
        for (let b = 0; b < B; b++) {
          const e = hv[b].map((hj) => vv.reduce((acc, vk, k) => acc + vk * Math.tanh(
            sv[b].reduce((x, si, i) => x + si * Wv[i][k], 0) + hj.reduce((x, hd, d) => x + hd * Uv[d][k], 0)), 0));
          const ex = e.map((x, j) => (j < lengths[b] ? Math.exp(x) : 0));
          const z = ex.reduce((a, c) => a + c, 0);
          ex.forEach((x, j) => assert.ok(Math.abs(got[b][j] - x / z) < 1e-5, `α[${b}][${j}]`));
          assert.ok(Math.abs(got[b].reduce((a, c) => a + c, 0) - 1) < 1e-5);
          for (let d = 0; d < D; d++) {
            const c = hv[b].reduce((acc, hj, j) => acc + (ex[j] / z) * hj[d], 0);
            assert.ok(Math.abs(ctx[b][d] - c) < 1e-5);
          }
        }
        assert.equal(got[1][2], 0);
        assert.equal(got[1][3], 0);
      }));
    });

    for (const attention of [true, false]) {
      it(`${attention ? 'RNNsearch' : 'RNNencdec'}: hand-written gradients equal tfjs autodiff (padded batch)`, async () => {
        const model = tiny(attention);
        const batch = randomBatch(mulberry32(9), 5, 7, 6, 13, 11);
        const names = Object.keys(model.weights);
        await noLeak(() => tf.tidy(() => {
          const ref = tf.variableGrads(() => translationLoss(model, batch), names.map((n) => model.weights[n]));
          const mine = lossAndGradients(model, batch);
          assert.ok(Math.abs(ref.value.dataSync()[0] - mine.loss.dataSync()[0]) < 1e-5);
          for (const n of names) {
            const d = maxRelDiff(ref.grads[model.weights[n].name].dataSync(), mine.grads[n].dataSync());
            assert.ok(d < 1e-3, `${n}: relative difference ${d}`);
          }
        }));
        model.dispose();
      });
    }

    it('checks batches and sizes with messages that say what is wrong', () => {
      assert.throws(() => createTranslator({ attention: true, sourceVocabSize: 3, targetVocabSize: 10 }), /sourceVocabSize must be an integer ≥ 5/);
      const model = tiny(true);
      const batch = randomBatch(mulberry32(1), 2, 3, 3, 40, 11);
      assert.throws(() => tf.tidy(() => translationLoss(model, batch)), /outside the model's source vocabulary/);
      model.dispose();
    });

    it('saves and loads weights (JSON + binary, tfjs format)', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'translator-'));
      const model = tiny(true, 11);
      await saveTranslator(model, dir, { note: 'test' });
      const loaded = await loadTranslator(dir);
      for (const [n, w] of Object.entries(model.weights)) assert.deepEqual(Array.from(loaded.model.weights[n].dataSync()), Array.from(w.dataSync()));
      assert.equal(loaded.extra.note, 'test');
      model.dispose();
      loaded.model.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
      await assert.rejects(() => loadTranslator(path.join(dir, 'missing')), /no model/);
    });
  });

  describe('decoding and training', () => {
    it('greedy picks the argmax at every step; beam width 1 is greedy; attention rows sum to 1', async () => {
      const model = tiny(true, 5);
      const sources = [[4, 5, 6], [7, 8, 9, 10, 11], [12, 4]];
      await noLeak(() => {
        const greedy = greedyTranslate(model, sources, { maxLength: () => 6 });
        const beam1 = beamTranslate(model, sources, { beamWidth: 1, lengthPenalty: 0, maxLength: () => 6 });
        greedy.forEach((g, i) => {
          assert.deepEqual(beam1[i].tokens, g.tokens);
          g.attention!.forEach((row) => assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4));
          assert.equal(g.attention![0].length, sources[i].length);
          // Teacher-forcing the greedy output reproduces its choices.
          const batch = makeTranslationBatch([{ source: sources[i], target: g.tokens }]);
          // (argmax over </s>, <unk> and the words: <pad> and <s> are never outputs)
          const choice = tf.tidy(() => teacherForced(model, batch).logits.slice([0, 0, 2]).argMax(2).add(2).dataSync());
          g.tokens.forEach((t, k) => assert.equal(choice[k], t));
        });
        const beam = beamTranslate(model, sources, { beamWidth: 4, maxLength: () => 6 });
        assert.equal(beam.length, 3);
      });
      model.dispose();
    });

    it('learns to copy a tiny language (loss falls, attention finds the alignment) without leaking', async () => {
      // A toy "language": the target is the source word by word (ids shifted), so attention must align.
      const rng = mulberry32(2);
      const src = new TranslationVocabulary(['a', 'b', 'c', 'd', 'e', 'f']);
      const tgt = new TranslationVocabulary(['A', 'B', 'C', 'D', 'E', 'F']);
      const pairs = Array.from({ length: 96 }, () => {
        const n = 2 + Math.floor(rng() * 4);
        const source = Array.from({ length: n }, () => 'abcdef'[Math.floor(rng() * 6)]);
        return { source, target: source.map((w) => w.toUpperCase()), alignment: source.map((_, i) => i) };
      });
      const model = createTranslator({ attention: true, sourceVocabSize: src.size, targetVocabSize: tgt.size, embedding: 8, encoderUnits: 8, decoderUnits: 16, attentionUnits: 8, seed: 1 });
      const before = tf.memory().numTensors;
      const h = await trainTranslator({ model, train: encodePairs(pairs, src, tgt), batchSize: 16, epochs: 25, learningRate: 0.02, progress: 'none' });
      assert.equal(tf.memory().numTensors, before, 'training leaked tensors');
      const first = h.stepLoss.slice(0, 6).reduce((a, b) => a + b) / 6;
      const last = h.stepLoss.slice(-6).reduce((a, b) => a + b) / 6;
      assert.ok(last < first * 0.5, `loss ${first} → ${last}`);
      const agree = alignmentAgreement(model, pairs, src, tgt);
      assert.ok(agree.agreement > 0.6, `attention should find the copy alignment: ${agree.agreement}`); // seen: 0.91
      assert.equal(agree.aligned, pairs.reduce((n, p) => n + p.target.length, 0));
      model.dispose();
    });

    it('groups batches by source length', () => {
      const pairs = [5, 3, 5, 4, 3, 5].map((n) => ({ source: new Array(n).fill(1) }));
      assert.deepEqual(lengthBatches(pairs, 2), [[1, 4], [3, 0], [2, 5]]);
      assert.throws(() => lengthBatches(pairs, 0), /batchSize/);
    });
  });

  describe('figures', () => {
    it('draw alignment matrices, BLEU by length, training curves; markdown marks wrong words', async () => {
      await renders(alignmentFigure([
        { title: 'lecture', source: ['mi', 'gato', 'es', 'el', 'mejor'], target: ['my', 'cat', 'is', 'the', 'best', '</s>'], weights: Array.from({ length: 6 }, (_, i) => [0, 1, 2, 3, 4].map((j) => (Math.min(i, 4) === j ? 1 : 0))), gold: [0, 1, 2, 3, 4] },
        { title: 'two', source: ['a', 'b'], target: ['x'], weights: [[0.3, 0.7]] },
        // words vega could read as code ("if" is one of its functions) and repeated words
        { title: 'repeated words, and "if"', source: ['si', 'el', 'el'], target: ['if', 'the', 'the'], weights: [[1, 0, 0], [0, 1, 0], [0, 0, 1]] },
      ]));
      assert.throws(() => alignmentFigure([{ title: 'bad', source: ['a'], target: ['x', 'y'], weights: [[1]] }]), /rows of weights/);
      await renders(bleuByLengthFigure([{ name: 'RNNsearch', bins: [{ label: '1–5', low: 1, high: 5, count: 3, bleu: 90 }, { label: '6–10', low: 6, high: 10, count: 2, bleu: 80 }] }]));
      await renders(trainingCurvesFigure([{ name: 'm', history: { stepLoss: [3, 2, 1.5, 1.2], epochs: [{ epoch: 1, steps: 4, endStep: 4, loss: 2, metric: 1.4, complete: true, seconds: 1, numTensors: 0 }] } }]));
      assert.deepEqual(wordsOffReference(['the', 'big', 'cat'], ['the', 'cat']), [false, true, false]);
      const md = translationsMarkdown([{ label: 'reference', words: ['the', 'cat'] }, { label: 'RNNencdec', words: ['the', 'dog'] }], ['the', 'cat']);
      assert.match(md, /\*\*~~dog~~\*\*/);
      assert.doesNotMatch(md, /~~the~~/);
    });
  });
});
