/**
 * The small pieces of the lesson's write-up that are computed, not written: example tables,
 * alignment panels from translations, the beam-fixes-greedy example, the closing summary.
 */
import type { SentencePair } from './corpus';
import { sentenceStats, bleuFromStats } from './bleu';
import { greedyTranslate, type Translation } from './decode';
import type { Translator } from './model';
import type { BleuReport } from './evaluate';
import type { AlignmentPanel } from './figures';
import type { TranslationVocabulary } from './vocab';

function escape(word: string): string {
  return word.replace(/([\\`*_[\]|<>])/g, '\\$1');
}

/** A markdown table of pairs: Spanish, English, and each English word's aligned Spanish word. */
export function pairsMarkdown(pairs: readonly SentencePair[]): string {
  const lines = ['| Spanish | English | alignment (English ← Spanish) |', '|---|---|---|'];
  for (const p of pairs) {
    const links = p.alignment
      ? p.target.map((w, k) => `${escape(w)}←${p.alignment![k] >= 0 ? escape(p.source[p.alignment![k]]) : '∅'}`).join(' ')
      : '(none: real data)';
    lines.push(`| ${p.source.map(escape).join(' ')} | ${p.target.map(escape).join(' ')} | ${links} |`);
  }
  return lines.join('\n');
}

/**
 * An alignment-figure panel from a translation: rows are the output words (and `</s>`), columns
 * the source words. The generator's alignment is drawn only when the output is the reference.
 */
export function alignmentPanel(title: string, pair: SentencePair, translation: Translation, target: TranslationVocabulary): AlignmentPanel {
  if (!translation.attention) throw new Error('alignmentPanel: this translation has no attention weights (an RNNencdec model)');
  const words = target.decode(translation.tokens);
  const rows = translation.attention.length;
  const labels = rows > words.length ? [...words, '</s>'] : words.slice(0, rows);
  const exact = words.length === pair.target.length && words.every((w, i) => w === pair.target[i]);
  return {
    title, source: pair.source, target: labels, weights: translation.attention,
    ...(exact && pair.alignment ? { gold: pair.alignment } : {}),
  };
}

/** Sentence BLEU (0–100) of one hypothesis, unsmoothed: 0 when some n-gram order has no match. */
export function sentenceBleu(hypothesis: readonly string[], reference: readonly string[]): number {
  return bleuFromStats(sentenceStats(hypothesis, [reference])).bleu;
}

/**
 * The test sentence where beam search helps most: greedy's output differs from the reference
 * and the beam's is closer (by sentence BLEU, then by being exactly right). Null if none.
 */
export function beamFixesGreedy(pairs: readonly SentencePair[], greedy: readonly (readonly string[])[], beam: readonly (readonly string[])[]): { index: number; greedyBleu: number; beamBleu: number } | null {
  let best: { index: number; greedyBleu: number; beamBleu: number; gain: number } | null = null;
  pairs.forEach((p, i) => {
    const same = (a: readonly string[]) => a.length === p.target.length && a.every((w, k) => w === p.target[k]);
    if (same(greedy[i])) return;
    const g = sentenceBleu(greedy[i], p.target);
    const b = sentenceBleu(beam[i], p.target);
    const gain = b - g + (same(beam[i]) ? 100 : 0);
    if (gain > 0 && (best === null || gain > best.gain || (gain === best.gain && p.source.length < pairs[best.index].source.length))) {
      best = { index: i, greedyBleu: g, beamBleu: b, gain };
    }
  });
  if (best === null) return null;
  const { index, greedyBleu, beamBleu } = best;
  return { index, greedyBleu, beamBleu };
}

/** A markdown table of BLEU per length bucket for several models. */
export function bucketsMarkdown(models: readonly { name: string; report: BleuReport }[]): string {
  const buckets = models[0].report.buckets;
  const head = `| model | all | ${buckets.map((b) => `${b.label} words`).join(' | ')} |`;
  const sep = `|---|---|${buckets.map(() => '---').join('|')}|`;
  const rows = models.map((m) => `| ${m.name} | ${m.report.overall.bleu.toFixed(1)} | ${m.report.buckets.map((b) => (b.bleu === null ? '–' : `${b.bleu.toFixed(1)} (${b.count})`)).join(' | ')} |`);
  return [head, sep, ...rows].join('\n');
}

export interface ClosingFacts {
  profile: string;
  backendLine: string;
  search: BleuReport;
  encdec: BleuReport;
  /** Alignment agreement of RNNsearch (null without ground truth). */
  agreement: number | null;
  greedyBleu: number;
  beamBleu: number;
  beamWidth: number;
  beamSentences: number;
  /** How the models came to be: trained here (seconds, steps/s) or loaded (with the command's numbers). */
  training: { name: string; source: 'trained here' | 'shipped weights'; steps: number; seconds: number; stepsPerSecond: number; cpuSeconds?: number }[];
  /** Seconds since the notebook's setup cell. */
  notebookSeconds: number;
}

/** The closing note: every number measured in this run, and the lesson's bars checked against them. */
export function closingNote(f: ClosingFacts): string {
  const bucket = (r: BleuReport, i: number) => r.buckets[i]?.bleu ?? null;
  const short = bucket(f.search, 0), long = bucket(f.search, f.search.buckets.length - 1);
  const encLong = bucket(f.encdec, f.encdec.buckets.length - 1);
  const mark = (ok: boolean | null) => (ok === null ? '– (not measurable here)' : ok ? '✓' : '✗');
  const fmt = (x: number | null, d = 1) => (x === null ? '–' : x.toFixed(d));
  const checks = [
    `| RNNsearch BLEU ≥ 60 | ${fmt(f.search.overall.bleu)} | ${mark(f.search.overall.bleu >= 60)} |`,
    `| RNNsearch: longest bucket ≥ 0.8 × shortest | ${fmt(long)} vs ${fmt(short)} (ratio ${long !== null && short ? fmt(long / short, 2) : '–'}) | ${mark(long !== null && short !== null ? long >= 0.8 * short : null)} |`,
    `| RNNencdec: longest bucket ≤ ½ × RNNsearch's | ${fmt(encLong)} vs ${fmt(long)} | ${mark(encLong !== null && long !== null ? encLong <= 0.5 * long : null)} |`,
    `| attention argmax on the aligned word ≥ 80 % | ${f.agreement === null ? '–' : `${(100 * f.agreement).toFixed(1)} %`} | ${mark(f.agreement === null ? null : f.agreement >= 0.8)} |`,
  ];
  const training = f.training.map((t) => `| ${t.name} | ${t.source} | ${t.steps} | ${(t.seconds / 60).toFixed(1)} min | ${t.stepsPerSecond.toFixed(2)} |${t.cpuSeconds !== undefined ? ` ${(t.cpuSeconds / 60).toFixed(1)} CPU min` : ' –'} |`);
  return [
    `**Measured in this run** (${f.backendLine}).`,
    '',
    bucketsMarkdown([{ name: 'RNNsearch (attention)', report: f.search }, { name: 'RNNencdec (fixed vector)', report: f.encdec }]),
    '',
    `Greedy vs beam (width ${f.beamWidth}) on ${f.beamSentences} test sentences, RNNsearch: BLEU ${f.greedyBleu.toFixed(1)} → ${f.beamBleu.toFixed(1)}.`,
    '',
    '| the lesson\'s bar | measured | |', '|---|---|---|', ...checks,
    '',
    '| model | weights | steps | training time | steps/s | CPU time |', '|---|---|---|---|---|---|', ...training,
    '',
    `This notebook ran for ${(f.notebookSeconds / 60).toFixed(1)} min up to this cell.`,
  ].join('\n');
}

/**
 * One example from each group of candidate pairs: the first the model translates exactly (so its
 * alignment can be drawn against the generator's), else the group's first. Looks at up to
 * `tries` pairs per group. Empty groups are skipped.
 */
export function showcaseTranslations(
  model: Translator, groups: readonly (readonly SentencePair[])[], source: TranslationVocabulary, target: TranslationVocabulary, tries = 24,
): { pair: SentencePair; translation: Translation }[] {
  const out: { pair: SentencePair; translation: Translation }[] = [];
  for (const group of groups) {
    const candidates = group.slice(0, tries);
    if (candidates.length === 0) continue;
    const translations = greedyTranslate(model, candidates.map((p) => source.encode(p.source)));
    const exact = candidates.findIndex((p, i) => target.decode(translations[i].tokens).join(' ') === p.target.join(' '));
    const k = exact >= 0 ? exact : 0;
    out.push({ pair: candidates[k], translation: translations[k] });
  }
  return out;
}
