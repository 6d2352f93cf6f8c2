/**
 * A seeded Spanish → English parallel corpus with the ground-truth word alignment of every pair.
 *
 * A small grammar over a real lexicon (./lexicon: ~190 nouns, ~65 adjectives, ~55 verbs with
 * their inflections) makes sentences from 3 to 50 words that exercise what attention is for:
 * - agreement: el gato negro / la casa negra / los gatos negros → the black cat / house / cats;
 * - reordering: adjectives go before the noun in English (el gato negro → the black cat), the
 *   Saxon genitive moves the possessor forward (el libro de mi hermano → my brother 's book);
 * - words that appear or vanish: dropped subject pronouns (como pan → I eat bread), do-support
 *   (no come → does not eat), personal "a" (veo al perro → I see the dog), tener que → have to;
 * - long sentences: relative clauses (que → who / that, by the antecedent), coordinated and
 *   subordinate clauses (y, pero, porque, cuando, aunque, si, mientras), reported speech
 *   (dice que → says that).
 *
 * Each sentence is first drawn as a *spec* (which words, which constructions) and then
 * *realised* in both languages at once, so the alignment is known exactly: for each English word,
 * the position of the Spanish word it translates (or −1, for none). The lecture's example,
 * `mi gato es el mejor` → `my cat is the best`, is `realizeSentence(LECTURE_EXAMPLE)`.
 */
import { mulberry32, shuffle, type Rng } from '../runtime/random';
import {
  ADJECTIVES, ADVERBS, BE, CONNECTORS, ESTAR, FREQUENCY, MODALS, NOUNS, NUMBERS, PREPOSITIONS, PRENOMINAL, REPORTING, SER, VERBS,
  type Adjective, type ModalName, type Noun, type NounClass, type ReportingName, type Verb,
} from './lexicon';

/** A sentence pair with its word alignment. */
export interface SentencePair {
  source: string[];
  target: string[];
  /**
   * alignment[k]: index in `source` of the word target[k] translates, or −1. The generator
   * always gives it; real data (./tatoeba) has none.
   */
  alignment?: number[];
}

// ---------------------------------------------------------------------------------------------
// Specs: what a sentence says, before it is put into words
// ---------------------------------------------------------------------------------------------

export type Determiner = 'def' | 'indef' | 'my' | 'your' | 'our' | 'this' | 'that' | 'none' | number;

export interface NounPhraseSpec {
  noun: string;            // Spanish singular, a key of the lexicon
  plural: boolean;
  det: Determiner;
  /** A prenominal adjective (mejor, gran, primer, …), by its English word. */
  pre?: string;
  /** Postnominal adjectives (0–2), Spanish masculine singular. */
  adjectives?: string[];
  /** "muy" before the first adjective. */
  very?: boolean;
  /** de + possessor: el libro de mi hermano. */
  possessor?: NounPhraseSpec;
  /** que + relative clause (the noun phrase is its subject or its object). */
  relative?: { role: 'subject' | 'object'; clause: ClauseSpec };
}

export type SubjectSpec =
  | { pronoun: { person: 1 | 2 | 3; plural: boolean; feminine: boolean; dropped: boolean } }
  | { np: NounPhraseSpec };

export type PredicateSpec =
  | { kind: 'verb'; verb: string; object?: NounPhraseSpec }
  | { kind: 'modal'; modal: ModalName; verb: string; object?: NounPhraseSpec }
  | { kind: 'adjective'; copula: 'ser' | 'estar'; adjective: string; very: boolean }
  | { kind: 'superlative'; word: 'best' | 'worst' }
  | { kind: 'location'; place: PrepositionalSpec }
  | { kind: 'report'; verb: ReportingName; clause: ClauseSpec };

export interface PrepositionalSpec {
  /** Index in PREPOSITIONS. */
  preposition: number;
  np: NounPhraseSpec;
}

export interface ClauseSpec {
  subject: SubjectSpec;
  negated: boolean;
  /** Index in FREQUENCY (siempre, nunca, a veces, todavía), before the verb. */
  frequency?: number;
  predicate: PredicateSpec;
  /** A prepositional phrase after the object (verbs only). */
  pp?: PrepositionalSpec;
  /** Index in ADVERBS, at the end. */
  adverb?: number;
}

export interface SentenceSpec {
  clauses: ClauseSpec[];
  /** connectors[i] joins clauses[i] and clauses[i + 1] (Spanish word). */
  connectors: string[];
}

/** The lecture's sentence: "mi gato es el mejor" → "my cat is the best". */
export const LECTURE_EXAMPLE: SentenceSpec = {
  clauses: [{
    subject: { np: { noun: 'gato', plural: false, det: 'my' } },
    negated: false,
    predicate: { kind: 'superlative', word: 'best' },
  }],
  connectors: [],
};

