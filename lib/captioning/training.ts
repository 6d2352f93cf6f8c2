/**
 * Training and scoring captioners: one call per model on top of the shared loop (lib/train), and
 * one evaluation that returns BLEU-4 overall and by number of objects, and attention correctness.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '../runtime/random';
import { train, type ProgressMode, type TrainHistory } from '../train';
import { corpusBleu } from '../translation/bleu';
import { captionLoss, reinforceLoss, type Captioner } from './model';
import { sceneCaptionDataset, type EncodedScenes } from './data';
import { greedyCaptions, type GeneratedCaption } from './decode';
import { attentionCorrectness, type CorrectnessResult } from './metrics';
import type { CaptionVocabulary } from './vocab';
import { SCENE_SIZE } from './scenes';

export interface TrainCaptionerOptions {
  /** Encoded training scenes. */
  data: EncodedScenes;
  vocab: CaptionVocabulary;
  steps: number;
  batchSize?: number;
  /** Adam's learning rate. Default 2e-3. */
  learningRate?: number;
  /** Soft attention: λ of the doubly stochastic regulariser. Default 0.002. */
  doublyStochastic?: number;
  /** Hard attention: weight of the entropy bonus. Default 0.01. */
  entropyWeight?: number;
  /** Hard attention: weight of the REINFORCE term. Default 1. */
  reinforceWeight?: number;
  /** Hard attention: probability of reading the expected annotation instead of a sample. Default 0.5, as Xu et al. */
  expectationRate?: number;
  /** Seeds the batches, the reference drawn for each scene and the sampled locations. Default 7. */
  seed?: number;
  maxSeconds?: number;
  shouldStop?: () => boolean;
  progress?: ProgressMode;
  /** Chart title. */
  title?: string;
}

export interface CaptionerRun {
  history: TrainHistory;
  /** Hard attention: the moving-average baseline after each step, and the batch's mean reward. */
  baseline: number[];
  reward: number[];
}

/**
 * Trains a captioner's decoder (the encoder stays frozen): cross-entropy for 'none' and 'soft'
 * (plus the doubly stochastic regulariser), REINFORCE with a moving-average baseline and an
 * entropy bonus for 'hard'.
 */
export async function trainCaptioner(model: Captioner, options: TrainCaptionerOptions): Promise<CaptionerRun> {
  if (options.vocab.size !== model.config.vocabSize) throw new Error(`trainCaptioner: the vocabulary has ${options.vocab.size} words, the model ${model.config.vocabSize}`);
  if (options.data.features.shape[1] !== model.locations || options.data.features.shape[2] !== model.features) {
    throw new Error(`trainCaptioner: the data was encoded as [${options.data.features.shape.slice(1).join(', ')}] per image, the model reads [${model.locations}, ${model.features}]: encode it with model.encoder`);
  }
  const seed = options.seed ?? 7;
  const optimizer = tf.train.adam(options.learningRate ?? 2e-3);
  const sampler = mulberry32(seed + 101);
  const baseline = { value: null as number | null };
  const baselines: number[] = [], rewards: number[] = [];
  const lambda = options.doublyStochastic ?? 0.002;
  try {
    const history = await train({
      data: sceneCaptionDataset(options.data, options.vocab, { seed: seed + 202 }),
      batchSize: options.batchSize ?? 64,
      epochs: Infinity,
      maxSteps: options.steps,
      maxSeconds: options.maxSeconds,
      shouldStop: options.shouldStop,
      seed,
      optimizer,
      variables: model.variables(),
      loss: (batch) => {
        if (model.kind !== 'hard') return captionLoss(model, batch, { doublyStochastic: lambda }).loss;
        const r = reinforceLoss(model, batch, {
          rng: sampler, baseline, entropyWeight: options.entropyWeight, reinforceWeight: options.reinforceWeight,
          expectationRate: options.expectationRate ?? 0.5,
        });
        rewards.push(r.reward);
        baselines.push(baseline.value as number);
        return r.loss;
      },
      progress: options.progress,
      chart: { title: options.title ?? `${model.kind === 'none' ? 'no attention' : `${model.kind} attention`}: training loss`, xLabel: 'step', yLabel: model.kind === 'hard' ? 'surrogate loss' : 'loss' },
    });
    return { history, baseline: baselines, reward: rewards };
  } finally {
    optimizer.dispose();
  }
}

export interface CaptionEvaluation {
  captions: GeneratedCaption[];
  /** Corpus BLEU-4 in [0, 1] (×100 for the papers' scale). */
  bleu: number;
  /** BLEU-4 over the scenes with n objects. */
  byObjects: Record<number, number>;
  /** Attention correctness (NaN fields without attention). */
  correctness: CorrectnessResult | null;
  /** The same captions scored as if every map were uniform. */
  uniform: CorrectnessResult | null;
  seconds: number;
}

/** Greedy captions for encoded test scenes, scored against their references. */
export function evaluateCaptioner(model: Captioner, data: EncodedScenes, vocab: CaptionVocabulary, options: { maxWords?: number } = {}): CaptionEvaluation {
  const t0 = performance.now();
  const captions = greedyCaptions(model, data.features, vocab, { maxWords: options.maxWords });
  const scenes = data.scenes;
  const bleuOf = (idx: number[]) => corpusBleu(idx.map((i) => captions[i].words), idx.map((i) => scenes[i].references)).bleu / 100;
  const all = scenes.map((_, i) => i);
  const byObjects: Record<number, number> = {};
  for (const n of [...new Set(scenes.map((s) => s.objects.length))].sort()) byObjects[n] = bleuOf(all.filter((i) => scenes[i].objects.length === n));
  const withAttention = model.kind !== 'none';
  const grid = { grid: model.grid, imageSize: SCENE_SIZE };
  return {
    captions,
    bleu: bleuOf(all),
    byObjects,
    correctness: withAttention ? attentionCorrectness(captions, scenes, grid) : null,
    uniform: withAttention ? attentionCorrectness(captions, scenes, { ...grid, uniform: true }) : null,
    seconds: (performance.now() - t0) / 1000,
  };
}
