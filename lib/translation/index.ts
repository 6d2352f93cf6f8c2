/**
 * Lecture section 4: RNN encoder–decoder translation with and without attention (Bahdanau et al.
 * 2015), on a generated Spanish → English corpus with ground-truth alignments, or on real Tatoeba
 * pairs.
 */
export { spanishPlural, englishPlural, englishThirdPerson, regularPresent } from './lexicon';
export * from './corpus';
export * from './tatoeba';
export * from './vocab';
export * from './data';
export * from './ops';
export * from './model';
export * from './backprop';
export * from './training';
export * from './decode';
export * from './bleu';
export * from './evaluate';
export * from './figures';
export * from './weights';
export * from './lesson';
export * from './report';