// ---------------------------------------------------------------------------------------------
// Realisation: a spec in both languages, with the alignment
// ---------------------------------------------------------------------------------------------

/** Words in both languages; align[k] indexes `es` (−1: none; VERB: the clause's finite verb). */
interface Phrase { es: string[]; en: string[]; align: number[] }

/** Placeholder alignment of a dropped pronoun's English word, patched to the finite verb. */
const FINITE_VERB = -2;

const empty = (): Phrase => ({ es: [], en: [], align: [] });

function word(es: string, en: string): Phrase {
  return { es: [es], en: [en], align: [0] };
}

/**
 * Joins parts: Spanish in the given order, English in `englishOrder` (default the same), the
 * alignment shifted to the parts' new Spanish positions.
 */
function join(parts: Phrase[], englishOrder?: number[]): Phrase {
  const offsets: number[] = [];
  const es: string[] = [];
  for (const p of parts) { offsets.push(es.length); es.push(...p.es); }
  const en: string[] = [];
  const align: number[] = [];
  for (const i of englishOrder ?? parts.map((_, k) => k)) {
    en.push(...parts[i].en);
    align.push(...parts[i].align.map((a) => (a >= 0 ? a + offsets[i] : a)));
  }
  return { es, en, align };
}

const nounIndex = new Map(NOUNS.map((n) => [n.es, n]));
const adjectiveIndex = new Map(ADJECTIVES.map((a) => [a.es[0], a]));
const verbIndex = new Map(VERBS.map((v) => [v.infinitive, v]));
const prenominalIndex = new Map(PRENOMINAL.map((a) => [a.en, a]));

function lookup<T>(map: Map<string, T>, key: string, what: string): T {
  const v = map.get(key);
  if (v === undefined) throw new Error(`corpus: unknown ${what} '${key}'`);
  return v;
}

/** Gender/number slot of Spanish inflection tables: m sg, f sg, m pl, f pl. */
function slot(n: Noun, plural: boolean): 0 | 1 | 2 | 3 {
  return ((plural ? 2 : 0) + (n.gender === 'f' ? 1 : 0)) as 0 | 1 | 2 | 3;
}

const ARTICLE = ['el', 'la', 'los', 'las'];
const INDEFINITE = ['un', 'una', 'unos', 'unas'];
const POSSESSIVE: Record<string, [string[], string]> = {
  my: [['mi', 'mi', 'mis', 'mis'], 'my'],
  your: [['tu', 'tu', 'tus', 'tus'], 'your'],
  our: [['nuestro', 'nuestra', 'nuestros', 'nuestras'], 'our'],
};
const DEMONSTRATIVE: Record<string, [string[], string, string]> = {
  this: [['este', 'esta', 'estos', 'estas'], 'this', 'these'],
  that: [['ese', 'esa', 'esos', 'esas'], 'that', 'those'],
};

/** "a" or "an" before an English word. */
function indefiniteArticle(next: string): string {
  return /^[aeiou]/.test(next) ? 'an' : 'a';
}

/** Realised noun phrase, with what agreement needs. */
interface NounPhrase { phrase: Phrase; noun: Noun; plural: boolean; person: boolean }

function determinerPhrase(det: Determiner, n: Noun, plural: boolean): Phrase {
  const s = slot(n, plural);
  if (typeof det === 'number') {
    const num = NUMBERS.find((x) => x.value === det);
    if (!num) throw new Error(`corpus: no number word for ${det}`);
    return word(num.es, num.en);
  }
  switch (det) {
    case 'def': return word(ARTICLE[s], 'the');
    case 'indef': return word(INDEFINITE[s], plural ? 'some' : 'a'); // a/an fixed once the next word is known
    case 'my': case 'your': case 'our': return word(POSSESSIVE[det][0][s], POSSESSIVE[det][1]);
    case 'this': case 'that': return word(DEMONSTRATIVE[det][0][s], plural ? DEMONSTRATIVE[det][2] : DEMONSTRATIVE[det][1]);
    case 'none': return empty();
  }
}

/** The adjectives after the noun: negro → black; muy negro y pequeño → very black and small. */
function adjectivePhrase(names: string[], very: boolean, n: Noun, plural: boolean): Phrase {
  const s = slot(n, plural);
  const parts: Phrase[] = [];
  names.forEach((name, i) => {
    const a = lookup(adjectiveIndex, name, 'adjective');
    if (i > 0) parts.push(word('y', 'and'));
    if (i === 0 && very) parts.push(word('muy', 'very'));
    parts.push(word(a.es[s], a.en));
  });
  return join(parts);
}

