/**
 * Farabet et al. (TPAMI 2013) multi-scale convolutional features: the *same* network (shared
 * weights) runs on every level of an image pyramid; each level's feature maps are upsampled to
 * full resolution and concatenated, and a per-pixel linear classifier reads them. A coarse level
 * sees a window 2^level times larger in the original image for the same computation per pixel:
 * context that a single-scale network of the same depth cannot see.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '../runtime/random';
import { SEG_NUM_CLASSES } from './scenes';

/** 5-tap binomial filter (1 4 6 4 1)/16: a cheap Gaussian for the pyramid. */
const BINOMIAL = [1, 4, 6, 4, 1].map((v) => v / 16);

/**
 * One pyramid step as a layer: Gaussian blur (binomial 5×5, reflect-free zero padding) then keep
 * every second pixel. Fixed weights; input [b, h, w, 1] → [b, h/2, w/2, 1].
 */
export class PyramidDown extends tf.layers.Layer {
  static className = 'PyramidDown';

  constructor(args: { name?: string } = {}) {
    super({ name: args.name, trainable: false });
  }

  override computeOutputShape(inputShape: (number | null)[]): (number | null)[] {
    const [b, h, w, c] = inputShape;
    if (c !== 1) throw new Error(`PyramidDown works on one grey channel (got ${c} channels)`);
    return [b, h === null ? null : Math.ceil(h / 2), w === null ? null : Math.ceil(w / 2), 1];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    return tf.tidy(() => {
      const kernel = tf.tensor4d(BINOMIAL.flatMap((a) => BINOMIAL.map((b) => a * b)), [5, 5, 1, 1]);
      return tf.conv2d(x, kernel, 2, 'same'); // [b, h/2, w/2, 1]
    });
  }
}
tf.serialization.registerClass(PyramidDown);

export interface MultiScaleOptions {
  /** Pyramid levels: 1 = the image alone (single scale), 3 = full, ½ and ¼ resolution. Default 3. */
  scales?: number;
  /** Input side, divisible by 4·2^(scales−1). Default 64. */
  inputSize?: number;
  /** Channels of the shared network's three 5×5 convolutions. Default [16, 32, 32]. */
  channels?: [number, number, number];
  numClasses?: number;
  seed: number;
}

/**
 * Shared feature network per level: conv5×5 → ReLU → pool2 → conv5×5 → ReLU → pool2 → conv5×5 → ReLU
 * (features at ¼ of the level's resolution), bilinear upsampling of each level's features to full
 * resolution, concatenation, and a 1×1 convolution to class scores. Layers: 'pyramid1'…,
 * 'shared_conv1…3', 'up_s{level}', 'concat', 'classifier'.
 */
export function createMultiScaleSegmenter(options: MultiScaleOptions): tf.LayersModel {
  const scales = options.scales ?? 3;
  const size = options.inputSize ?? 64;
  const channels = options.channels ?? [16, 32, 32];
  const numClasses = options.numClasses ?? SEG_NUM_CLASSES;
  if (!Number.isInteger(scales) || scales < 1 || scales > 4) throw new Error(`scales must be 1…4 (got ${scales})`);
  const divisor = 4 * 2 ** (scales - 1);
  if (!Number.isInteger(size) || size % divisor !== 0) {
    throw new Error(`inputSize must be divisible by ${divisor} for ${scales} scales (two poolings on the coarsest level); got ${size}`);
  }
  const rng = mulberry32(options.seed);
  const init = () => tf.initializers.heUniform({ seed: 1 + Math.floor(rng() * 2147483646) });
  // one set of layers, applied to every level: the weights are shared
  const shared = [
    tf.layers.conv2d({ filters: channels[0], kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: init(), name: 'shared_conv1' }),
    tf.layers.maxPooling2d({ poolSize: 2, name: 'shared_pool1' }),
    tf.layers.conv2d({ filters: channels[1], kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: init(), name: 'shared_conv2' }),
    tf.layers.maxPooling2d({ poolSize: 2, name: 'shared_pool2' }),
    tf.layers.conv2d({ filters: channels[2], kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: init(), name: 'shared_conv3' }),
  ];
  const input = tf.input({ shape: [size, size, 1], name: 'image' });
  const levels: tf.SymbolicTensor[] = [input];
  for (let s = 1; s < scales; s++) levels.push(new PyramidDown({ name: `pyramid${s}` }).apply(levels[s - 1]) as tf.SymbolicTensor); // [b, size/2^s, size/2^s, 1]
  const upsampled = levels.map((level, s) => {
    let x = level;
    for (const layer of shared) x = layer.apply(x) as tf.SymbolicTensor; // [b, size/2^(s+2), …, c3]
    return tf.layers.upSampling2d({ size: [4 * 2 ** s, 4 * 2 ** s], interpolation: 'bilinear', name: `up_s${s}` }).apply(x) as tf.SymbolicTensor; // [b, size, size, c3]
  });
  const features = scales === 1 ? upsampled[0] : tf.layers.concatenate({ name: 'concat' }).apply(upsampled) as tf.SymbolicTensor; // [b, size, size, scales·c3]
  const scores = tf.layers.conv2d({ filters: numClasses, kernelSize: 1, kernelInitializer: init(), name: 'classifier' }).apply(features) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: scores, name: scales === 1 ? 'single_scale' : `multi_scale_${scales}` });
}

