import * as tf from '@tensorflow/tfjs';

/**
 * Remembers how many tensors exist now; `check()` later says how many more exist and throws if
 * more than `allowed` (the tensors the cells meant to keep, such as a model's weights).
 * Put one at the top of a notebook and check at the end: re-running must not pile up memory.
 */
export function tensorCheckpoint(label = 'notebook') {
  const start = tf.memory().numTensors;
  return {
    get added(): number {
      return tf.memory().numTensors - start;
    },
    check(allowed = 0): void {
      const added = tf.memory().numTensors - start;
      if (added > allowed) {
        throw new Error(`${label}: ${added} tensors were created and not disposed (allowed ${allowed}): ` +
          'wrap tensor work in tf.tidy() or dispose() what you no longer need');
      }
      console.log(`✓ ${label}: no tensor leaked (${tf.memory().numTensors} tensors alive, ${added} more than at the start, ${allowed} allowed)`);
    },
  };
}
