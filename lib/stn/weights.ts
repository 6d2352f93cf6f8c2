/**
 * Trained classifiers saved in TensorFlow.js's own layers-model format (model.json with the
 * topology and a weights manifest, plus a .bin of float32 weights) without tfjs-node: the
 * artifacts come from tf.io.withSaveHandler and go back through tf.io.fromMemory. The
 * SpatialTransformer layer is registered, so tf.loadLayersModel rebuilds ST models too.
 *
 * The shipped weights in datasets/stn/ are made by `npx tsx lib/stn/train-weights.ts` (seeded;
 * see that file), and the notebook can retrain every one of them instead of loading.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Distortion } from './distort';

/** What we store beside the weights: how the model was made and how it did. */
export interface ClassifierRecord {
  distortion: Distortion;
  /** 'cnn' | 'st-cnn' | 'fcn' | 'st-fcn'. */
  model: string;
  params: number;
  steps: number;
  batchSize: number;
  seed: number;
  trainingDigits: number;
  /** Test error measured right after training, on the full test set of that distortion. */
  testError: number;
  seconds: number;
  backend: string;
  command: string;
}

/** datasets/stn of this checkout (found from the source or the compiled file). */
export function stnWeightsDir(): string {
  let dir = __dirname;
  for (let up = 0; up < 5; up++) {
    const candidate = join(dir, 'datasets', 'stn');
    if (existsSync(join(dir, 'datasets'))) return candidate;
    dir = dirname(dir);
  }
  return resolve(__dirname, '..', '..', 'datasets', 'stn');
}

export function weightsName(distortion: Distortion, model: string): string {
  return `${distortion}-${model}`;
}

/** float32 → IEEE half-precision bits (round to nearest even), as tfjs's float16 quantisation stores them. */
export function toFloat16Bits(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // inf, NaN
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;                                   // overflow → inf
  if (e <= 0) {                                                          // subnormal half
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1), midpoint = 1 << (shift - 1);
    if (rest > midpoint || (rest === midpoint && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++;          // may carry into the exponent: still right
  return sign | half;
}

/**
 * Saves `model` as <dir>/<name>.json + <name>.weights.bin, a standard tfjs layers model. With
 * `float16` (the default) the weights are stored as tfjs's float16 quantisation (half the bytes;
 * tf.loadLayersModel dequantises them to float32 — differences ~1e-3 relative).
 */
export async function saveClassifier(model: tf.LayersModel, dir: string, name: string, record: ClassifierRecord, options: { float16?: boolean } = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const float16 = options.float16 ?? true;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const bin = `${name}.weights.bin`;
    let weightData = artifacts.weightData as ArrayBuffer;
    let weightSpecs = artifacts.weightSpecs as tf.io.WeightsManifestEntry[];
    if (float16) {
      if (weightSpecs.some((w) => w.dtype !== 'float32')) throw new Error('saveClassifier: float16 storage needs float32 weights');
      const values = new Float32Array(weightData);
      const halves = Uint16Array.from(values, toFloat16Bits);
      weightData = halves.buffer;
      weightSpecs = weightSpecs.map((w) => ({ ...w, quantization: { dtype: 'float16' as const } }));
    }
    writeFileSync(join(dir, bin), Buffer.from(weightData));
    const json = {
      format: 'layers-model',
      generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
      convertedBy: null,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: [bin], weights: weightSpecs }],
      userDefinedMetadata: { record },
    };
    writeFileSync(join(dir, `${name}.json`), JSON.stringify(json));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weightData.byteLength } };
  }));
}

/**
 * Loads a classifier saved by saveClassifier, compiled like createDigitClassifier's (Adam,
 * categorical cross-entropy) so it can be trained further, and its record.
 */
export async function loadClassifier(dir: string, name: string): Promise<{ model: tf.LayersModel; record: ClassifierRecord }> {
  const jsonPath = join(dir, `${name}.json`);
  if (!existsSync(jsonPath)) {
    throw new Error(`no saved classifier ${jsonPath}: make the shipped weights with 'npx tsx lib/stn/train-weights.ts', or train from scratch in the notebook (settings.table = 'train')`);
  }
  const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as {
    modelTopology: object; weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[]; userDefinedMetadata?: { record: ClassifierRecord };
  };
  const manifest = json.weightsManifest?.[0];
  if (!manifest) throw new Error(`${jsonPath} has no weights manifest: not a layers model saved by saveClassifier`);
  const bytes = readFileSync(join(dir, manifest.paths[0]));
  const bytesPer = (w: tf.io.WeightsManifestEntry) => (w.quantization ? (w.quantization.dtype === 'uint8' ? 1 : 2) : 4);
  const expected = manifest.weights.reduce((n, w) => n + bytesPer(w) * w.shape.reduce((a, b) => a * b, 1), 0);
  if (bytes.length !== expected) {
    throw new Error(`${join(dir, manifest.paths[0])} has ${bytes.length} bytes, the manifest needs ${expected}: a truncated or mismatched weights file (re-run lib/stn/train-weights.ts)`);
  }
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: manifest.weights, weightData }));
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const record = json.userDefinedMetadata?.record;
  if (!record) throw new Error(`${jsonPath} has no training record (userDefinedMetadata.record)`);
  return { model, record };
}
