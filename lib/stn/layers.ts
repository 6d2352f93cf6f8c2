/**
 * The spatial transformer as a tf.layers layer, the localisation network that predicts θ, and the
 * classifiers of the distorted-MNIST experiment (Jaderberg et al. 2015, section 4.1): CNN and
 * ST-CNN, FCN and ST-FCN, each pair with the same parameter budget.
 */
import * as tf from '@tensorflow/tfjs';
import { IDENTITY_THETA, type SamplerOptions, spatialTransform } from './sampler';

type Shape = (number | null)[];

export interface SpatialTransformerArgs extends SamplerOptions {
  /** Output height and width of the sampler. */
  outSize: number | [number, number];
  name?: string;
}

/**
 * Inputs [features, θ] → features sampled on θ's affine grid: [batch, outH, outW, channels].
 * Insert it in front of a classifier (features = the image) or inside one (a feature map); θ comes
 * from a localisation network (`localisationNet`). No weights of its own.
 */
export class SpatialTransformer extends tf.layers.Layer {
  static className = 'SpatialTransformer';
  readonly outSize: [number, number];
  readonly alignCorners: boolean;
  readonly background: number;

  constructor(args: SpatialTransformerArgs) {
    super({ name: args.name });
    const size = typeof args.outSize === 'number' ? [args.outSize, args.outSize] : args.outSize;
    if (!Array.isArray(size) || size.length !== 2 || !size.every((n) => Number.isInteger(n) && n >= 1)) {
      throw new Error(`SpatialTransformer: outSize must be a positive integer or [height, width] (got ${JSON.stringify(args.outSize)})`);
    }
    this.outSize = [size[0], size[1]];
    this.alignCorners = args.alignCorners ?? false;
    this.background = args.background ?? 0;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    if (!Array.isArray(inputShape[0]) || inputShape.length !== 2) {
      throw new Error('SpatialTransformer takes two inputs, [features, theta]: apply it as st.apply([x, theta])');
    }
    const [xs, ts] = inputShape as Shape[];
    if (xs.length !== 4) throw new Error(`SpatialTransformer: features must be [batch, height, width, channels] (got [${xs.join(', ')}])`);
    if (!(ts.length === 2 && ts[1] === 6)) throw new Error(`SpatialTransformer: θ must be [batch, 6] (got [${ts.join(', ')}])`);
    return [xs[0], this.outSize[0], this.outSize[1], xs[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) throw new Error('SpatialTransformer takes two inputs: [features, theta]');
    return spatialTransform(inputs[0], inputs[1], this.outSize, { alignCorners: this.alignCorners, background: this.background });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), outSize: this.outSize, alignCorners: this.alignCorners, background: this.background };
  }
}
tf.serialization.registerClass(SpatialTransformer);

// ---------------------------------------------------------------------------------------------
// Localisation network
// ---------------------------------------------------------------------------------------------

export interface LocalisationOptions {
  /** Average-pool the input by this factor first (a 60×60 input is located well at 30×30). Default 1. */
  downsample?: number;
  /** Filters of the two 5×5 conv + 2×2 max-pool stages. Default [8, 16]. */
  filters?: [number, number];
  /** Units of the hidden dense layer. Default 32. */
  hidden?: number;
  /** Activation of the convolutions and the hidden layer. Default 'relu'. */
  activation?: 'relu' | 'tanh' | 'elu';
  /** Prefix of the layer names. Default 'loc'. */
  name?: string;
}

/**
 * A small CNN from the input to θ ([batch, 6]): [avgPool] → conv5×5 → pool → conv5×5 → pool →
 * dense → dense(6). The last layer starts with zero weights and the identity as its bias, so the
 * untrained transformer passes the image through unchanged and learns to move away from it.
 */
export function localisationNet(input: tf.SymbolicTensor, options: LocalisationOptions = {}): tf.SymbolicTensor {
  const name = options.name ?? 'loc';
  const [f1, f2] = options.filters ?? [8, 16];
  const down = options.downsample ?? 1;
  const activation = options.activation ?? 'relu';
  if (!(Number.isInteger(down) && down >= 1)) throw new Error(`localisationNet: downsample must be a whole number ≥ 1 (got ${down})`);
  let x = input;
  if (down > 1) x = tf.layers.averagePooling2d({ poolSize: down, strides: down, name: `${name}_down` }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: f1, kernelSize: 5, padding: 'same', activation, name: `${name}_conv1` }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: `${name}_pool1` }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: f2, kernelSize: 5, padding: 'same', activation, name: `${name}_conv2` }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: `${name}_pool2` }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten({ name: `${name}_flat` }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: options.hidden ?? 32, activation, name: `${name}_hidden` }).apply(x) as tf.SymbolicTensor;
  return tf.layers.dense({
    units: 6,
    kernelInitializer: 'zeros',
    biasInitializer: tf.initializers.constant({ value: 0 }),
    name: `${name}_theta`,
  }).apply(x) as tf.SymbolicTensor;
}