function realizeNounPhrase(spec: NounPhraseSpec): NounPhrase {
  const n = lookup(nounIndex, spec.noun, 'noun');
  const plural = spec.plural && !n.mass;
  const det = determinerPhrase(spec.det, n, plural);
  const pre = spec.pre ? (() => {
    const a = lookup(prenominalIndex, spec.pre, 'prenominal adjective');
    return word(a.es[slot(n, plural)], a.en);
  })() : empty();
  const head = word(plural ? n.esPlural : n.es, plural ? n.enPlural : n.en);
  const adjs = spec.adjectives?.length ? adjectivePhrase(spec.adjectives, spec.very ?? false, n, plural) : empty();
  // Spanish: det pre noun adjectives; English: det pre adjectives noun.
  let phrase = join([det, pre, head, adjs], [0, 1, 3, 2]);
  if (spec.possessor) {
    const owner = realizeNounPhrase(spec.possessor);
    const saxon = owner.person && !owner.plural && spec.det === 'def' && spec.possessor.det !== 'indef' && spec.possessor.det !== 'none';
    phrase = saxon
      // el libro rojo de mi hermano → my brother 's red book: the possessee loses its article.
      ? attachOwner(join([det, pre, head, adjs], [1, 3, 2]), owner.phrase, true)
      // la puerta de la casa → the door of the house
      : attachOwner(phrase, owner.phrase, false);
  }
  if (spec.relative) phrase = join([phrase, realizeRelative(spec.relative, n, plural)]);
  fixIndefinite(phrase);
  return { phrase, noun: n, plural, person: n.cls === 'person' };
}

/**
 * possessee + de + owner in Spanish (de + el → del); in English "possessee of owner", or with
 * `saxon` "owner 's possessee". When "el" is contracted into "del", the English "the" of the
 * owner comes from "del".
 */
function attachOwner(possessee: Phrase, owner: Phrase, saxon: boolean): Phrase {
  const deAt = possessee.es.length;
  const contracted = owner.es[0] === 'el';
  const ownerEs = contracted ? owner.es.slice(1) : owner.es;
  const ownerAt = deAt + 1;
  const ownerAlign = owner.align.map((a) => {
    if (a < 0) return a;
    if (contracted) return a === 0 ? deAt : a - 1 + ownerAt;
    return a + ownerAt;
  });
  const es = [...possessee.es, contracted ? 'del' : 'de', ...ownerEs];
  if (saxon) return { es, en: [...owner.en, "'s", ...possessee.en], align: [...ownerAlign, deAt, ...possessee.align] };
  return { es, en: [...possessee.en, 'of', ...owner.en], align: [...possessee.align, deAt, ...ownerAlign] };
}

function fixIndefinite(p: Phrase): void {
  for (let k = 0; k + 1 < p.en.length; k++) {
    if (p.en[k] === 'a' || p.en[k] === 'an') {
      const source = p.align[k] >= 0 ? p.es[p.align[k]] : '';
      if (source === 'un' || source === 'una') p.en[k] = indefiniteArticle(p.en[k + 1]);
    }
  }
}

function realizeRelative(rel: { role: 'subject' | 'object'; clause: ClauseSpec }, antecedent: Noun, plural: boolean): Phrase {
  const pronoun = word('que', antecedent.cls === 'person' ? 'who' : 'that');
  if (rel.role === 'subject') {
    // el hombre que lee → the man who reads: the verb agrees with the antecedent.
    const subject: SubjectSpec = { pronoun: { person: 3, plural, feminine: antecedent.gender === 'f', dropped: true } };
    const clause = realizeClause({ ...rel.clause, subject }, { relativeSubject: true });
    return join([pronoun, clause]);
  }
  // el libro que mi hermano lee → the book that my brother reads
  return join([pronoun, realizeClause(rel.clause)]);
}

/** Person/number slot 0–5 of the six verb forms. */
function personSlot(subject: SubjectSpec, np?: NounPhrase): number {
  if ('pronoun' in subject) return (subject.pronoun.plural ? 3 : 0) + subject.pronoun.person - 1;
  return np!.plural ? 5 : 2;
}

const SUBJECT_PRONOUNS = [
  ['yo', 'I'], ['tú', 'you'], ['él', 'he'], ['nosotros', 'we'], ['vosotros', 'you'], ['ellos', 'they'],
];

