/**
 * Makes the shipped weights of notebook 05 (datasets/captioning/model.json + weights.bin), seeded:
 *
 *   npx tsx lib/captioning/train-weights.ts                  all three decoders, one after the other
 *
 * The same steps as the notebook's full profile with trainFromScratch = true: pretrain the encoder
 * on single coloured digits, standardise its annotations, encode the training scenes, train the
 * three decoders (no attention, soft, hard) and score them on the held-out scenes. The training
 * curves, scores and timings go into model.json's meta, for the notebook's figures.
 *
 * Every decoder's run depends only on the recipe's seeds, not on the others, so the work can be
 * split over processes with the same result:
 *   npx tsx lib/captioning/train-weights.ts --kind soft --out /tmp/cap-soft     (one decoder)
 *   npx tsx lib/captioning/train-weights.ts --merge /tmp/cap-none /tmp/cap-soft /tmp/cap-hard
 * (`--encoder-from DIR` reuses the encoder of an earlier run of the recipe instead of pretraining
 * it again: pretraining is seeded, so it is the same encoder, and --merge checks that it is.
 * A later part replaces an earlier one's decoder of the same kind, and a part only has to match
 * the recipe in the settings its own decoders read (recipe.ts, DECODER_SETTINGS): after a change
 * to a soft-only setting, `--kind soft` and `--merge OLD NEW_SOFT` remake the file.
 * `--eval-every N` prints the test scores every N training steps; the weights do not change.)
 */
import * as path from 'node:path';
import { setup } from '../runtime';
import { createEncoder, createCaptioner, calibrateEncoder, type AttentionKind, type Captioner } from './model';
import { pretrainEncoder } from './pretrain';
import { captionDigits, createSceneSet } from './scenes';
import { encodeScenes, sceneImages, sceneVocabulary, scenesOf } from './data';
import { evaluateCaptioner, trainCaptioner } from './training';
import { loadCaptioning, saveCaptioning } from './weights';
import { CAPTIONING_RECIPE, DECODER_SETTINGS, recipeDifferences, type CaptioningRecipe } from './recipe';

const DEFAULT_OUT = path.join(__dirname, '..', '..', 'datasets', 'captioning');

/** Every `every`-th value, rounded: training curves small enough for a JSON file. */
function thin(values: number[], max = 400): number[] {
  const every = Math.max(1, Math.ceil(values.length / max));
  return values.filter((_, i) => i % every === 0).map((v) => Math.round(v * 1e4) / 1e4);
}

async function trainKinds(kinds: AttentionKind[], out: string, encoderFrom?: string, evalEvery = 0): Promise<void> {
  const r = CAPTIONING_RECIPE;
  const rt = await setup({ seed: 42, profile: 'full' });
  const t0 = performance.now();
  const seconds = () => Math.round((performance.now() - t0) / 100) / 10;

  let encoder = createEncoder({ seed: r.seed });
  let pretrain: Record<string, unknown>;
  if (encoderFrom) {
    // The encoder of an earlier run of this recipe (pretraining is seeded: the same weights).
    const earlier = loadCaptioning(encoderFrom);
    const was = earlier.meta.recipe as CaptioningRecipe;
    const same = (['seed', 'pretrainSteps', 'calibrationScenes', 'trainSceneSeed'] as const).every((k) => was[k] === r[k]);
    if (!same) throw new Error(`${encoderFrom}: its encoder was made with another pretraining recipe`);
    encoder.dispose();
    encoder = earlier.encoder;
    for (const m of Object.values(earlier.models)) m.dispose();
    pretrain = earlier.meta.pretrain as Record<string, unknown>;
    console.log(`encoder: reused from ${encoderFrom}`);
  } else {
    const digits = captionDigits();
    const pre = await pretrainEncoder(encoder, { digits: digits.train, testDigits: digits.test, steps: r.pretrainSteps, seed: r.seed, progress: 'line' });
    console.log(`encoder: test digits ${(100 * pre.digitAccuracy).toFixed(1)} %, colours ${(100 * pre.colourAccuracy).toFixed(1)} % (${seconds()} s)`);
    const calib = sceneImages(scenesOf(createSceneSet({ split: 'train', size: r.calibrationScenes, seed: r.trainSceneSeed + 1000 })));
    calibrateEncoder(encoder, calib);
    calib.dispose();
    pretrain = { digitAccuracy: pre.digitAccuracy, colourAccuracy: pre.colourAccuracy, seconds: Math.round(pre.history.seconds * 10) / 10, stepLoss: thin(pre.history.stepLoss) };
  }
  const trainData = encodeScenes(encoder, scenesOf(createSceneSet({ split: 'train', size: r.trainScenes, seed: r.trainSceneSeed })));
  const testData = encodeScenes(encoder, scenesOf(createSceneSet({ split: 'test', size: r.testScenes, seed: r.testSceneSeed })));
  const vocab = sceneVocabulary();

  const models: Partial<Record<AttentionKind, Captioner>> = {};
  const runs: Record<string, unknown> = {};
  for (const kind of kinds) {
    const model = createCaptioner({ kind, vocabSize: vocab.size, encoder, embedding: r.embedding, hidden: r.hidden, attention: r.attention, seed: r.seed + 1 });
    // --eval-every N: score the decoder on the test scenes every N steps while it trains (greedy
    // decoding draws no random numbers: the weights are the same with or without it).
    let calls = 0;
    const shouldStop = evalEvery > 0 ? () => {
      if (calls > 0 && calls % evalEvery === 0) {
        const ev = evaluateCaptioner(model, testData, vocab);
        console.log(`  ${kind} after ${calls} steps: BLEU-4 ${(100 * ev.bleu).toFixed(1)}` +
          (ev.correctness ? ` · attention in box ${ev.correctness.nouns.toFixed(3)}` : '') + ` (${seconds()} s)`);
      }
      calls++;
      return false;
    } : undefined;
    const run = await trainCaptioner(model, {
      data: trainData, vocab, steps: r.steps[kind], batchSize: r.batchSize, learningRate: r.learningRate,
      doublyStochastic: r.doublyStochastic, entropyWeight: r.entropyWeight, expectationRate: r.expectationRate, seed: r.seed, progress: 'line',
      shouldStop,
    });
    const ev = evaluateCaptioner(model, testData, vocab);
    models[kind] = model;
    runs[kind] = {
      steps: run.history.steps,
      seconds: Math.round(run.history.seconds * 10) / 10,
      stepLoss: thin(run.history.stepLoss),
      reward: thin(run.reward),
      bleu: ev.bleu,
      byObjects: ev.byObjects,
      correctness: ev.correctness,
      uniform: ev.uniform,
    };
    console.log(`${kind}: BLEU-4 ${(100 * ev.bleu).toFixed(1)} by objects ${JSON.stringify(ev.byObjects)}` +
      (ev.correctness ? ` · attention in box ${ev.correctness.nouns.toFixed(3)} (uniform ${ev.uniform!.nouns.toFixed(3)})` : '') + ` (${seconds()} s)`);
  }
  const { bytes } = await saveCaptioning(out, {
    encoder, models, vocab,
    meta: {
      command: 'npx tsx lib/captioning/train-weights.ts',
      recipe: r,
      runtime: rt.line,
      seconds: seconds(),
      pretrain,
      runs,
    },
  });
  console.log(`saved ${out} (${(bytes / 1e6).toFixed(2)} MB) in ${seconds()} s`);
  trainData.dispose();
  testData.dispose();
}

