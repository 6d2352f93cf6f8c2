/**
 * Segmentation scores as PASCAL VOC reports them: one confusion matrix accumulated over every
 * pixel of the held-out set, then per class IoU = TP / (TP + FP + FN), mean IoU over the classes,
 * and pixel accuracy = correct pixels / all pixels.
 */

export interface SegmentationScores {
  /** confusion[truth][predicted]: pixel counts. */
  confusion: number[][];
  pixelAccuracy: number;
  /** Per class; NaN for a class that appears neither in the truth nor in the predictions. */
  iou: number[];
  /** Mean over the classes with a defined IoU. */
  meanIou: number;
  pixels: number;
}

/** An empty numClasses×numClasses confusion matrix. */
export function emptyConfusion(numClasses: number): number[][] {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`numClasses must be a whole number ≥ 1 (got ${numClasses})`);
  return Array.from({ length: numClasses }, () => new Array(numClasses).fill(0));
}

/** Adds the pixels of one or more label maps (flat, same length) to `confusion`. */
export function accumulateConfusion(confusion: number[][], truth: ArrayLike<number>, predicted: ArrayLike<number>): number[][] {
  if (truth.length !== predicted.length) {
    throw new Error(`truth and prediction must have the same number of pixels (got ${truth.length} and ${predicted.length})`);
  }
  const k = confusion.length;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    const p = predicted[i];
    if (!(t >= 0 && t < k && p >= 0 && p < k && Number.isInteger(t) && Number.isInteger(p))) {
      throw new Error(`pixel ${i}: labels must be whole numbers in 0…${k - 1} (truth ${t}, predicted ${p})`);
    }
    confusion[t][p]++;
  }
  return confusion;
}

/** Pixel accuracy, per-class IoU and mean IoU from a confusion matrix. */
export function scoresFromConfusion(confusion: number[][]): SegmentationScores {
  const k = confusion.length;
  let pixels = 0;
  let correct = 0;
  const rowSum = new Array(k).fill(0);
  const colSum = new Array(k).fill(0);
  for (let t = 0; t < k; t++) {
    if (confusion[t].length !== k) throw new Error(`confusion matrix must be square (row ${t} has ${confusion[t].length} of ${k})`);
    for (let p = 0; p < k; p++) {
      const n = confusion[t][p];
      pixels += n;
      rowSum[t] += n;
      colSum[p] += n;
      if (t === p) correct += n;
    }
  }
  const iou = confusion.map((_, c) => {
    const union = rowSum[c] + colSum[c] - confusion[c][c];
    return union === 0 ? NaN : confusion[c][c] / union;
  });
  const defined = iou.filter((v) => !Number.isNaN(v));
  return {
    confusion: confusion.map((row) => [...row]),
    pixelAccuracy: pixels === 0 ? NaN : correct / pixels,
    iou,
    meanIou: defined.length === 0 ? NaN : defined.reduce((a, b) => a + b, 0) / defined.length,
    pixels,
  };
}

/** Scores of predicted label maps against the truth (flat arrays of class indices). */
export function segmentationScores(truth: ArrayLike<number>, predicted: ArrayLike<number>, numClasses: number): SegmentationScores {
  return scoresFromConfusion(accumulateConfusion(emptyConfusion(numClasses), truth, predicted));
}