function subjectPhrase(subject: SubjectSpec): { phrase: Phrase; person: number; np?: NounPhrase } {
  if ('np' in subject) {
    const np = realizeNounPhrase(subject.np);
    return { phrase: np.phrase, person: personSlot(subject, np), np };
  }
  const p = subject.pronoun;
  const person = personSlot(subject);
  let [es, en] = SUBJECT_PRONOUNS[person];
  if (p.feminine) es = { él: 'ella', nosotros: 'nosotras', vosotros: 'vosotras', ellos: 'ellas' }[es] ?? es;
  if (person === 2 && p.feminine) en = 'she';
  if (p.dropped) return { phrase: { es: [], en: [en], align: [FINITE_VERB] }, person };
  return { phrase: word(es, en), person };
}

/** Object of a verb, with the personal "a" before people and animals (a + el → al). */
function objectPhrase(v: Verb | null, spec: NounPhraseSpec): Phrase {
  const np = realizeNounPhrase(spec);
  const animate = np.noun.cls === 'person' || np.noun.cls === 'animal';
  if (!(v?.personal && animate)) return np.phrase;
  if (np.phrase.es[0] === 'el') {
    const rest = { ...np.phrase, es: np.phrase.es.slice(1), align: np.phrase.align.map((a) => (a === 0 ? -11 : a > 0 ? a - 1 : a)) };
    const p = join([{ es: ['al'], en: [], align: [] }, rest]);
    p.align = p.align.map((a) => (a === -11 ? 0 : a));
    return p;
  }
  return join([{ es: ['a'], en: [], align: [] }, np.phrase]);
}

function prepositionalPhrase(spec: PrepositionalSpec): Phrase {
  const prep = PREPOSITIONS[spec.preposition];
  const np = realizeNounPhrase(spec.np).phrase;
  const endsInDe = prep.es[prep.es.length - 1] === 'de';
  if (endsInDe && np.es[0] === 'el') {
    // cerca de + el río → cerca del río; "the" comes from "del".
    const es = [...prep.es.slice(0, -1), 'del', ...np.es.slice(1)];
    const del = prep.es.length - 1;
    const en = [...prep.en, ...np.en];
    const align = [...prep.align, ...np.align.map((a) => (a === 0 ? del : a > 0 ? a + del : a))];
    return { es, en, align };
  }
  return join([{ es: prep.es, en: prep.en, align: prep.align }, np]);
}

