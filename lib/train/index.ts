/**
 * The training loop the notebooks share (shared folder, like lib/plot): `train(options)` for a
 * compiled tf.LayersModel or a custom loss over tf.Variables, with progress shown in place.
 */
export * from './types';
export { TrainError } from './options';
export { train, createStopFlag, lastHistory, type StopFlag } from './loop';
export { lossCurve, progressLine, formatDuration, type LossCurveOptions, type ProgressState } from './progress';
export { createAdam, FusedAdamOptimizer } from './adam';
