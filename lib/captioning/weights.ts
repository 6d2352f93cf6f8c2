/**
 * Saving and loading the encoder and captioners in TensorFlow.js's own weight format (a JSON
 * manifest + one binary file, as model.save writes them), without tfjs-node: tf.io.encodeWeights
 * and decodeWeights do the packing, Node's fs the files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  captionerShapes, createCaptioner, createEncoder, encoderShapes,
  type AttentionKind, type Captioner, type CaptionerOptions, type EncoderOptions, type ImageEncoder,
} from './model';
import { createCaptionVocabulary, type CaptionVocabulary } from './vocab';

export const CAPTIONING_WEIGHTS_FORMAT = 'lecture-kit/captioning-weights';

export interface SavedCaptioning {
  encoder: ImageEncoder;
  models: Partial<Record<AttentionKind, Captioner>>;
  vocab: CaptionVocabulary;
  /** Whatever was saved alongside (how the weights were made, training curves, timings). */
  meta: Record<string, unknown>;
  dispose(): void;
}

interface Manifest {
  format: string;
  version: number;
  encoder: Required<EncoderOptions>;
  models: Partial<Record<AttentionKind, Omit<CaptionerOptions, 'encoder'>>>;
  vocab: string[];
  meta: Record<string, unknown>;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** Writes `dir/model.json` and `dir/weights.bin`. */
export async function saveCaptioning(dir: string, what: { encoder: ImageEncoder; models: Partial<Record<AttentionKind, Captioner>>; vocab: CaptionVocabulary; meta?: Record<string, unknown> }): Promise<{ bytes: number }> {
  const named: tf.NamedTensorMap = {};
  for (const [name, v] of Object.entries(what.encoder.weights)) named[`encoder/${name}`] = v;
  const models: Manifest['models'] = {};
  for (const [kind, m] of Object.entries(what.models) as [AttentionKind, Captioner][]) {
    if (m.config.vocabSize !== what.vocab.size) throw new Error(`saveCaptioning: the ${kind} model has ${m.config.vocabSize} words, the vocabulary ${what.vocab.size}`);
    if (m.encoder !== what.encoder) throw new Error(`saveCaptioning: the ${kind} model reads another encoder than the one being saved`);
    models[kind] = m.config;
    for (const [name, v] of Object.entries(m.weights)) named[`${kind}/${name}`] = v;
  }
  const { data, specs } = await tf.io.encodeWeights(named);
  const manifest: Manifest = {
    format: CAPTIONING_WEIGHTS_FORMAT,
    version: 1,
    encoder: what.encoder.config,
    models,
    vocab: what.vocab.words.slice(4),
    meta: what.meta ?? {},
    weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
  };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(data as ArrayBuffer));
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(manifest));
  return { bytes: (data as ArrayBuffer).byteLength };
}

/** Reads what saveCaptioning wrote, checking every weight's name and shape. */
export function loadCaptioning(dir: string): SavedCaptioning {
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(file)) throw new Error(`loadCaptioning: ${file} does not exist: train the weights first (npx tsx lib/captioning/train-weights.ts) or give the right folder`);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
  } catch (e) {
    throw new Error(`loadCaptioning: ${file} is not valid JSON (${(e as Error).message}): re-create it with train-weights.ts`);
  }
  if (manifest.format !== CAPTIONING_WEIGHTS_FORMAT) throw new Error(`loadCaptioning: ${file} is not a captioning weights file (format '${manifest.format}')`);
  const bin = path.join(dir, manifest.weightsManifest[0].paths[0]);
  if (!fs.existsSync(bin)) throw new Error(`loadCaptioning: ${bin} is missing: re-create the weights with train-weights.ts`);
  const bytes = fs.readFileSync(bin);
  const specs = manifest.weightsManifest[0].weights;
  const expected = specs.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  if (bytes.byteLength !== expected) throw new Error(`loadCaptioning: ${bin} has ${bytes.byteLength} bytes, the manifest needs ${expected}: the file is truncated or from another run`);
  const tensors = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), specs);
  const vocab = createCaptionVocabulary(manifest.vocab);
  const encoder = createEncoder(manifest.encoder);
  const models: Partial<Record<AttentionKind, Captioner>> = {};
  try {
    assign(encoder.weights, encoderShapes(manifest.encoder), tensors, 'encoder');
    for (const [kind, config] of Object.entries(manifest.models) as [AttentionKind, Omit<CaptionerOptions, 'encoder'>][]) {
      const m = createCaptioner({ ...config, encoder });
      models[kind] = m;
      assign(m.weights, captionerShapes({ ...config, encoder }), tensors, kind);
    }
  } catch (e) {
    encoder.dispose();
    for (const m of Object.values(models)) m.dispose();
    throw e;
  } finally {
    tf.dispose(Object.values(tensors));
  }
  return {
    encoder, models, vocab, meta: manifest.meta,
    dispose: () => { encoder.dispose(); for (const m of Object.values(models)) m.dispose(); },
  };
}

function assign(weights: Record<string, tf.Variable>, shapes: Record<string, number[]>, tensors: tf.NamedTensorMap, prefix: string): void {
  for (const [name, shape] of Object.entries(shapes)) {
    const t = tensors[`${prefix}/${name}`];
    if (!t) throw new Error(`loadCaptioning: the file has no weight '${prefix}/${name}': it was saved by another version of the model`);
    if (t.shape.join(',') !== shape.join(',')) throw new Error(`loadCaptioning: '${prefix}/${name}' has shape [${t.shape.join(', ')}], the model needs [${shape.join(', ')}]`);
    weights[name].assign(t);
  }
}
