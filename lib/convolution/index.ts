/**
 * Convolution arithmetic and upsampling (lecture section 2, notebook 02-convolution-arithmetic).
 * figures.ts (the notebook's figures) is exported separately by its author.
 */
export * from './types';
export {
  type ConvMode,
  type ConvSettings,
  type TransposedConvSettings,
  convOutputSize,
  transposedConvOutputSize,
  describeOutputSize,
  matchingOutputPadding,
} from './arithmetic';
export { type Grid, gridShape, zerosGrid, onesGrid, randomGrid, vec, unvec, maxAbsDiff } from './grid';
export {
  type ConvOptions,
  type TransposedConvOptions,
  type CropWindow,
  type TransposedConvStep,
  type TransposedConvTrace,
  conv2dNaive,
  transposedConv2dNaive,
  transposedConv2dSteps,
  overlapCounts,
} from './naive';
export { type TransposedViaMatrix, convMatrix, transposedViaMatrix, adjointGap, matTranspose, matVec, dot } from './matrix';
export {
  conv2dTensor,
  transposedConv2dTensor,
  conv2dTfjs,
  transposedConv2dTfjs,
  gridToTensor,
  kernelToTensor,
  tensorToGrid,
} from './tfjs';
export {
  type PooledWithSwitches,
  type PooledTensorWithSwitches,
  nearestUpsample,
  nearestUpsampleTensor,
  bedOfNails,
  maxPoolWithSwitches,
  maxPoolWithArgmaxWorks,
  maxPoolWithSwitchesTensor,
  maxUnpool,
  maxUnpoolTensor,
  bilinearUpsample,
  bilinearUpsampleTensor,
  upsamplingPadding,
  learnedUpsample,
  learnedUpsampleTensor,
  bilinearKernelSize,
  bilinearKernel,
} from './upsampling';
export { type DcganGeneratorOptions, type StageShape, createDcganGenerator, dcganStageShapes } from './dcgan';
export { type ExplorerRanges, EXPLORER_RANGES, explorerCases } from './explorer';