/** Spanish and English of the verb group, and where its finite verb sits in the Spanish. */
function realizeClause(spec: ClauseSpec, options: { relativeSubject?: boolean } = {}): Phrase {
  const subj = subjectPhrase(spec.subject);
  const person = subj.person;
  const third = person === 2;
  const parts: Phrase[] = [];
  let finite = -1; // index in parts of the phrase whose first Spanish word is the finite verb
  const neg = spec.negated ? word('no', 'not') : null;
  const freq = spec.frequency !== undefined ? FREQUENCY[spec.frequency] : null;
  const freqPhrase = freq ? { es: freq.es, en: freq.en, align: freq.align } : null;
  const pred = spec.predicate;

  if (pred.kind === 'verb' || pred.kind === 'modal') {
    const v = lookup(verbIndex, pred.verb, 'verb');
    if (pred.kind === 'verb') {
      // Spanish: [no] [freq] V; English: [freq] V-s | do/does not V.
      const es = v.forms[person];
      const en = spec.negated ? [third ? 'does' : 'do', 'not', ...v.en] : third ? v.en3 : v.en;
      if (spec.negated) {
        parts.push({ es: ['no', es], en, align: en.map((_, k) => (k === 1 ? 0 : 1)) });
      } else {
        if (freqPhrase) parts.push(freqPhrase);
        parts.push({ es: [es], en, align: en.map(() => 0) });
      }
      finite = parts.length - 1;
    } else {
      const m = MODALS[pred.modal];
      const es = pred.modal === 'tener' ? [m.forms[person], 'que', v.infinitive] : [m.forms[person], v.infinitive];
      const inf = es.length - 1;
      let en: string[];
      let align: number[];
      if (pred.modal === 'poder') {
        en = ['can', ...(spec.negated ? ['not'] : []), ...v.en];
        align = en.map((w, k) => (k === 0 ? 0 : w === 'not' && k === 1 ? -3 : inf));
      } else {
        const base = third && !spec.negated ? m.en3 : m.en; // wants to / want to
        const aux = spec.negated ? [third ? 'does' : 'do', 'not'] : [];
        en = [...aux, ...base, ...v.en];
        align = en.map((_, k) => {
          if (k < aux.length) return k === 0 ? 0 : -3;
          const j = k - aux.length;
          if (j === 0) return 0;                                  // want / have / need
          if (j === 1) return pred.modal === 'tener' ? 1 : inf;   // to ← que / the infinitive
          return inf;
        });
      }
      if (spec.negated) {
        // "not" ← "no", which comes first in Spanish.
        parts.push({ es: ['no', ...es], en, align: align.map((a) => (a === -3 ? 0 : a + 1)) });
      } else {
        if (freqPhrase) parts.push(freqPhrase);
        parts.push({ es, en, align });
      }
      finite = parts.length - 1;
    }
    if (pred.object) parts.push(objectPhrase(v, pred.object));
    if (spec.pp) parts.push(prepositionalPhrase(spec.pp));
  } else if (pred.kind === 'report') {
    const r = REPORTING[pred.verb];
    const en = spec.negated ? [third ? 'does' : 'do', 'not', r.en, 'that'] : [third ? `${r.en}s` : r.en, 'that'];
    const es = spec.negated ? ['no', r.forms[person], 'que'] : [r.forms[person], 'que'];
    const v = spec.negated ? 1 : 0;
    const align = en.map((w, k) => (w === 'not' ? 0 : w === 'that' ? v + 1 : v));
    if (freqPhrase && !spec.negated) parts.push(freqPhrase);
    parts.push({ es, en, align });
    finite = parts.length - 1;
    parts.push(realizeClause(pred.clause));
  } else {
    // Copula: Spanish [no] [freq] es/está …; English is [not] [freq] …
    const copula = pred.kind === 'adjective' ? pred.copula : pred.kind === 'location' ? 'estar' : 'ser';
    const es = (copula === 'ser' ? SER : ESTAR)[person];
    const be = BE[person];
    if (spec.negated) {
      parts.push({ es: ['no', es], en: [be, 'not'], align: [1, 0] });
    } else if (freqPhrase) {
      parts.push({ es: [...freqPhrase.es, es], en: [be, ...freqPhrase.en], align: [freqPhrase.es.length, ...freqPhrase.align] });
    } else {
      parts.push(word(es, be));
    }
    finite = parts.length - 1;
    if (pred.kind === 'adjective') {
      const a = lookup(adjectiveIndex, pred.adjective, 'adjective');
      const s = (person >= 3 ? 2 : 0) + (subjectFeminine(spec.subject) ? 1 : 0);
      if (pred.very) parts.push(word('muy', 'very'));
      parts.push(word(a.es[s], a.en));
    } else if (pred.kind === 'superlative') {
      const s = (person >= 3 ? 2 : 0) + (subjectFeminine(spec.subject) ? 1 : 0);
      const a = lookup(prenominalIndex, pred.word, 'superlative');
      parts.push({ es: [ARTICLE[s], a.es[s]], en: ['the', a.en], align: [0, 1] });
    } else if (pred.kind === 'location') {
      parts.push(prepositionalPhrase(pred.place));
    }
  }
  if (spec.adverb !== undefined) {
    const adv = ADVERBS[spec.adverb];
    parts.push({ es: adv.es, en: adv.en, align: adv.align });
  }
  const predicate = join(parts);
  // Where the finite verb is in the Spanish of the predicate: first word of parts[finite] that is not "no"/frequency.
  let offset = 0;
  for (let i = 0; i < finite; i++) offset += parts[i].es.length;
  const finitePart = parts[finite].es;
  let inPart = 0;
  while (inPart < finitePart.length - 1 && (finitePart[inPart] === 'no' || FREQUENCY.some((f) => f.es.includes(finitePart[inPart])))) inPart++;
  const verbAt = offset + inPart;
  // In a subject relative clause "que" stands for the subject: the clause has none of its own.
  const clause = join([options.relativeSubject ? empty() : subj.phrase, predicate]);
  const shift = options.relativeSubject ? 0 : subj.phrase.es.length;
  clause.align = clause.align.map((a) => (a === FINITE_VERB ? verbAt + shift : a));
  return clause;
}

function subjectFeminine(subject: SubjectSpec): boolean {
  if ('pronoun' in subject) return subject.pronoun.feminine;
  return lookup(nounIndex, subject.np.noun, 'noun').gender === 'f';
}

/** A spec in both languages, with the alignment. */
export function realizeSentence(spec: SentenceSpec): SentencePair {
  if (spec.clauses.length === 0) throw new Error('realizeSentence: a sentence needs at least one clause');
  if (spec.connectors.length !== spec.clauses.length - 1) {
    throw new Error(`realizeSentence: ${spec.clauses.length} clauses need ${spec.clauses.length - 1} connectors (got ${spec.connectors.length})`);
  }
  const parts: Phrase[] = [];
  spec.clauses.forEach((c, i) => {
    if (i > 0) {
      const conn = CONNECTORS.find((x) => x.es === spec.connectors[i - 1]);
      if (!conn) throw new Error(`realizeSentence: unknown connector '${spec.connectors[i - 1]}'`);
      parts.push(word(conn.es, conn.en));
    }
    parts.push(realizeClause(c));
  });
  const p = join(parts);
  for (const a of p.align) {
    if (a < -1 || a >= p.es.length) throw new Error(`realizeSentence: internal alignment error (${a}) in '${p.es.join(' ')}'`);
  }
  return { source: p.es, target: p.en, alignment: p.align };
}