/** Sets every localisation head (a layer named '…_theta') back to the identity transform. */
export function resetToIdentity(model: tf.LayersModel): number {
  let count = 0;
  for (const layer of model.layers) {
    if (!layer.name.endsWith('_theta')) continue;
    const kernel = layer.getWeights()[0]; // the variable's own value: not ours to dispose
    const fresh = [tf.zerosLike(kernel), tf.tensor1d(IDENTITY_THETA as number[])];
    layer.setWeights(fresh); // copies into the variables
    tf.dispose(fresh);
    count++;
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// Classifiers: CNN / FCN, with or without a spatial transformer in front
// ---------------------------------------------------------------------------------------------

export type ClassifierKind = 'cnn' | 'fcn';

export interface TransformerOptions extends SamplerOptions {
  /** Output size of the sampler: what the classifier behind it sees. */
  outSize: number;
  localisation?: LocalisationOptions;
}

export interface DigitClassifierOptions {
  /** Square input images of this size (one channel, values in [0, 1]). */
  inputSize: number;
  /** 'cnn': conv3×3 → pool → conv3×3 → pool → dense → 10; 'fcn': dense → dense → 10. */
  kind: ClassifierKind;
  /** A spatial transformer in front of the classifier, or none. */
  transformer?: TransformerOptions | null;
  /** CNN: filters of the two conv layers. Default [16, 32]. */
  filters?: [number, number];
  /** Units of the hidden dense layer(s). Default 64 (CNN) or 128 (FCN). */
  hidden?: number;
  /** Adam's learning rate. Default 1e-3. */
  learningRate?: number;
  name?: string;
}

const CLASSES = 10;

/** Layer names the figures read back. */
export const THETA_LAYER = 'loc_theta';
export const SAMPLER_LAYER = 'sampler';

/**
 * A compiled digit classifier (softmax over 10 classes, categorical cross-entropy, Adam):
 * CNN, FCN, ST-CNN or ST-FCN. An ST model's θ is the output of the layer named THETA_LAYER and
 * its sampled image the output of SAMPLER_LAYER (see `transformerProbe`).
 */
export function createDigitClassifier(options: DigitClassifierOptions): tf.LayersModel {
  const S = options.inputSize;
  if (!(Number.isInteger(S) && S >= 8)) throw new Error(`createDigitClassifier: inputSize must be a whole number ≥ 8 (got ${S})`);
  if (options.kind !== 'cnn' && options.kind !== 'fcn') throw new Error(`createDigitClassifier: kind must be 'cnn' or 'fcn' (got '${String(options.kind)}')`);
  const st = options.transformer ?? null;
  const input = tf.input({ shape: [S, S, 1], name: 'image' });
  let x: tf.SymbolicTensor = input;
  if (st) {
    if (!(Number.isInteger(st.outSize) && st.outSize >= 8)) throw new Error(`createDigitClassifier: transformer.outSize must be a whole number ≥ 8 (got ${st.outSize})`);
    const theta = localisationNet(input, { ...st.localisation, name: 'loc' });
    x = new SpatialTransformer({ outSize: st.outSize, alignCorners: st.alignCorners, background: st.background, name: SAMPLER_LAYER })
      .apply([input, theta]) as tf.SymbolicTensor;
  }
  if (options.kind === 'cnn') {
    const [f1, f2] = options.filters ?? [16, 32];
    x = tf.layers.conv2d({ filters: f1, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv1' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.conv2d({ filters: f2, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv2' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.flatten({ name: 'flat' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: options.hidden ?? 64, activation: 'relu', name: 'hidden' }).apply(x) as tf.SymbolicTensor;
  } else {
    const h = options.hidden ?? 128;
    x = tf.layers.flatten({ name: 'flat' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: h, activation: 'relu', name: 'hidden1' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: h, activation: 'relu', name: 'hidden2' }).apply(x) as tf.SymbolicTensor;
  }
  const output = tf.layers.dense({ units: CLASSES, activation: 'softmax', name: 'class' }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: output, name: options.name ?? `${st ? 'st-' : ''}${options.kind}` });
  if (st) resetToIdentity(model);
  model.compile({ optimizer: tf.train.adam(options.learningRate ?? 1e-3), loss: 'categoricalCrossentropy' });
  return model;
}
