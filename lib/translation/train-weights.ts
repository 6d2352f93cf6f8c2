/**
 * Makes the weights shipped in datasets/translation/ (seeded: the same command gives the same
 * weights on the same backend):
 *
 *   npx tsx lib/translation/train-weights.ts            # both models
 *   npx tsx lib/translation/train-weights.ts rnnsearch  # or one of them
 *
 * It trains exactly what the notebook's full profile trains with `trainFromScratch: true`: the
 * lesson corpus (LESSON_CORPUS), the lesson sizes (LESSON_MODEL) and schedule (LESSON_TRAINING).
 */
import { setup } from '../runtime';
import { lessonData, lessonModel, saveLessonModel, trainLessonModel } from './lesson';

async function main(): Promise<void> {
  const which = process.argv[2] ?? 'both';
  if (!['both', 'rnnsearch', 'rnnencdec'].includes(which)) {
    throw new Error(`train-weights: unknown model '${which}': give rnnsearch, rnnencdec or nothing (both)`);
  }
  const rt = await setup({ seed: 42, profile: 'full' });
  const data = lessonData();
  for (const attention of [true, false]) {
    if (which !== 'both' && (which === 'rnnsearch') !== attention) continue;
    const model = lessonModel(data, attention);
    console.log(`${model.name}: ${model.parameterCount} weights, ${data.train.length} training pairs`);
    const cpu = process.cpuUsage();
    const history = await trainLessonModel(model, data, { progress: 'line', chart: false });
    const used = process.cpuUsage(cpu);
    const cpuSeconds = (used.user + used.system) / 1e6;
    const dir = await saveLessonModel(model, data, history, {
      command: `npx tsx lib/translation/train-weights.ts${which === 'both' ? '' : ` ${which}`}`, backend: rt.backend, cpuSeconds,
    });
    console.log(`${model.name}: ${history.summary}; ${cpuSeconds.toFixed(0)} CPU s; saved to ${dir}`);
    model.dispose();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