// ---------------------------------------------------------------------------------------------
// Random specs
// ---------------------------------------------------------------------------------------------

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)];
const chance = (rng: Rng, p: number): boolean => rng() < p;

const nounsOf = (classes: readonly NounClass[]): Noun[] => NOUNS.filter((n) => classes.includes(n.cls));
const ANIMATE_NOUNS = nounsOf(['person', 'animal']);
const PERSON_NOUNS = nounsOf(['person']);
const PLACE_NOUNS = nounsOf(['place']);
const THING_NOUNS = nounsOf(['thing', 'place']);
const STATE_ADJECTIVES = ADJECTIVES.filter((a) => a.state);
const QUALITY_ADJECTIVES = ADJECTIVES.filter((a) => !a.state);
const TRANSITIVE = VERBS.filter((v) => v.kind === 'transitive');
const INTRANSITIVE = VERBS.filter((v) => v.kind === 'intransitive');
const MANNER = new Set(['mucho', 'bien', 'mal', 'rápidamente', 'lentamente']);
const LOCATIONS = [0, 7, 8, 9, 10, 11, 12, 13].filter((i) => i < PREPOSITIONS.length); // en, debajo de, cerca de, …

/** How elaborate the random phrases are: 0 = bare, 1 = rich. */
interface Style { rich: number; depth: number }

function randomNounPhrase(rng: Rng, candidates: readonly Noun[], style: Style, allowRelative: boolean): NounPhraseSpec {
  const n = pick(rng, candidates);
  const plural = !n.mass && chance(rng, 0.3);
  let det: Determiner;
  if (n.mass && chance(rng, 0.4)) det = 'none';
  else {
    const r = rng();
    det = r < 0.4 ? 'def' : r < 0.55 ? 'indef' : r < 0.7 ? pick(rng, ['my', 'your', 'our'] as const) : r < 0.85 ? pick(rng, ['this', 'that'] as const) : 'def';
    if (plural && chance(rng, 0.2)) det = pick(rng, NUMBERS).value;
  }
  const spec: NounPhraseSpec = { noun: n.es, plural, det };
  // Prenominal adjectives (mejor, gran, primer…) read naturally after a definite determiner only.
  if (det !== 'none' && det !== 'indef' && typeof det !== 'number' && chance(rng, 0.08 * style.rich)) spec.pre = pick(rng, PRENOMINAL).en;
  if (chance(rng, 0.5 * style.rich + 0.15)) {
    const first = pick(rng, QUALITY_ADJECTIVES).es[0];
    spec.adjectives = [first];
    if (chance(rng, 0.2 * style.rich)) {
      const second = pick(rng, QUALITY_ADJECTIVES).es[0];
      if (second !== first) spec.adjectives.push(second);
    }
    spec.very = chance(rng, 0.15);
  }
  if (style.depth < 2 && chance(rng, 0.15 * style.rich)) {
    spec.possessor = randomNounPhrase(rng, chance(rng, 0.7) ? PERSON_NOUNS : NOUNS, { rich: style.rich * 0.3, depth: 2 }, false);
  }
  if (allowRelative && style.depth < 1 && !spec.possessor && chance(rng, 0.3 * style.rich)) {
    const role = chance(rng, 0.65) ? 'subject' : 'object';
    const inner = { rich: style.rich * 0.5, depth: style.depth + 1 };
    if (role === 'subject') {
      spec.relative = { role, clause: randomClause(rng, inner, { noReport: true }) };
    } else {
      // The noun is the object: pick a verb that takes it.
      const verbs = TRANSITIVE.filter((v) => v.objects.includes(n.cls));
      if (verbs.length > 0) {
        const v = pick(rng, verbs);
        spec.relative = {
          role,
          clause: { subject: randomSubject(rng, inner), negated: chance(rng, 0.1), predicate: { kind: 'verb', verb: v.infinitive } },
        };
      }
    }
  }
  return spec;
}

function randomSubject(rng: Rng, style: Style): SubjectSpec {
  if (chance(rng, 0.35)) {
    const person = pick(rng, [1, 2, 3] as const);
    const plural = chance(rng, 0.35);
    return { pronoun: { person, plural, feminine: chance(rng, 0.5), dropped: person !== 3 && chance(rng, 0.6) } };
  }
  return { np: randomNounPhrase(rng, ANIMATE_NOUNS, style, true) };
}

