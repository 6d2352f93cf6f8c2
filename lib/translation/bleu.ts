/**
 * Corpus-level BLEU (Papineni et al., ACL 2002), the standard definition used by multi-bleu.perl,
 * NLTK's corpus_bleu and sacreBLEU (without smoothing, on given tokens):
 *
 *   BLEU = BP · exp( Σ_{n=1..4} ¼ log p_n )
 *
 * p_n: modified n-gram precision over the whole corpus — each hypothesis n-gram counts at most as
 * often as it occurs in any single reference of its sentence (clipping), summed over sentences,
 * divided by the number of hypothesis n-grams. BP = 1 if c > r, else exp(1 − r/c), with c the
 * total hypothesis length and r the sum over sentences of the reference length closest to the
 * hypothesis length (the shorter one on a tie). If some p_n is 0 the score is 0; an empty
 * corpus of hypotheses scores 0. Scores are reported ×100, as in papers.
 */

export interface BleuStats {
  /** Clipped n-gram matches for n = 1..4. */
  matches: number[];
  /** Hypothesis n-grams for n = 1..4. */
  totals: number[];
  hypothesisLength: number;
  /** Effective reference length. */
  referenceLength: number;
}

export interface BleuScore extends BleuStats {
  /** 0–100. */
  bleu: number;
  /** p_1 … p_4, 0–1. */
  precisions: number[];
  brevityPenalty: number;
}

const ORDER = 4;

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join('\u0001');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Counts of one hypothesis against its references (one or more). */
export function sentenceStats(hypothesis: readonly string[], references: readonly (readonly string[])[]): BleuStats {
  if (references.length === 0) throw new Error('BLEU: every hypothesis needs at least one reference');
  const matches: number[] = [];
  const totals: number[] = [];
  for (let n = 1; n <= ORDER; n++) {
    const hyp = ngramCounts(hypothesis, n);
    // The most times each n-gram occurs in any one reference.
    const maxRef = new Map<string, number>();
    for (const ref of references) for (const [g, c] of ngramCounts(ref, n)) maxRef.set(g, Math.max(maxRef.get(g) ?? 0, c));
    let m = 0;
    for (const [g, c] of hyp) m += Math.min(c, maxRef.get(g) ?? 0);
    matches.push(m);
    totals.push(Math.max(0, hypothesis.length - n + 1));
  }
  const c = hypothesis.length;
  let r = references[0].length;
  for (const ref of references) {
    const d = Math.abs(ref.length - c);
    const best = Math.abs(r - c);
    if (d < best || (d === best && ref.length < r)) r = ref.length;
  }
  return { matches, totals, hypothesisLength: c, referenceLength: r };
}

/** Adds up sentence counts. */
export function sumStats(stats: readonly BleuStats[]): BleuStats {
  const out: BleuStats = { matches: new Array(ORDER).fill(0), totals: new Array(ORDER).fill(0), hypothesisLength: 0, referenceLength: 0 };
  for (const s of stats) {
    for (let n = 0; n < ORDER; n++) { out.matches[n] += s.matches[n]; out.totals[n] += s.totals[n]; }
    out.hypothesisLength += s.hypothesisLength;
    out.referenceLength += s.referenceLength;
  }
  return out;
}

/** BLEU from (summed) counts. */
export function bleuFromStats(s: BleuStats): BleuScore {
  const precisions = s.matches.map((m, n) => (s.totals[n] > 0 ? m / s.totals[n] : 0));
  const c = s.hypothesisLength;
  const r = s.referenceLength;
  const brevityPenalty = c === 0 ? 0 : c > r ? 1 : Math.exp(1 - r / c);
  const bleu = precisions.some((p) => p === 0) ? 0 : 100 * brevityPenalty * Math.exp(precisions.reduce((a, p) => a + Math.log(p), 0) / ORDER);
  return { ...s, matches: [...s.matches], totals: [...s.totals], bleu, precisions, brevityPenalty };
}

/**
 * Corpus BLEU-4. `references[i]` is the reference of hypothesis i (a token list), or a list of
 * references for it.
 */
export function corpusBleu(hypotheses: readonly (readonly string[])[], references: readonly (readonly string[])[] | readonly (readonly (readonly string[])[])[]): BleuScore {
  if (hypotheses.length !== references.length) {
    throw new Error(`BLEU: ${hypotheses.length} hypotheses but ${references.length} references (one entry per hypothesis)`);
  }
  const stats = hypotheses.map((h, i) => {
    const ref = references[i] as readonly unknown[];
    const multi = ref.length > 0 && Array.isArray(ref[0]);
    return sentenceStats(h, multi ? (ref as readonly (readonly string[])[]) : [ref as readonly string[]]);
  });
  return bleuFromStats(sumStats(stats));
}
