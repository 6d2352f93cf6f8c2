/**
 * @lecture/kit — everything the notebooks import, from one place:
 *   import { setup, show, tf, … } from "@lecture/kit";
 */
export * as tf from '@tensorflow/tfjs';
export * from './runtime';
export * from './plot/show';
export * from './plot/specs';
export * from './plot/image';
export * from './convolution';
export * from './convolution/figures';
export * from './data';
export * from './train';
export * from './segmentation';
export * from './stn';
export * from './translation';
export * from './captioning';
