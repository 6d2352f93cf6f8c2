/**
 * Scenes as tensors: image batches, the vocabulary of the scene grammar, encoded scene sets, and
 * a Dataset the shared training loop (lib/train) draws caption batches from.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32, type Rng } from '../runtime/random';
import type { Dataset } from '../train';
import { encodeImagesInBatches, type ImageEncoder } from './model';
import { SCENE_SIZE, SCENE_WORDS, type CaptionScene, type CaptionSceneSet } from './scenes';
import { createCaptionVocabulary, makeCaptionBatch, type CaptionBatch, type CaptionVocabulary } from './vocab';

/** The vocabulary of the scene grammar (special tokens + every word it can say). */
export function sceneVocabulary(): CaptionVocabulary {
  return createCaptionVocabulary(SCENE_WORDS);
}

/** Images of scenes as one tensor [n, 48, 48, 3]. */
export function sceneImages(scenes: readonly CaptionScene[]): tf.Tensor4D {
  if (scenes.length === 0) throw new Error('sceneImages: needs at least one scene');
  const px = SCENE_SIZE * SCENE_SIZE * 3;
  const v = new Float32Array(scenes.length * px);
  scenes.forEach((s, i) => v.set(s.image, i * px));
  return tf.tensor4d(v, [scenes.length, SCENE_SIZE, SCENE_SIZE, 3]);
}

/** The scenes 0…n−1 of a set (n defaults to all of it). */
export function scenesOf(set: CaptionSceneSet, n = set.size): CaptionScene[] {
  if (!(Number.isInteger(n) && n > 0 && n <= set.size)) throw new Error(`scenesOf: n must be 1…${set.size} (got ${n})`);
  return Array.from({ length: n }, (_, i) => set.scene(i));
}

/** Scenes with their annotation vectors from a (frozen) encoder: [n, L, D], computed once. */
export interface EncodedScenes {
  scenes: CaptionScene[];
  features: tf.Tensor3D;
  dispose(): void;
}

/** Renders and encodes scenes in chunks; keep the result and dispose() it when done. */
export function encodeScenes(encoder: ImageEncoder, scenes: readonly CaptionScene[], batchSize = 256): EncodedScenes {
  if (scenes.length === 0) throw new Error('encodeScenes: needs at least one scene');
  const parts: tf.Tensor3D[] = [];
  for (let start = 0; start < scenes.length; start += batchSize) {
    parts.push(tf.tidy(() => encodeImagesInBatches(encoder, sceneImages(scenes.slice(start, start + batchSize)), batchSize)));
  }
  const features = parts.length === 1 ? parts[0] : tf.concat(parts, 0);
  if (parts.length > 1) tf.dispose(parts);
  return { scenes: [...scenes], features, dispose: () => features.dispose() };
}

/**
 * A Dataset of caption batches for train(): each example is an encoded scene with ONE of its
 * reference captions, drawn afresh every time the scene is used (as the paper trains on all five
 * captions of an image), from a seeded generator.
 */
export function sceneCaptionDataset(encoded: EncodedScenes, vocab: CaptionVocabulary, options: { seed?: number } = {}): Dataset<CaptionBatch> {
  const rng: Rng = mulberry32(options.seed ?? 11);
  const { scenes, features } = encoded;
  return {
    size: scenes.length,
    batch(indices: number[]): CaptionBatch {
      const captions = indices.map((i) => scenes[i].references[Math.floor(rng() * scenes[i].references.length)]);
      return makeCaptionBatch(tf.gather(features, tf.tensor1d(indices, 'int32')) as tf.Tensor3D, captions, vocab);
    },
  };
}
