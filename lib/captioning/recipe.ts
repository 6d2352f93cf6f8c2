/**
 * The full lesson's training recipe, in one place: the settings the shipped weights were made
 * with (lib/captioning/train-weights.ts) and that the notebook's full profile shows and checks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface CaptioningRecipe {
  /** Seeds the encoder, the decoders, the scenes and the training order. */
  seed: number;
  pretrainSteps: number;
  /** Scenes used to set the encoder's standardisation. */
  calibrationScenes: number;
  trainScenes: number;
  testScenes: number;
  /** Seeds of the training and test scene sets. */
  trainSceneSeed: number;
  testSceneSeed: number;
  embedding: number;
  hidden: number;
  attention: number;
  batchSize: number;
  learningRate: number;
  steps: { none: number; soft: number; hard: number };
  doublyStochastic: number;
  entropyWeight: number;
  /** Hard attention: probability that a step reads the expected annotation instead of a sample. */
  expectationRate: number;
}

export const CAPTIONING_RECIPE: CaptioningRecipe = {
  seed: 1,
  pretrainSteps: 1000,
  calibrationScenes: 500,
  trainScenes: 8000,
  testScenes: 500,
  trainSceneSeed: 1,
  testSceneSeed: 2,
  embedding: 32,
  hidden: 64,
  attention: 32,
  batchSize: 64,
  learningRate: 3e-3,
  steps: { none: 1200, soft: 3600, hard: 1200 },
  doublyStochastic: 0,
  entropyWeight: 0.01,
  expectationRate: 0.5,
};

/**
 * Settings that only some decoders read (the others' runs do not depend on them): a decoder
 * trained before such a setting changed is still the recipe's decoder. Every other setting
 * (seeds, scenes, sizes, batch, learning rate) is read by all three.
 */
export const DECODER_SETTINGS: Readonly<Record<string, readonly ('none' | 'soft' | 'hard')[]>> = {
  'steps.none': ['none'],
  'steps.soft': ['soft'],
  'steps.hard': ['hard'],
  attention: ['soft', 'hard'],
  doublyStochastic: ['soft'],
  entropyWeight: ['hard'],
  expectationRate: ['hard'],
};

/** The settings that differ between two recipes, as 'name: a ≠ b' lines (empty when equal). */
export function recipeDifferences(a: object, b: object, prefix = ''): string[] {
  const out: string[] = [];
  const ra = a as Record<string, unknown>, rb = b as Record<string, unknown>;
  for (const key of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
    const va = ra[key], vb = rb[key];
    if (va !== null && vb !== null && typeof va === 'object' && typeof vb === 'object') out.push(...recipeDifferences(va, vb, `${prefix}${key}.`));
    else if (va !== vb) out.push(`${prefix}${key}: ${String(va)} ≠ ${String(vb)}`);
  }
  return out;
}

/**
 * The folder of the shipped weights (datasets/captioning of the kit), found from this file's
 * place whether it runs from lib/ (tsx) or lib/dist/ (the notebooks).
 */
export function shippedCaptioningDir(): string {
  let dir = __dirname;
  for (let up = 0; up < 5; up++) {
    const candidate = path.join(dir, 'datasets', 'captioning');
    if (fs.existsSync(path.join(candidate, 'model.json'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('the shipped captioning weights (datasets/captioning/model.json) were not found: ' +
    "make them with 'npx tsx lib/captioning/train-weights.ts', or train from scratch (settings.trainFromScratch = true)");
}
