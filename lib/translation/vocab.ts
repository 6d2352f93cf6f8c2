/**
 * Word ↔ id tables, with the four special tokens every model uses at the same ids.
 */
import { BOS_ID, EOS_ID, PAD_ID, UNK_ID } from './model';

export const TRANSLATION_SPECIAL_TOKENS = ['<pad>', '<s>', '</s>', '<unk>'] as const;

export class TranslationVocabulary {
  /** All tokens, specials first: words[id]. */
  readonly words: readonly string[];
  private readonly index: Map<string, number>;

  /** `words`: the vocabulary's words, without the special tokens (duplicates are an error). */
  constructor(words: readonly string[]) {
    const all = [...TRANSLATION_SPECIAL_TOKENS, ...words];
    this.index = new Map();
    all.forEach((w, i) => {
      if (this.index.has(w)) throw new Error(`TranslationVocabulary: '${w}' appears twice${(TRANSLATION_SPECIAL_TOKENS as readonly string[]).includes(w) ? ' (it is a special token: leave it out)' : ''}`);
      this.index.set(w, i);
    });
    this.words = all;
  }

  /**
   * The words seen at least `minCount` times in `sentences`, most frequent first (ties
   * alphabetically), at most `maxSize` of them; the rest become `<unk>`.
   */
  static fromSentences(sentences: readonly (readonly string[])[], options: { minCount?: number; maxSize?: number } = {}): TranslationVocabulary {
    const minCount = options.minCount ?? 1;
    const maxSize = options.maxSize ?? Infinity;
    if (!(Number.isInteger(minCount) && minCount >= 1)) throw new Error(`TranslationVocabulary.fromSentences: minCount must be an integer ≥ 1 (got ${minCount})`);
    const counts = new Map<string, number>();
    for (const s of sentences) for (const w of s) counts.set(w, (counts.get(w) ?? 0) + 1);
    const kept = [...counts.entries()]
      .filter(([w, c]) => c >= minCount && !(TRANSLATION_SPECIAL_TOKENS as readonly string[]).includes(w))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, maxSize)
      .map(([w]) => w);
    return new TranslationVocabulary(kept);
  }

  /** Number of ids, specials included. */
  get size(): number {
    return this.words.length;
  }

  has(word: string): boolean {
    return this.index.has(word);
  }

  /** The id of a word, `<unk>`'s for a word not in the vocabulary. */
  id(word: string): number {
    return this.index.get(word) ?? UNK_ID;
  }

  encode(tokens: readonly string[]): number[] {
    return tokens.map((t) => this.id(t));
  }

  /** Tokens of ids, stopping at `</s>` and skipping `<pad>` and `<s>`. */
  decode(ids: ArrayLike<number>): string[] {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === EOS_ID) break;
      if (id === PAD_ID || id === BOS_ID) continue;
      if (!Number.isInteger(id) || id < 0 || id >= this.words.length) throw new Error(`TranslationVocabulary.decode: id ${id} is not in this vocabulary of ${this.words.length}`);
      out.push(this.words[id]);
    }
    return out;
  }
}
