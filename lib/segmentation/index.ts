/**
 * Semantic segmentation (lecture sections 1 and 3; notebooks 01-vision-tasks-and-fcn and
 * 03-segmentation): seeded MNIST scenes, a VOC-layout loader, sliding-window vs fully
 * convolutional labelling, Farabet's multi-scale features, FCN and DeconvNet encoder–decoders,
 * their training, scores and figures.
 */
export {
  SEG_CLASS_NAMES, SEG_NUM_CLASSES, type SceneOptions, type DigitBox, type Scene, type SceneSet,
  generateScene, sceneAt, generateScenes, sceneOf, toRows,
} from './scenes';
export {
  VOC_CLASS_NAMES, VOC_VOID, vocColormap, type VocSample, type VocLoadOptions, type VocWriteItem,
  encodePaletteMask, vocSplitIds, loadVocSegmentation, writeVocDataset, newTempFolder,
} from './voc';
export { type SegmentationScores, emptyConfusion, accumulateConfusion, scoresFromConfusion, segmentationScores } from './metrics';
export { MaxPoolWithSwitches, MaxUnpool } from './layers';
export {
  type SegmenterKind, type SegmenterOptions, createFcnSegmenter, createDeconvNetSegmenter, createSegmenter, upsamplingFilters,
  createEncoderClassifier, transferEncoder,
} from './networks';
export {
  type PatchClassifierOptions, type PatchSample, createPatchClassifier, patchSizeOf, toFullyConvolutional,
  slidingWindowScores, fullyConvolutionalScores, argmaxLabels, maxAbsDifference, medianSeconds,
  samplePatchCentres, patchBatch, trainPatchClassifier, patchAccuracy,
} from './patch';
export { PyramidDown, type MultiScaleOptions, createMultiScaleSegmenter, multiScaleContributions, pyramidLevels, disposeModelFully } from './multiscale';
export {
  type SceneBatch, type TrainSegmenterOptions, type SegmenterEvaluation, sceneDataset, segmentationLoss, trainSegmenter,
  predictLabels, evaluateSegmenter, trainDigitClassifier, digitClassifierAccuracy,
} from './train';
export { saveModelFiles, loadModelFiles, segmentationWeightsDir, loadShippedSegmenter, shippedScores } from './weights';
export { SEG_LESSON } from './train-weights';
export {
  SEG_CLASS_COLORS, labelPixels, greyPixels, instancePixels, errorPixels, type PicturePanel, type PictureGridOptions,
  pictureGrid, visionTasksFigure, iouBarsFigure, confusionFigure, labellingCostFigure, type NetworkNode, networkNodes,
  networkDiagram, lossCurvesFigure,
} from './figures';
