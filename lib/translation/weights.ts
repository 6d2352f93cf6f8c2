/**
 * Saving and loading a translator's weights in TensorFlow.js's own weight format (a JSON manifest
 * plus one binary file, as written by tf.io.encodeWeights), without tfjs-node.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { createTranslator, translatorConfig, weightShapes, type Translator, type TranslatorConfig } from './model';

const FORMAT = 'lecture-kit/translator@1';

interface ModelFile {
  format: string;
  config: TranslatorConfig;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  extra: Record<string, unknown>;
}

/** Writes `dir/model.json` and `dir/weights.bin`. `extra` (JSON) is stored alongside. */
export async function saveTranslator(model: Translator, dir: string, extra: Record<string, unknown> = {}): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const named = Object.entries(model.weights).map(([name, w]) => ({ name, tensor: w as tf.Tensor }));
  const { data, specs } = await tf.io.encodeWeights(named);
  const file: ModelFile = { format: FORMAT, config: model.config, weightsManifest: [{ paths: ['weights.bin'], weights: specs }], extra };
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(data as ArrayBuffer));
  fs.writeFileSync(path.join(dir, 'model.json'), `${JSON.stringify(file, null, 1)}\n`);
}

/** Reads what saveTranslator wrote: a new model with those weights, and the stored extra data. */
export async function loadTranslator(dir: string): Promise<{ model: Translator; extra: Record<string, unknown> }> {
  const jsonPath = path.join(dir, 'model.json');
  if (!fs.existsSync(jsonPath)) {
    throw new Error(`loadTranslator: no model at '${dir}' (no model.json). Train one, or recreate the shipped weights with ` +
      '`npx tsx lib/translation/train-weights.ts`');
  }
  let file: ModelFile;
  try {
    file = JSON.parse(fs.readFileSync(jsonPath, 'utf8')) as ModelFile;
  } catch (e) {
    throw new Error(`loadTranslator: '${jsonPath}' is not valid JSON (${(e as Error).message}): the file is damaged; recreate it`);
  }
  if (file.format !== FORMAT) throw new Error(`loadTranslator: '${jsonPath}' is not a translator saved by this kit (format '${file.format}')`);
  const binPath = path.join(dir, file.weightsManifest[0].paths[0]);
  if (!fs.existsSync(binPath)) throw new Error(`loadTranslator: '${binPath}' is missing: the weights file must sit next to model.json`);
  const bytes = fs.readFileSync(binPath);
  const specs = file.weightsManifest[0].weights;
  const expected = specs.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  if (bytes.byteLength !== expected) {
    throw new Error(`loadTranslator: '${binPath}' has ${bytes.byteLength} bytes, the manifest needs ${expected}: the file is truncated or from another model`);
  }
  const config = translatorConfig(file.config);
  const shapes = weightShapes(config);
  const model = createTranslator(config, 'zeros');
  const values = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), specs);
  try {
    for (const [name, shape] of Object.entries(shapes)) {
      const v = values[name];
      if (!v) throw new Error(`loadTranslator: the file has no weight '${name}'`);
      if (!tf.util.arraysEqual(v.shape, shape)) throw new Error(`loadTranslator: weight '${name}' has shape [${v.shape}], the config needs [${shape}]`);
      model.weights[name].assign(v);
    }
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    tf.dispose(Object.values(values));
  }
  return { model, extra: file.extra ?? {} };
}

/** The kit's datasets/translation folder (found upwards from this file, compiled or not). */
export function translationDataDir(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'datasets', 'translation');
    if (fs.existsSync(path.join(dir, 'datasets'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`translationDataDir: no datasets/ folder above ${__dirname}: is the kit checked out completely?`);
}