/** Joins runs of single decoders into one file, after checking they share the very same encoder. */
async function merge(parts: string[], out: string): Promise<void> {
  await setup({ seed: 42, profile: 'full', quiet: true });
  const loaded = parts.map((p) => loadCaptioning(p));
  const first = loaded[0];
  const models: Partial<Record<AttentionKind, Captioner>> = {};
  const runs: Record<string, unknown> = {};
  // A decoder comes from the last part that has it (a later run replaces an earlier one).
  const source: Partial<Record<AttentionKind, number>> = {};
  loaded.forEach((part, i) => { for (const kind of Object.keys(part.models) as AttentionKind[]) source[kind] = i; });
  for (const [i, part] of loaded.entries()) {
    const own = (Object.keys(part.models) as AttentionKind[]).filter((kind) => source[kind] === i);
    // A part must follow the recipe in every setting the decoders it gives read (the settings of
    // other decoders, e.g. their step counts, do not change its own run).
    const differ = recipeDifferences(part.meta.recipe as object, CAPTIONING_RECIPE).filter((d) => {
      const readers = DECODER_SETTINGS[d.slice(0, d.indexOf(':'))];
      return !readers || readers.some((kind) => own.includes(kind));
    });
    if (differ.length > 0) throw new Error(`${parts[i]} was made with another recipe: ${differ.join('; ')}`);
    for (const [name, v] of Object.entries(part.encoder.weights)) {
      const same = v.dataSync().every((x, k) => x === first.encoder.weights[name].dataSync()[k]);
      if (!same) throw new Error(`${parts[i]}: its encoder weight ${name} differs from ${parts[0]}'s: the runs did not start from the same encoder`);
    }
    for (const [kind, m] of Object.entries(part.models) as [AttentionKind, Captioner][]) {
      if (!own.includes(kind)) continue; // replaced by a later part
      // re-home the decoder on the first part's encoder (identical weights, checked above)
      const copy = createCaptioner({ ...m.config, encoder: first.encoder });
      for (const [name, v] of Object.entries(m.weights)) copy.weights[name].assign(v);
      models[kind] = copy;
      runs[kind] = (part.meta.runs as Record<string, unknown>)[kind];
    }
  }
  const used = loaded.filter((_, i) => Object.values(source).includes(i));
  const seconds = used.map((l) => l.meta.seconds as number);
  const { bytes } = await saveCaptioning(out, {
    encoder: first.encoder, models, vocab: first.vocab,
    meta: { ...first.meta, recipe: CAPTIONING_RECIPE, runs, seconds: Math.max(...seconds), parts: used.length,
      note: `decoders trained in separate processes (--kind) and joined with --merge: ${used.map((_, k) => (Object.keys(source) as AttentionKind[]).filter((kind) => loaded[source[kind]!] === used[k]).join(' + ')).join(' | ')}` },
  });
  console.log(`merged ${Object.keys(models).join(', ')} into ${out} (${(bytes / 1e6).toFixed(2)} MB)`);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const at = (flag: string) => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : undefined; };
  const out = path.resolve(at('--out') ?? DEFAULT_OUT);
  const job = args.includes('--merge')
    ? merge(args.slice(args.indexOf('--merge') + 1).filter((a) => !a.startsWith('--') && a !== at('--out')), out)
    : trainKinds(at('--kind') ? [at('--kind') as AttentionKind] : ['none', 'soft', 'hard'], out, at('--encoder-from'), Number(at('--eval-every') ?? 0));
  job.catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
