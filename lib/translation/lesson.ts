/**
 * The lesson's recipe in one place, shared by the notebook and by the command that makes the
 * shipped weights (./train-weights.ts): the corpus, the vocabularies, the model sizes and the
 * training schedule. The same settings and seeds give the same weights.
 */
import * as path from 'path';
import type { TrainHistory } from '../train';
import { generateCorpus, lexiconWords, type CorpusOptions, type SentencePair } from './corpus';
import { encodePairs } from './data';
import { createTranslator, type Translator, type TranslatorOptions } from './model';
import { loadTatoeba, splitPairs, type TatoebaOptions } from './tatoeba';
import { trainTranslator, type TrainTranslatorOptions } from './training';
import { TranslationVocabulary } from './vocab';
import { loadTranslator, saveTranslator, translationDataDir } from './weights';

/** The generated corpus of the full lesson (the shipped weights were trained on its train split). */
export const LESSON_CORPUS: Required<CorpusOptions> = { seed: 2015, train: 20000, validation: 300, test: 1000, minLength: 3, maxLength: 50 };

/** Model sizes of the full lesson (both models). */
export const LESSON_MODEL = { embedding: 64, encoderUnits: 64, decoderUnits: 128, attentionUnits: 64 } as const;

/** Training of the full lesson (both models get the same). */
export const LESSON_TRAINING = { batchSize: 64, maxSteps: 1200, learningRate: 2e-3, clipNorm: 5 } as const;

export interface LessonData {
  /** 'generated' (with ground-truth alignments) or 'tatoeba' (real pairs, none). */
  kind: 'generated' | 'tatoeba';
  train: SentencePair[];
  validation: SentencePair[];
  test: SentencePair[];
  sourceVocab: TranslationVocabulary;
  targetVocab: TranslationVocabulary;
}

/**
 * The generated corpus with vocabularies of the whole lexicon (no word is ever <unk>), or, given
 * `tatoebaFile`, real Tatoeba pairs split by source sentence with vocabularies of the training
 * words seen at least `minCount` times.
 */
export function lessonData(options: { corpus?: CorpusOptions; tatoebaFile?: string | null; tatoeba?: TatoebaOptions & { minCount?: number; validation?: number; test?: number } } = {}): LessonData {
  if (options.tatoebaFile) {
    const t = options.tatoeba ?? {};
    const data = loadTatoeba(options.tatoebaFile, t);
    const split = splitPairs(data.pairs, { validation: t.validation ?? 500, test: t.test ?? 1000, seed: 0 });
    return {
      kind: 'tatoeba', ...split,
      sourceVocab: TranslationVocabulary.fromSentences(split.train.map((p) => p.source), { minCount: t.minCount ?? 2 }),
      targetVocab: TranslationVocabulary.fromSentences(split.train.map((p) => p.target), { minCount: t.minCount ?? 2 }),
    };
  }
  const corpus = generateCorpus({ ...LESSON_CORPUS, ...options.corpus });
  const words = lexiconWords();
  return {
    kind: 'generated', train: corpus.train, validation: corpus.validation, test: corpus.test,
    sourceVocab: new TranslationVocabulary(words.source), targetVocab: new TranslationVocabulary(words.target),
  };
}

/** A new model of the lesson's kind for the data's vocabularies. */
export function lessonModel(data: LessonData, attention: boolean, sizes: Partial<TranslatorOptions> = {}): Translator {
  return createTranslator({
    ...LESSON_MODEL, ...sizes, attention, seed: attention ? 1 : 2,
    sourceVocabSize: data.sourceVocab.size, targetVocabSize: data.targetVocab.size,
  });
}

/** Trains a lesson model; returns its history. */
export function trainLessonModel(model: Translator, data: LessonData, options: Partial<TrainTranslatorOptions> = {}): Promise<TrainHistory> {
  return trainTranslator({
    ...LESSON_TRAINING,
    seed: model.config.attention ? 11 : 12,
    ...options,
    model,
    train: encodePairs(data.train, data.sourceVocab, data.targetVocab),
    validation: encodePairs(data.validation, data.sourceVocab, data.targetVocab),
  });
}

/** Where the shipped weights of a model kind live. */
export function shippedWeightsDir(attention: boolean): string {
  return path.join(translationDataDir(), attention ? 'rnnsearch' : 'rnnencdec');
}

/** What is stored with shipped weights. */
export interface ShippedInfo {
  /** The training history (losses rounded), for the training-curve figure. */
  history: Pick<TrainHistory, 'stepLoss' | 'epochs' | 'steps' | 'seconds' | 'stepsPerSecond'>;
  /** The vocabularies the model was trained with. */
  sourceWords: string[];
  targetWords: string[];
  corpus: Required<CorpusOptions>;
  command: string;
  backend: string;
  /** CPU seconds the training took (the wall time depends on what else the machine runs). */
  cpuSeconds: number;
}

export async function saveLessonModel(model: Translator, data: LessonData, history: TrainHistory, info: { command: string; backend: string; cpuSeconds: number }): Promise<string> {
  const dir = shippedWeightsDir(model.config.attention);
  const shipped: ShippedInfo = {
    history: {
      stepLoss: history.stepLoss.map((v) => Math.round(v * 1e4) / 1e4),
      epochs: history.epochs, steps: history.steps, seconds: history.seconds, stepsPerSecond: history.stepsPerSecond,
    },
    sourceWords: data.sourceVocab.words.slice(4) as string[],
    targetWords: data.targetVocab.words.slice(4) as string[],
    corpus: LESSON_CORPUS,
    ...info,
  };
  await saveTranslator(model, dir, shipped as unknown as Record<string, unknown>);
  return dir;
}

/**
 * The shipped model of a kind, checked against the data's vocabularies (weights trained on
 * another lexicon would translate nonsense).
 */
export async function loadLessonModel(attention: boolean, data: LessonData): Promise<{ model: Translator; info: ShippedInfo }> {
  if (data.kind !== 'generated') throw new Error('loadLessonModel: the shipped weights are for the generated corpus; with Tatoeba data, train from scratch');
  const { model, extra } = await loadTranslator(shippedWeightsDir(attention));
  const info = extra as unknown as ShippedInfo;
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((w, i) => w === b[i]);
  if (!same(info.sourceWords, data.sourceVocab.words.slice(4)) || !same(info.targetWords, data.targetVocab.words.slice(4))) {
    model.dispose();
    throw new Error('loadLessonModel: the shipped weights were trained with another lexicon (lib/translation/lexicon.ts changed since): ' +
      'retrain them with `npx tsx lib/translation/train-weights.ts`, or train from scratch in the notebook');
  }
  return { model, info };
}
