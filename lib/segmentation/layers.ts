/**
 * DeconvNet's max pooling with switches and max unpooling (Noh et al., ICCV 2015) as tf.layers
 * layers, so encoder–decoder networks stay ordinary tf.LayersModels (trainOnBatch, save/load,
 * layer shapes for the diagrams). The tensor work is lib/convolution's
 * `maxPoolWithSwitchesTensor` / `maxUnpoolTensor`; this file adds what training needs:
 *   - the pooled values come from tf.maxPool, whose gradient exists on every backend
 *     (tf.maxPoolWithArgmax has none in tfjs 4.22);
 *   - unpooling gets its gradient by tf.customGrad: the scatter's adjoint is a gather of the
 *     upstream gradient at the switches (tf.scatterND has no gradient in tfjs 4.22).
 * Both are registered for (de)serialisation, so a saved model loads back with tf.loadLayersModel.
 */
import * as tf from '@tensorflow/tfjs';
import { maxPoolWithSwitchesTensor, maxUnpoolTensor } from '../convolution/upsampling';

type Shape = (number | null)[];

function poolSizeOf(value: unknown): number {
  const size = value === undefined ? 2 : Number(value);
  if (!Number.isInteger(size) || size < 1) throw new Error(`poolSize must be a whole number ≥ 1 (got ${String(value)})`);
  return size;
}

function rank4(shape: Shape, what: string): [number | null, number, number, number] {
  if (shape.length !== 4 || shape.slice(1).some((d) => d === null)) {
    throw new Error(`${what} needs a [batch, height, width, channels] input with known height, width and channels (got [${shape.join(', ')}])`);
  }
  return shape as [number | null, number, number, number];
}

/**
 * The switches of `x` as a constant for the gradient: positions, not values, so nothing flows
 * back through them (and tfjs 4.22 has no gradient for the MaxPoolWithArgmax inside).
 */
function switchesOf(x: tf.Tensor4D, poolSize: number): tf.Tensor4D {
  const f = tf.customGrad(((input: tf.Tensor) => {
    const { pooled, switches } = maxPoolWithSwitchesTensor(input as tf.Tensor4D, poolSize);
    pooled.dispose();
    return { value: switches, gradFunc: () => tf.zerosLike(input) };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as tf.Tensor4D;
}

/**
 * Max pooling (poolSize×poolSize, stride poolSize, 'valid') that also returns where each maximum
 * was: outputs [pooled, switches], switches int32 flat indices into the input (batch included).
 */
export class MaxPoolWithSwitches extends tf.layers.Layer {
  static className = 'MaxPoolWithSwitches';
  readonly poolSize: number;

  constructor(args: { poolSize?: number; name?: string; trainable?: boolean } = {}) {
    super({ name: args.name, trainable: args.trainable });
    this.poolSize = poolSizeOf(args.poolSize);
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape[] {
    const [b, h, w, c] = rank4((Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape, 'MaxPoolWithSwitches');
    const out: Shape = [b, Math.floor(h / this.poolSize), Math.floor(w / this.poolSize), c];
    return [out, [...out]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D; // [batch, h, w, c]
    const p = this.poolSize;
    return [tf.maxPool(x, p, p, 'valid'), switchesOf(x, p)]; // [batch, h/p, w/p, c] ×2
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), poolSize: this.poolSize };
  }
}

/** scatter of `pooled` to `switches` in a zero tensor of `shape`, with the gather as its gradient. */
function unpoolWithGradient(pooled: tf.Tensor4D, switches: tf.Tensor4D, shape: [number, number, number, number]): tf.Tensor4D {
  const f = tf.customGrad(((p: tf.Tensor, s: tf.Tensor, save: tf.GradSaveFunc) => {
    save([s]);
    return {
      value: maxUnpoolTensor(p as tf.Tensor4D, s as tf.Tensor4D, shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sw] = saved;
        const dp = tf.gather(dy.reshape([-1]), sw.reshape([-1])).reshape(p.shape); // each pooled value's gradient sits at its switch
        return [dp, tf.zeros(sw.shape)]; // switches are positions, not values: no gradient
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(pooled, switches) as tf.Tensor4D;
}

/**
 * Max unpooling with the switches of a MaxPoolWithSwitches layer: inputs [x, switches], output
 * [batch, h·poolSize, w·poolSize, c] with each value of x put back where its maximum was found and
 * zeros elsewhere. x must have the channels of the pooled tensor the switches came from.
 */
export class MaxUnpool extends tf.layers.Layer {
  static className = 'MaxUnpool';
  readonly poolSize: number;

  constructor(args: { poolSize?: number; name?: string; trainable?: boolean } = {}) {
    super({ name: args.name, trainable: args.trainable });
    this.poolSize = poolSizeOf(args.poolSize);
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    if (!Array.isArray(inputShape[0]) || inputShape.length !== 2) {
      throw new Error('MaxUnpool takes two inputs, [features, switches]: apply it as unpool.apply([x, switches])');
    }
    const [xs, ss] = inputShape as Shape[];
    const [b, h, w, c] = rank4(xs, 'MaxUnpool');
    const [, sh, sw, sc] = rank4(ss, 'MaxUnpool switches');
    if (sh !== h || sw !== w || sc !== c) {
      throw new Error(`MaxUnpool: the features [${h}, ${w}, ${c}] must have the shape of the pooled tensor the switches belong to [${sh}, ${sw}, ${sc}]`);
    }
    return [b, h * this.poolSize, w * this.poolSize, c];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) throw new Error('MaxUnpool takes two inputs: [features, switches]');
    const [x, switches] = inputs as [tf.Tensor4D, tf.Tensor4D];
    const [b, h, w, c] = x.shape;
    const shape: [number, number, number, number] = [b, h * this.poolSize, w * this.poolSize, c];
    if (switches.dtype === 'int32') return unpoolWithGradient(x, switches, shape); // [batch, h·p, w·p, c]
    // tf.layers hands a layer's int32 output on as float32: exact below 2^24 elements
    if (shape.reduce((a, d) => a * d, 1) > 2 ** 24) {
      throw new Error(`MaxUnpool: ${shape.join('×')} is too large for switches passed as float32 (at most 2^24 elements): use smaller batches`);
    }
    return tf.tidy(() => unpoolWithGradient(x, switches.toInt() as tf.Tensor4D, shape));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), poolSize: this.poolSize };
  }
}

tf.serialization.registerClass(MaxPoolWithSwitches);
tf.serialization.registerClass(MaxUnpool);