function randomClause(rng: Rng, style: Style, options: { noReport?: boolean } = {}): ClauseSpec {
  const subject = randomSubject(rng, style);
  const r = rng();
  let predicate: PredicateSpec;
  let pp: PrepositionalSpec | undefined;
  let negated = chance(rng, 0.15);
  if (r < 0.45) {
    const v = pick(rng, TRANSITIVE);
    const object = randomNounPhrase(rng, nounsOf(v.objects), style, true);
    predicate = chance(rng, 0.2)
      ? { kind: 'modal', modal: pick(rng, ['poder', 'querer', 'necesitar', 'tener'] as const), verb: v.infinitive, object }
      : { kind: 'verb', verb: v.infinitive, object };
  } else if (r < 0.65) {
    const v = pick(rng, INTRANSITIVE);
    predicate = chance(rng, 0.2)
      ? { kind: 'modal', modal: pick(rng, ['poder', 'querer', 'necesitar', 'tener'] as const), verb: v.infinitive }
      : { kind: 'verb', verb: v.infinitive };
  } else if (r < 0.75) {
    predicate = { kind: 'adjective', copula: 'ser', adjective: pick(rng, QUALITY_ADJECTIVES).es[0], very: chance(rng, 0.2) };
  } else if (r < 0.82) {
    predicate = { kind: 'adjective', copula: 'estar', adjective: pick(rng, STATE_ADJECTIVES).es[0], very: chance(rng, 0.2) };
  } else if (r < 0.86) {
    predicate = { kind: 'superlative', word: pick(rng, ['best', 'worst'] as const) };
  } else if (r < 0.93 || options.noReport || style.depth > 0) {
    predicate = { kind: 'location', place: { preposition: pick(rng, LOCATIONS), np: randomNounPhrase(rng, PLACE_NOUNS, { rich: style.rich * 0.5, depth: 2 }, false) } };
  } else {
    predicate = { kind: 'report', verb: pick(rng, ['decir', 'creer', 'saber', 'pensar'] as const), clause: randomClause(rng, { rich: style.rich * 0.5, depth: style.depth + 1 }, { noReport: true }) };
  }
  if ((predicate.kind === 'verb' || predicate.kind === 'modal') && chance(rng, 0.35 * style.rich)) {
    pp = { preposition: pick(rng, PREPOSITIONS.map((_, i) => i)), np: randomNounPhrase(rng, THING_NOUNS, { rich: style.rich * 0.4, depth: 2 }, false) };
  }
  const spec: ClauseSpec = { subject, negated, predicate };
  if (pp) spec.pp = pp;
  if (!negated && predicate.kind !== 'superlative' && chance(rng, 0.12)) spec.frequency = Math.floor(rng() * FREQUENCY.length);
  if (spec.frequency !== undefined && FREQUENCY[spec.frequency].en[0] === 'never') negated = false;
  if (predicate.kind !== 'report' && chance(rng, 0.25 * style.rich)) {
    // Manner adverbs (mucho, bien, rápidamente…) go with verbs; with ser/estar only time and place.
    const verbal = predicate.kind === 'verb' || predicate.kind === 'modal';
    const allowed = ADVERBS.map((_, i) => i).filter((i) => verbal || !MANNER.has(ADVERBS[i].es[0]));
    spec.adverb = pick(rng, allowed);
  }
  return spec;
}

/** A random sentence of about `length` Spanish words (3–50). */
export function randomSentence(rng: Rng, length: number): SentencePair {
  let best: SentencePair | null = null;
  for (let attempt = 0; attempt < 60; attempt++) {
    // Short sentences come from plain clauses; long ones from rich clauses joined together.
    const rich = Math.min(1, length / 18) * (0.6 + 0.4 * rng());
    const style = { rich, depth: 0 };
    const clauses = [randomClause(rng, style)];
    const connectors: string[] = [];
    let pair = realizeSentence({ clauses, connectors });
    while (pair.source.length < length - 2) {
      connectors.push(pick(rng, CONNECTORS).es);
      clauses.push(randomClause(rng, style));
      pair = realizeSentence({ clauses, connectors });
    }
    const miss = Math.abs(pair.source.length - length);
    if (best === null || miss < Math.abs(best.source.length - length)) best = pair;
    if (miss <= 1 && pair.source.length >= 3 && pair.source.length <= 50) return pair;
  }
  return best!;
}

// ---------------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------------

