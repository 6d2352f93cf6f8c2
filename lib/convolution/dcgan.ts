/**
 * The DCGAN generator (Radford, Metz & Chintala, ICLR 2016, figure 1): a series of
 * fractionally-strided (transposed) convolutions from a 100-d noise vector to a 64×64×3 image.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '../runtime/random';

export interface DcganGeneratorOptions {
  /** Length of the noise vector z. Paper: 100. */
  latentDim?: number;
  /** Channels after the projection (4×4×baseChannels); each stage but the last halves them. Paper: 1024. */
  baseChannels?: number;
  /** Number of stride-2 transposed convolutions: the image side is 4·2^stages. Paper: 4 (→ 64×64). */
  stages?: number;
  /** Side of every transposed-convolution kernel. Paper: 5. */
  kernelSize?: number;
  /** Channels of the image the last stage produces (through tanh, in [−1, 1]). Paper: 3 (RGB). */
  outputChannels?: number;
  /** Seeds every initialiser, so a notebook re-run shows the same samples. */
  seed: number;
}

function requireInt(name: string, value: number, min: number, why: string): void {
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number ≥ ${min} (got ${value}): ${why}`);
}

/**
 * project (dense z → 4·4·baseChannels, reshape, batchnorm, relu), then up1 … up{stages}:
 * conv2dTranspose stride 2 'same' (doubling the side), batchnorm + relu between stages, tanh at
 * the end. No bias before a batchnorm: its shift would be subtracted away.
 * Layer names: project, project_reshape, project_bn, project_relu, up1, up1_bn, up1_relu, …, up{N}.
 */
export function createDcganGenerator(options: DcganGeneratorOptions): tf.Sequential {
  const { latentDim = 100, baseChannels = 1024, stages = 4, kernelSize = 5, outputChannels = 3, seed } = options;
  requireInt('latentDim', latentDim, 1, 'the length of the noise vector z');
  requireInt('stages', stages, 1, 'the number of stride-2 upsampling layers');
  requireInt('kernelSize', kernelSize, 1, 'the side of each transposed-convolution kernel');
  requireInt('outputChannels', outputChannels, 1, 'the channels of the generated image (3 for RGB)');
  requireInt('seed', seed, 0, 'seeds the initialisers');
  const halvings = 2 ** (stages - 1);
  if (!Number.isInteger(baseChannels) || baseChannels < halvings || baseChannels % halvings !== 0) {
    throw new Error(
      `baseChannels must be a multiple of 2^(stages − 1) = ${halvings} (got ${baseChannels}): ` +
        `each of the first ${stages - 1} stages halves the channels; ` +
        `use e.g. ${halvings * Math.max(1, Math.round(baseChannels / halvings))}`,
    );
  }
  // tfjs seeds randomNormal with `seed ? seed : Math.random()`: seed 0 would be unseeded. Each layer
  // gets its own non-zero seed so equally shaped layers don't start from the same numbers.
  const seeds = mulberry32(seed);
  // Paper, section 4: "All weights were initialized from a zero-centered Normal distribution with standard deviation 0.02."
  const init = (): ReturnType<typeof tf.initializers.randomNormal> =>
    tf.initializers.randomNormal({ mean: 0, stddev: 0.02, seed: 1 + Math.floor(seeds() * 2147483646) });

  const model = tf.sequential({ name: 'dcgan_generator' });
  model.add(
    tf.layers.dense({ inputShape: [latentDim], units: 4 * 4 * baseChannels, useBias: false, kernelInitializer: init(), name: 'project' }),
  ); // [batch, 16·baseChannels]
  model.add(tf.layers.reshape({ targetShape: [4, 4, baseChannels], name: 'project_reshape' })); // [batch, 4, 4, baseChannels]
  model.add(tf.layers.batchNormalization({ name: 'project_bn' }));
  model.add(tf.layers.reLU({ name: 'project_relu' }));
  for (let stage = 1; stage <= stages; stage++) {
    const last = stage === stages;
    const filters = last ? outputChannels : baseChannels / 2 ** stage;
    model.add(
      tf.layers.conv2dTranspose({
        filters,
        kernelSize,
        strides: 2,
        padding: 'same',
        useBias: last,
        activation: last ? 'tanh' : 'linear',
        kernelInitializer: init(),
        name: `up${stage}`,
      }),
    ); // [batch, 4·2^stage, 4·2^stage, filters]
    if (!last) {
      model.add(tf.layers.batchNormalization({ name: `up${stage}_bn` }));
      model.add(tf.layers.reLU({ name: `up${stage}_relu` }));
    }
  }
  return model;
}

export interface StageShape {
  name: string;     // 'project', 'up1', …
  shape: number[];  // [height, width, channels] after the stage (batch dimension left out)
}

/**
 * The output shape after each stage of a generator from `createDcganGenerator` (for the
 * default: 4×4×1024 → 8×8×512 → 16×16×256 → 32×32×128 → 64×64×3). A stage's shape is that of its
 * last layer, so `project` reports the reshaped 4×4 feature map, not the dense layer's vector.
 */
export function dcganStageShapes(model: tf.LayersModel): StageShape[] {
  const stages = new Map<string, number[]>(); // insertion order = layer order
  for (const layer of model.layers) {
    const match = /^(project|up\d+)(_|$)/.exec(layer.name);
    if (match === null) continue;
    const outputShape = layer.outputShape as (number | null)[];
    stages.set(match[1], outputShape.slice(1) as number[]);
  }
  return [...stages].map(([name, shape]) => ({ name, shape }));
}