/**
 * The class scores each pyramid level contributes: the classifier is linear, so the scores are a
 * sum over levels of (that level's upsampled features) × (its slice of the 1×1 kernel), plus the
 * bias. Returns one [b, size, size, classes] tensor per level (the bias added to level 0).
 */
export function multiScaleContributions(model: tf.LayersModel, images: tf.Tensor4D): tf.Tensor4D[] {
  const ups = model.layers.filter((l) => /^up_s\d+$/.test(l.name)).sort((a, b) => a.name.localeCompare(b.name));
  const classifier = model.getLayer('classifier');
  if (ups.length === 0) throw new Error('multiScaleContributions needs a model from createMultiScaleSegmenter');
  return tf.tidy(() => {
    const probe = tf.model({ inputs: model.inputs, outputs: ups.map((l) => l.output as tf.SymbolicTensor) });
    const feats = probe.predict(images);
    const list = (Array.isArray(feats) ? feats : [feats]) as tf.Tensor4D[];
    const [kernel, bias] = classifier.getWeights() as [tf.Tensor4D, tf.Tensor1D]; // [1, 1, scales·c, classes]
    const c = list[0].shape[3];
    return list.map((f, s) => {
      const slice = kernel.slice([0, 0, s * c, 0], [1, 1, c, kernel.shape[3]]);
      const scores = tf.conv2d(f, slice as tf.Tensor4D, 1, 'same');
      return (s === 0 ? scores.add(bias) : scores) as tf.Tensor4D; // [b, size, size, classes]
    });
  });
}

/** The image pyramid a multi-scale network sees: levels[0] the image, each next level blurred and halved. */
export function pyramidLevels(image: Float32Array, size: number, levels: number): { size: number; pixels: Float32Array }[] {
  if (image.length !== size * size) throw new Error(`image must hold ${size}×${size} values (got ${image.length})`);
  const out = [{ size, pixels: image }];
  const down = new PyramidDown();
  for (let l = 1; l < levels; l++) {
    const prev = out[l - 1];
    const next = tf.tidy(() => down.apply(tf.tensor4d(prev.pixels, [1, prev.size, prev.size, 1])) as tf.Tensor);
    out.push({ size: next.shape[1] as number, pixels: next.dataSync() as Float32Array });
    next.dispose();
  }
  return out;
}

/**
 * Frees a model whose layers are applied more than once (shared weights): tf.layers counts every
 * application of a layer, and `model.dispose()` releases only one, which would leave the shared
 * weights behind. Returns the number of weight tensors freed.
 */
export function disposeModelFully(model: tf.LayersModel): number {
  const layers = model.layers;
  let freed = model.dispose().numDisposedVariables;
  for (const layer of layers) {
    let refs = (layer as unknown as { _refCount: number | null })._refCount;
    while (refs !== null && refs > 0) {
      const r = layer.dispose();
      freed += r.numDisposedVariables;
      refs = r.refCountAfterDispose;
    }
  }
  return freed;
}