export interface CorpusOptions {
  /** Seeds everything. Default 0. */
  seed?: number;
  /** Sentence pairs in each split. Defaults 20 000 / 500 / 1 000. */
  train?: number;
  validation?: number;
  test?: number;
  /** Source sentence lengths are drawn uniformly from [minLength, maxLength]. Defaults 3 and 50. */
  minLength?: number;
  maxLength?: number;
}

export interface Corpus {
  train: SentencePair[];
  validation: SentencePair[];
  test: SentencePair[];
  options: Required<CorpusOptions>;
}

/**
 * Draws distinct sentence pairs and splits them into train / validation / test, so no Spanish
 * sentence is in two splits. The lecture's sentence is kept out of the training split (the
 * notebook translates it as a sentence the model has never seen).
 */
export function generateCorpus(options: CorpusOptions = {}): Corpus {
  const o: Required<CorpusOptions> = { seed: 0, train: 20000, validation: 500, test: 1000, minLength: 3, maxLength: 50, ...options };
  for (const k of ['train', 'validation', 'test'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 0) throw new Error(`generateCorpus: ${k} must be a whole number ≥ 0 (got ${o[k]})`);
  }
  if (!(Number.isInteger(o.minLength) && Number.isInteger(o.maxLength) && o.minLength >= 3 && o.maxLength <= 50 && o.minLength <= o.maxLength)) {
    throw new Error(`generateCorpus: need 3 ≤ minLength ≤ maxLength ≤ 50 (got ${o.minLength}, ${o.maxLength})`);
  }
  const rng = mulberry32(o.seed);
  const total = o.train + o.validation + o.test;
  const seen = new Set<string>([realizeSentence(LECTURE_EXAMPLE).source.join(' ')]);
  const pairs: SentencePair[] = [];
  let tries = 0;
  while (pairs.length < total) {
    if (++tries > total * 20) throw new Error(`generateCorpus: could not draw ${total} distinct sentences between ${o.minLength} and ${o.maxLength} words; ask for fewer`);
    const length = o.minLength + Math.floor(rng() * (o.maxLength - o.minLength + 1));
    const pair = randomSentence(rng, length);
    if (pair.source.length < o.minLength || pair.source.length > o.maxLength) continue;
    const key = pair.source.join(' ');
    if (seen.has(key)) continue;
    seen.add(key);
    pairs.push(pair);
  }
  shuffle(pairs, rng);
  return {
    train: pairs.slice(0, o.train),
    validation: pairs.slice(o.train, o.train + o.validation),
    test: pairs.slice(o.train + o.validation),
    options: o,
  };
}

/** Every word the grammar can write in each language (for a vocabulary that never needs <unk>). */
export function lexiconWords(): { source: string[]; target: string[] } {
  const es = new Set<string>();
  const en = new Set<string>();
  const addEs = (...w: string[]) => w.forEach((x) => es.add(x));
  const addEn = (...w: string[]) => w.forEach((x) => en.add(x));
  for (const n of NOUNS) { addEs(n.es, n.esPlural); addEn(n.en, n.enPlural); }
  for (const a of ADJECTIVES as readonly Adjective[]) { addEs(...a.es); addEn(a.en); }
  for (const a of PRENOMINAL) { addEs(...a.es); addEn(a.en); }
  for (const v of VERBS) { addEs(v.infinitive, ...v.forms); addEn(...v.en, ...v.en3); }
  for (const m of Object.values(MODALS)) { addEs(...m.forms); addEn(...m.en, ...m.en3); }
  for (const r of Object.values(REPORTING)) { addEs(...r.forms); addEn(r.en, `${r.en}s`); }
  addEs(...SER, ...ESTAR); addEn(...BE);
  for (const list of [PREPOSITIONS, ADVERBS, FREQUENCY]) for (const x of list) { addEs(...x.es); addEn(...x.en); }
  for (const c of CONNECTORS) { addEs(c.es); addEn(c.en); }
  for (const n of NUMBERS) { addEs(n.es); addEn(n.en); }
  addEs(...ARTICLE, ...INDEFINITE, ...Object.values(POSSESSIVE).flatMap((p) => p[0]), ...Object.values(DEMONSTRATIVE).flatMap((d) => d[0]));
  addEn('the', 'a', 'an', 'some', 'my', 'your', 'our', 'this', 'that', 'these', 'those');
  addEs(...SUBJECT_PRONOUNS.map((p) => p[0]), 'ella', 'nosotras', 'vosotras', 'ellas');
  addEn(...SUBJECT_PRONOUNS.map((p) => p[1]), 'she');
  addEs('no', 'muy', 'y', 'que', 'de', 'del', 'a', 'al');
  addEn('not', 'do', 'does', 'very', 'and', 'who', 'that', 'of', "'s", 'can');
  return { source: [...es].sort(), target: [...en].sort() };
}
