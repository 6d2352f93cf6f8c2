/**
 * Real parallel text: the tab-separated sentence pairs of the Tatoeba project as distributed by
 * manythings.org/anki (`spa.txt` in spa-eng.zip), one pair per line:
 *
 *   English<TAB>Spanish<TAB>attribution
 *
 * e.g. `My cat is the best.	Mi gato es el mejor.	CC-BY 2.0 (France) Attribution: tatoeba.org …`.
 * The loader normalises (Unicode NFC, lower case, one kind of quote and apostrophe, single
 * spaces), tokenises (punctuation becomes its own token: "¿dónde está?" → ¿ dónde está ?),
 * drops pairs outside the length limits, and counts and skips malformed lines with a warning —
 * a line whose columns cannot be told apart is never guessed at.
 */
import * as fs from 'fs';
import { mulberry32, shuffle } from '../runtime/random';
import type { SentencePair } from './corpus';

/** Lower case, NFC, straight quotes and apostrophes, single spaces. */
export function normalizeTatoeba(text: string): string {
  return text
    .normalize('NFC')
    .toLowerCase()
    .replace(/[\u2018\u2019\u02bc`´]/g, "'")
    .replace(/[\u201c\u201d\u00ab\u00bb]/g, '"')
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/\u2026/g, '...')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Words and punctuation marks as tokens. Apostrophes inside a word stay (don't, it's); every
 * other punctuation character is a token of its own ("..." is three).
 */
export function tokenizeTatoeba(text: string): string[] {
  const tokens: string[] = [];
  for (const chunk of normalizeTatoeba(text).split(' ')) {
    if (chunk === '') continue;
    // Letters, digits and inner apostrophes/hyphens form words; anything else stands alone.
    const parts = chunk.match(/[\p{L}\p{N}]+(?:['-][\p{L}\p{N}]+)*|[^\s\p{L}\p{N}]/gu);
    if (parts) tokens.push(...parts);
  }
  return tokens;
}

export interface TatoebaOptions {
  /** Longest sentence kept, in tokens (either side). Default 30. */
  maxLength?: number;
  /** Shortest, in tokens. Default 1. */
  minLength?: number;
  /** Keep at most this many pairs (the first ones). Default all. */
  limit?: number;
  /** Where warnings go. Default console.warn; null to collect them only. */
  warn?: ((message: string) => void) | null;
}

export interface TatoebaData {
  /** Spanish → English pairs (no alignment: real data has none). */
  pairs: SentencePair[];
  /** Non-empty lines read. */
  lines: number;
  /** Lines that are not English<TAB>Spanish[<TAB>attribution], or have an empty side. */
  malformed: number;
  /** Well-formed pairs dropped by the length limits. */
  filtered: number;
  /** The first few malformed lines, as "line N: …". */
  examples: string[];
  /** The warnings issued (also passed to `warn`). */
  warnings: string[];
}

/** Parses the text of a Tatoeba/Anki TSV file. */
export function parseTatoeba(text: string, options: TatoebaOptions = {}): TatoebaData {
  const maxLength = options.maxLength ?? 30;
  const minLength = options.minLength ?? 1;
  if (!(Number.isInteger(minLength) && Number.isInteger(maxLength) && minLength >= 1 && maxLength >= minLength)) {
    throw new Error(`parseTatoeba: need integers 1 ≤ minLength ≤ maxLength (got ${minLength}, ${maxLength})`);
  }
  const warn = options.warn === undefined ? (m: string) => console.warn(m) : options.warn;
  const out: TatoebaData = { pairs: [], lines: 0, malformed: 0, filtered: 0, examples: [], warnings: [] };
  const rows = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < rows.length; i++) {
    const line = rows[i];
    if (line.trim() === '') continue;
    out.lines++;
    const fields = line.split('\t');
    const english = fields[0]?.trim() ?? '';
    const spanish = fields[1]?.trim() ?? '';
    // Two columns (older files) or three (with the attribution). More tabs: the sentence
    // boundaries are ambiguous. A U+FFFD means the file was decoded with the wrong encoding.
    const bad = fields.length < 2 || fields.length > 3 || english === '' || spanish === '' || line.includes('\uFFFD');
    if (bad) {
      out.malformed++;
      if (out.examples.length < 3) out.examples.push(`line ${i + 1}: ${JSON.stringify(line.length > 80 ? `${line.slice(0, 77)}...` : line)}`);
      continue;
    }
    const source = tokenizeTatoeba(spanish);
    const target = tokenizeTatoeba(english);
    if (source.length < minLength || target.length < minLength || source.length > maxLength || target.length > maxLength) {
      out.filtered++;
      continue;
    }
    out.pairs.push({ source, target });
    if (options.limit !== undefined && out.pairs.length >= options.limit) break;
  }
  if (out.malformed > 0) {
    const m = `tatoeba: skipped ${out.malformed} malformed line${out.malformed === 1 ? '' : 's'} of ${out.lines} ` +
      `(expected English<TAB>Spanish<TAB>attribution, both sentences non-empty, UTF-8): ${out.examples.join('; ')}`;
    out.warnings.push(m);
    warn?.(m);
  }
  return out;
}

/** Reads and parses a Tatoeba/Anki TSV file (e.g. spa.txt from manythings.org/anki/spa-eng.zip). */
export function loadTatoeba(path: string, options: TatoebaOptions = {}): TatoebaData {
  if (!fs.existsSync(path)) {
    throw new Error(`loadTatoeba: no file at '${path}'. Download spa-eng.zip from https://www.manythings.org/anki/ , ` +
      'unzip it, and give the path of spa.txt (see environment.md, "Real translation data")');
  }
  const data = parseTatoeba(fs.readFileSync(path, 'utf8'), options);
  if (data.pairs.length === 0) {
    throw new Error(`loadTatoeba: '${path}' has no usable sentence pair (${data.lines} lines, ${data.malformed} malformed, ` +
      `${data.filtered} outside the length limits): is it the tab-separated spa.txt?`);
  }
  return data;
}

/**
 * Splits pairs into train / validation / test so that no Spanish sentence is in two splits (Tatoeba
 * often has several English translations of one sentence: they stay together).
 */
export function splitPairs(pairs: readonly SentencePair[], options: { validation: number; test: number; seed?: number }): { train: SentencePair[]; validation: SentencePair[]; test: SentencePair[] } {
  const groups = new Map<string, SentencePair[]>();
  for (const p of pairs) {
    const key = p.source.join(' ');
    const g = groups.get(key);
    if (g) g.push(p); else groups.set(key, [p]);
  }
  const keys = shuffle([...groups.keys()], mulberry32(options.seed ?? 0));
  const out = { train: [] as SentencePair[], validation: [] as SentencePair[], test: [] as SentencePair[] };
  for (const k of keys) {
    const target = out.test.length < options.test ? out.test : out.validation.length < options.validation ? out.validation : out.train;
    target.push(...groups.get(k)!);
  }
  return out;
}
