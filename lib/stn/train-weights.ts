/**
 * Makes the shipped weights of notebook 06 (datasets/stn/): every column of the distorted-MNIST
 * table, trained with STN_RECIPE on the wasm backend, seeded, then evaluated on its test set.
 *
 *   npx tsx lib/stn/train-weights.ts                       # CNN and ST-CNN, all five distortions
 *   npx tsx lib/stn/train-weights.ts --models fcn,st-fcn   # the FCN pairs
 *   npx tsx lib/stn/train-weights.ts --only RTS,TC --out /tmp/stn-weights
 *
 * Re-running gives the same weights up to floating-point summation order (one thread, seeded
 * data, batch order and initialisation). The notebook's `table: 'train'` setting runs the same
 * code with the same recipe instead of loading.
 */
import * as tf from '@tensorflow/tfjs';
import { setup } from '../runtime';
import { loadMnistDigits, splitDigits } from '../data';
import { DISTORTIONS, type Distortion } from './distort';
import { createStnTableModel, disposeClassifier, distortedTestSet, STN_RECIPE, type StnTableModel, STN_TABLE_MODELS, digitTestError, trainStnTableModel } from './experiment';
import { saveClassifier, stnWeightsDir, weightsName } from './weights';

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

async function main(): Promise<void> {
  const only = (argument('only')?.split(',') ?? DISTORTIONS) as Distortion[];
  const models = (argument('models')?.split(',') ?? ['cnn', 'st-cnn']) as StnTableModel[];
  only.forEach((d) => { if (!DISTORTIONS.includes(d)) throw new Error(`--only: unknown distortion ${d} (use ${DISTORTIONS.join(',')})`); });
  models.forEach((m) => { if (!STN_TABLE_MODELS.includes(m)) throw new Error(`--models: unknown model ${m} (use ${STN_TABLE_MODELS.join(',')})`); });
  const out = argument('out') ?? stnWeightsDir();
  const steps = Number(argument('steps') ?? STN_RECIPE.steps);
  const recipe = { ...STN_RECIPE, steps };
  const rt = await setup({ seed: recipe.seed, backend: 'wasm' });
  const { train, test } = splitDigits(loadMnistDigits(), { testFraction: recipe.testFraction, seed: recipe.splitSeed });
  const command = `npx tsx lib/stn/train-weights.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  for (const distortion of only) {
    const testSet = distortedTestSet(distortion, test, { seed: recipe.testSeed });
    for (const name of models) {
      const model = createStnTableModel(distortion, name, recipe);
      const history = await trainStnTableModel(model, distortion, train, recipe, { progress: 'line' });
      const error = digitTestError(model, testSet);
      await saveClassifier(model, out, weightsName(distortion, name), {
        distortion, model: name, params: model.countParams(), steps: history.steps, batchSize: recipe.batchSize, seed: recipe.seed,
        trainingDigits: train.count, testError: error, seconds: Math.round(history.seconds), backend: rt.backend, command,
      });
      console.log(`${distortion} ${name}: test error ${(100 * error).toFixed(2)}% after ${history.steps} steps in ${history.seconds.toFixed(0)} s (${model.countParams()} parameters) → ${out}/${weightsName(distortion, name)}.json`);
      disposeClassifier(model);
      if (tf.memory().numTensors > 10) console.warn(`(${tf.memory().numTensors} tensors alive)`);
    }
  }
}

if (require.main === module) {
  main().catch((e) => { console.error(e); process.exit(1); });
}
