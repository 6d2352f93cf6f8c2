/**
 * Saving and loading a tf.LayersModel as tfjs's own format (model.json + one weights .bin file,
 * what `model.save('file://…')` writes with tfjs-node), in plain Node without tfjs-node: a save
 * handler writes the artifacts, `tf.io.fromMemory` reads them back. The custom layers of this
 * folder are registered, so their models load with tf.loadLayersModel.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import './layers'; // registers MaxPoolWithSwitches and MaxUnpool for deserialisation
import './multiscale'; // registers PyramidDown

/** Writes `dir/<name>.json` and `dir/<name>.weights.bin`; returns the two paths. */
export async function saveModelFiles(model: tf.LayersModel, dir: string, name: string): Promise<{ json: string; bin: string }> {
  if (!/^[\w.-]+$/.test(name)) throw new Error(`model file name '${name}' must be letters, digits, '.', '_' or '-'`);
  mkdirSync(dir, { recursive: true });
  const json = join(dir, `${name}.json`);
  const bin = join(dir, `${name}.weights.bin`);
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const weightData = artifacts.weightData;
    if (artifacts.modelTopology === undefined || weightData === undefined) throw new Error('the model produced no topology or weights to save');
    const buffers = Array.isArray(weightData) ? weightData : [weightData];
    writeFileSync(bin, Buffer.concat(buffers.map((b) => Buffer.from(b))));
    const manifest = {
      format: artifacts.format ?? 'layers-model',
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy ?? null,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: [`${name}.weights.bin`], weights: artifacts.weightSpecs ?? [] }],
    };
    writeFileSync(json, JSON.stringify(manifest));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return { json, bin };
}

/** Loads what `saveModelFiles` (or tfjs's own file:// saver) wrote. */
export async function loadModelFiles(dir: string, name: string): Promise<tf.LayersModel> {
  const json = join(dir, `${name}.json`);
  if (!existsSync(json)) throw new Error(`no saved model at ${json}: train and save it first (see datasets/segmentation/README.md)`);
  let manifest: { modelTopology: object; weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
  try {
    manifest = JSON.parse(readFileSync(json, 'utf8'));
  } catch (e) {
    throw new Error(`${json} is not valid JSON (${(e as Error).message}): the file is corrupt; save the model again`);
  }
  const groups = manifest.weightsManifest ?? [];
  const specs = groups.flatMap((g) => g.weights);
  const buffers = groups.flatMap((g) => g.paths).map((p) => {
    const path = join(dir, p);
    if (!existsSync(path)) throw new Error(`weights file ${path} named in ${json} does not exist: copy it next to the .json`);
    return readFileSync(path);
  });
  const data = Buffer.concat(buffers);
  const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (data.length !== expected) {
    throw new Error(`weights of ${json} hold ${data.length} bytes, the manifest describes ${expected}: the .bin file is truncated or from another model`);
  }
  const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: manifest.modelTopology, weightSpecs: specs, weightData }));
}

/** datasets/segmentation/ of the kit (from lib/segmentation or its compiled lib/dist/segmentation). */
export function segmentationWeightsDir(): string {
  const up = __dirname.split(/[\\/]/).includes('dist') ? ['..', '..', '..'] : ['..', '..'];
  return join(__dirname, ...up, 'datasets', 'segmentation');
}

/** A shipped trained model (see datasets/segmentation/README.md), or null when none was shipped. */
export async function loadShippedSegmenter(name: string): Promise<tf.LayersModel | null> {
  const dir = segmentationWeightsDir();
  if (!existsSync(join(dir, `${name}.json`))) return null;
  return loadModelFiles(dir, name);
}

/** The held-out scores the weights command measured when it wrote the shipped files (scores.json). */
export function shippedScores(): Record<string, { command: string; steps: number; seconds: number; meanIou: number; pixelAccuracy: number }> {
  const path = join(segmentationWeightsDir(), 'scores.json');
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
}
