/**
 * Executed notebook (nbformat 4 JSON) → one self-contained HTML handout.
 *
 * The page opens from disk with the network off: nothing is loaded from an http(s) URL. What a
 * page needs is inlined from node_modules (see ./assets): vega + vega-lite + vega-embed once, and
 * only when the page has a vega(-lite) figure; plotly.min.js once, and only when it has a plotly
 * figure; the KaTeX stylesheet (woff2 fonts as data: URIs) only when it has math.
 *
 * Server side: Markdown (markdown-it, raw HTML allowed), math (KaTeX, rendered to HTML here),
 * code highlighting (highlight.js). Client side: vega-embed and Plotly.newPlot, which keep the
 * figures interactive (vega-lite params bound to sliders, tooltips, plotly zoom and frames).
 *
 * Every figure sits in `<div class="kit-figure" data-kind="vega-lite|vega|plotly|svg|img">`;
 * interactive ones carry `data-state="pending"` until the page script sets `rendered` or
 * `error`. A failure is shown on the page and logged with console.error (tools/browser.ts
 * reports it).
 */
import MarkdownIt from 'markdown-it';
import katex from 'katex';
import type { HLJSApi } from 'highlight.js';
import * as assets from './assets';

// ---------------------------------------------------------------------------------------------
// nbformat 4 (the parts a handout reads)

export type MultilineString = string | string[];

export interface NotebookOutput {
  output_type: string; // 'stream' | 'display_data' | 'execute_result' | 'error' | 'update_display_data'
  name?: string; // stream: 'stdout' | 'stderr'
  text?: MultilineString;
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
  execution_count?: number | null;
}

export interface NotebookCell {
  cell_type: string; // 'markdown' | 'code' | 'raw'
  source: MultilineString;
  id?: string;
  metadata?: {
    tags?: string[];
    jupyter?: { source_hidden?: boolean; outputs_hidden?: boolean };
    format?: string; // raw cells: 'text/html', …
    raw_mimetype?: string;
    [key: string]: unknown;
  };
  outputs?: NotebookOutput[];
  execution_count?: number | null;
  attachments?: Record<string, Record<string, MultilineString>>;
}

export interface Notebook {
  cells: NotebookCell[];
  metadata?: {
    kernelspec?: { name?: string; display_name?: string; language?: string };
    language_info?: { name?: string; [key: string]: unknown };
    [key: string]: unknown;
  };
  nbformat?: number;
  nbformat_minor?: number;
}

export interface RenderNotebookOptions {
  /** Page title (the notebook's first heading, usually: see notebookTitle). Plain text or inline Markdown. */
  title: string;
  /** File name of the notebook, shown in the header (e.g. "03-attention.ipynb"). */
  notebookName: string;
  indexHref?: string;
  prevHref?: string;
  nextHref?: string;
  /** Titles for the prev/next links (default: "Previous" / "Next"). */
  prevTitle?: string;
  nextTitle?: string;
  /** Execution profile the notebook ran with (e.g. "quick", "full"). */
  profile?: string;
  /** Build time; omitted from the page when not given (keeps output reproducible). */
  builtAt?: Date | string;
  /** When set, a banner says the notebook failed to execute, with this message. */
  error?: string;
  /** Rewrites relative links of Markdown cells. Default: `x.ipynb[#frag]` → `x.html[#frag]`. */
  rewriteLink?: (href: string) => string;
  /** Receives non-fatal problems: math that does not parse, remote URLs, unknown outputs. */
  warn?: (message: string) => void;
}

export interface IndexEntry {
  href: string;
  /** Plain text or inline Markdown (math allowed). */
  title: string;
  /** Plain text or inline Markdown (math allowed). */
  summary?: string;
  ok: boolean;
  /** Optional short note shown for a failed entry (e.g. the failing cell's error). */
  error?: string;
}

export interface RenderIndexOptions {
  title: string;
  builtAt?: Date | string;
  profile?: string;
  /** Optional introduction (Markdown) shown above the list. */
  intro?: string;
  warn?: (message: string) => void;
}

// ---------------------------------------------------------------------------------------------
// small helpers

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;',
  );
}

function joinText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? v : String(v))).join('');
  if (value === undefined || value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value, null, 2) : String(value);
}

/** JSON for a <script type="application/json"> element: nothing in it can close the element. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Removes ANSI escape sequences (colours, cursor moves) from terminal text. */
export function stripAnsi(text: string): string {
  return text
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '') // OSC … BEL / ST
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '') // CSI
    .replace(/\x1b[@-Z\\-_]/g, '');
}

/**
 * What a terminal would show for text with carriage returns and backspaces (progress bars
 * written with `\r`): later text overwrites the line from its start.
 */
export function applyCarriageReturns(text: string): string {
  return text
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((line) => {
      if (!line.includes('\r') && !line.includes('\b')) return line;
      const cells: string[] = [];
      let col = 0;
      for (const ch of line) {
        if (ch === '\r') col = 0;
        else if (ch === '\b') col = Math.max(0, col - 1);
        else cells[col++] = ch;
      }
      return cells.join('');
    })
    .join('\n');
}

function formatBuiltAt(value: Date | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (Number.isNaN(value.getTime())) return undefined;
  return value.toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');
}

function defaultRewriteLink(href: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('#') || href.startsWith('//')) return href;
  return href.replace(/\.ipynb(?=$|[#?])/, '.html');
}

// ---------------------------------------------------------------------------------------------
// highlight.js (core + the few languages notebooks here use)

const hljs: HLJSApi = (() => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const core = require('highlight.js/lib/core') as HLJSApi;
  const langs = ['typescript', 'javascript', 'json', 'bash', 'shell', 'python', 'xml', 'css', 'markdown', 'plaintext'];
  for (const name of langs) {
    if (!core.getLanguage(name)) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      core.registerLanguage(name, require(`highlight.js/lib/languages/${name}`) as Parameters<HLJSApi['registerLanguage']>[1]);
    }
  }
  return core;
})();

function highlight(code: string, language: string | undefined): { html: string; language: string } {
  const lang = language && hljs.getLanguage(language) ? language : undefined;
  if (!lang) return { html: escapeHtml(code), language: 'plaintext' };
  return { html: hljs.highlight(code, { language: lang, ignoreIllegals: true }).value, language: lang };
}

// ---------------------------------------------------------------------------------------------
// math: found in the source and replaced by placeholders before Markdown sees it

interface MathItem {
  tex: string;
  display: boolean;
  /** the source as written, delimiters included */
  raw: string;
}

const PH_OPEN = '\uE000';
const PH_CLOSE = '\uE001';
const PH_RE = /\uE000(\d+)\uE001/g;

/** Per-page state: which assets the page needs, figure numbering, shared KaTeX macros. */
class PageContext {
  hasMath = false;
  hasVega = false;
  hasPlotly = false;
  figureCount = 0;
  readonly macros: Record<string, string> = {};
  private readonly headingIds = new Set<string>();
  constructor(
    readonly warn: (message: string) => void,
    readonly rewriteLink: (href: string) => string,
  ) {}

  nextFigureId(): string {
    return `kit-fig-${++this.figureCount}`;
  }

  uniqueHeadingId(base: string): string {
    let id = base || 'section';
    for (let n = 1; this.headingIds.has(id); n++) id = `${base}-${n}`;
    this.headingIds.add(id);
    return id;
  }

  tex(tex: string, display: boolean): string {
    this.hasMath = true;
    const options: katex.KatexOptions = {
      displayMode: display,
      throwOnError: true,
      globalGroup: true, // \newcommand at top level lasts for the page, as in Jupyter
      macros: this.macros,
      strict: 'ignore',
      output: 'htmlAndMathml',
    };
    try {
      return katex.renderToString(tex, options);
    } catch (e) {
      this.warn(`math does not parse (${(e as Error).message}): ${display ? '$$' : '$'}${tex}${display ? '$$' : '$'}`);
      return katex.renderToString(tex, { ...options, throwOnError: false });
    }
  }
}

/** Ranges [start, end) of the source that are code (fenced blocks and inline code spans). */
function codeRanges(src: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  // fenced code blocks, line by line (also inside lists and block quotes)
  const lineRe = /[^\n]*(?:\n|$)/g;
  let fence: { char: string; len: number; start: number } | null = null;
  let m: RegExpExecArray | null;
  while ((m = lineRe.exec(src)) && m[0].length > 0) {
    const line = m[0].replace(/\n$/, '');
    if (!fence) {
      const open = /^[ \t>]*(?:(?:[-*+]|\d+[.)])[ \t]+)?(`{3,}|~{3,})(.*)$/.exec(line);
      if (open && !(open[1]![0] === '`' && open[2]!.includes('`'))) {
        fence = { char: open[1]![0]!, len: open[1]!.length, start: m.index };
      }
    } else {
      const close = /^[ \t>]*(`{3,}|~{3,})[ \t]*$/.exec(line);
      if (close && close[1]![0] === fence.char && close[1]!.length >= fence.len) {
        ranges.push([fence.start, m.index + m[0].length]);
        fence = null;
      }
    }
  }
  if (fence) ranges.push([fence.start, src.length]);

  // inline code spans outside fenced blocks: a run of n backticks up to the next run of exactly n
  const inFence = (i: number) => ranges.some(([a, b]) => i >= a && i < b);
  const spans: Array<[number, number]> = [];
  for (let i = 0; i < src.length; i++) {
    if (src[i] !== '`' || inFence(i)) continue;
    if (i > 0 && src[i - 1] === '\\') continue; // escaped backtick
    let n = 1;
    while (src[i + n] === '`') n++;
    let j = i + n;
    let end = -1;
    while (j < src.length) {
      const k = src.indexOf('`', j);
      if (k < 0) break;
      if (/\n[ \t]*\n/.test(src.slice(i + n, k))) break; // not across a blank line
      let r = 1;
      while (src[k + r] === '`') r++;
      if (r === n) {
        end = k + r;
        break;
      }
      j = k + r;
    }
    if (end > 0) {
      spans.push([i, end]);
      i = end - 1;
    } else {
      i += n - 1;
    }
  }
  return ranges.concat(spans).sort((a, b) => a[0] - b[0]);
}

function findClosing(src: string, from: number, closer: string, allowBlankLine: boolean): number {
  let j = from;
  for (;;) {
    const k = src.indexOf(closer, j);
    if (k < 0) return -1;
    if (!allowBlankLine && /\n[ \t]*\n/.test(src.slice(from, k))) return -1;
    // a closer preceded by an odd number of backslashes is escaped
    let b = 0;
    while (src[k - 1 - b] === '\\') b++;
    if (b % 2 === 0) return k;
    j = k + 1;
  }
}

/**
 * Finds math in Markdown (or plain) text: `$$…$$`, `\[…\]`, `\\[…\\]` and `\begin{env}…\end{env}`
 * as display math, `$…$`, `\(…\)`, `\\(…\\)` inline. Code spans and fenced code are left alone,
 * `\$` is a dollar sign. An inline `$` opens only before a non-space and closes only after a
 * non-space and not before a digit (so "$5 and $10" is not math).
 */
export function extractMath(src: string, skipCode = true): { text: string; math: MathItem[] } {
  const math: MathItem[] = [];
  const code = skipCode ? codeRanges(src) : [];
  let out = '';
  let last = 0;
  let ci = 0;
  const emit = (start: number, end: number, tex: string, display: boolean) => {
    out += src.slice(last, start) + PH_OPEN + math.length + PH_CLOSE;
    math.push({ tex, display, raw: src.slice(start, end) });
    last = end;
  };
  // math never reaches into code: a closing delimiter must come before the next code range
  const within = (k: number) => k >= 0 && k < limit;
  let limit = src.length;
  let i = 0;
  while (i < src.length) {
    while (ci < code.length && code[ci]![1] <= i) ci++;
    if (ci < code.length && code[ci]![0] <= i) {
      i = code[ci]![1];
      continue;
    }
    limit = ci < code.length ? code[ci]![0] : src.length;
    const ch = src[i];
    if (ch === '\\') {
      const next = src[i + 1];
      if (next === '(' || next === '[') {
        const closer = next === '(' ? '\\)' : '\\]';
        const k = src.indexOf(closer, i + 2);
        if (k > i + 2 && within(k)) {
          emit(i, k + 2, src.slice(i + 2, k), next === '[');
          i = k + 2;
          continue;
        }
      } else if (next === '\\' && (src[i + 2] === '(' || src[i + 2] === '[')) {
        // Jupyter's form: `\\(` in the Markdown source
        const closer = src[i + 2] === '(' ? '\\\\)' : '\\\\]';
        const k = src.indexOf(closer, i + 3);
        if (k > i + 3 && within(k)) {
          emit(i, k + 3, src.slice(i + 3, k), src[i + 2] === '[');
          i = k + 3;
          continue;
        }
      } else if (src.startsWith('begin{', i + 1)) {
        const env = /^\\begin\{([A-Za-z]+\*?)\}/.exec(src.slice(i));
        if (env) {
          const endTag = `\\end{${env[1]}}`;
          const k = src.indexOf(endTag, i + env[0].length);
          if (k > 0 && within(k)) {
            emit(i, k + endTag.length, src.slice(i, k + endTag.length), true);
            i = k + endTag.length;
            continue;
          }
        }
      }
      i += 2; // an escaped character (\$, \\, \_ …) stays for Markdown
      continue;
    }
    if (ch === '$') {
      if (src[i + 1] === '$') {
        const k = findClosing(src, i + 2, '$$', true);
        if (k > i + 2 && within(k) && src.slice(i + 2, k).trim()) {
          emit(i, k + 2, src.slice(i + 2, k).trim(), true);
          i = k + 2;
          continue;
        }
        i += 2;
        continue;
      }
      if (src[i + 1] !== undefined && !/\s/.test(src[i + 1]!)) {
        let j = i + 1;
        let closed = -1;
        for (;;) {
          const k = findClosing(src, j, '$', false);
          if (!within(k)) break;
          if (!/\s/.test(src[k - 1]!) && !/\d/.test(src[k + 1] ?? '')) {
            closed = k;
            break;
          }
          j = k + 1;
        }
        if (closed > 0) {
          emit(i, closed + 1, src.slice(i + 1, closed), false);
          i = closed + 1;
          continue;
        }
      }
      i += 1;
      continue;
    }
    i += 1;
  }
  out += src.slice(last);
  return { text: out, math };
}

/** Puts rendered math where the placeholders are. Placeholders inside tags get the TeX source back. */
function restoreMath(html: string, math: MathItem[], ctx: PageContext): string {
  if (math.length === 0) return html;
  const rendered = new Map<number, string>();
  const render = (n: number) => {
    let r = rendered.get(n);
    if (r === undefined) {
      const item = math[n]!;
      r = ctx.tex(item.tex, item.display);
      rendered.set(n, r);
    }
    return r;
  };
  // display math alone in a paragraph becomes a block of its own
  html = html.replace(/<p>\uE000(\d+)\uE001<\/p>/g, (whole, n: string) => {
    const item = math[Number(n)];
    return item?.display ? `<div class="kit-math-display">${render(Number(n))}</div>` : whole;
  });
  return html
    .split(/(<[^>]*>)/)
    .map((part) =>
      part.startsWith('<')
        ? part.replace(PH_RE, (_w: string, n: string) => escapeHtml(math[Number(n)]?.raw ?? ''))
        : part.replace(PH_RE, (_w: string, n: string) => {
            const item = math[Number(n)];
            if (!item) return '';
            return item.display ? `<span class="kit-math-display">${render(Number(n))}</span>` : render(Number(n));
          }),
    )
    .join('');
}

/** Text with math, no Markdown (text/latex outputs): math rendered, the rest escaped. */
function renderTextWithMath(text: string, ctx: PageContext): string {
  const { text: rest, math } = extractMath(text, false);
  if (math.length === 0) return `<div class="kit-math-display">${ctx.tex(text.trim(), true)}</div>`;
  if (math.length === 1 && math[0]!.display && rest.trim() === `${PH_OPEN}0${PH_CLOSE}`) {
    return `<div class="kit-math-display">${ctx.tex(math[0]!.tex, true)}</div>`;
  }
  return restoreMath(escapeHtml(rest).replace(/\n/g, '<br>\n'), math, ctx);
}

// ---------------------------------------------------------------------------------------------
// Markdown

interface MdEnv {
  ctx?: PageContext;
  attachments?: Record<string, Record<string, MultilineString>>;
  [key: string]: unknown;
}

function envOf(env: unknown): MdEnv {
  return (env ?? {}) as MdEnv;
}

function headingSlug(text: string): string {
  // JupyterLab's anchors: the heading's text with spaces as dashes
  return text
    .replace(PH_RE, '')
    .replace(/<[^>]*>/g, '')
    .trim()
    .replace(/\s+/g, '-');
}

const md: InstanceType<typeof MarkdownIt> = (() => {
  const m = new MarkdownIt({
    html: true,
    linkify: false,
    typographer: false,
    highlight: (code: string, lang: string) => {
      const h = highlight(code, lang.trim().split(/\s+/)[0]?.toLowerCase() || undefined);
      return `<pre class="kit-code-block"><code class="hljs language-${escapeHtml(h.language)}">${h.html}</code></pre>`;
    },
  });
  // heading ids, as JupyterLab makes them, so in-notebook links keep working
  m.core.ruler.push('kit_heading_ids', (state) => {
    const env = envOf(state.env);
    const tokens = state.tokens;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t.type !== 'heading_open' || t.attrGet('id')) continue;
      const inline = tokens[i + 1];
      const text = inline?.children?.map((c) => (c.type === 'text' || c.type === 'code_inline' ? c.content : '')).join('') ?? '';
      if (env.ctx) t.attrSet('id', env.ctx.uniqueHeadingId(headingSlug(text)));
    }
    return true;
  });
  const defaultImage = m.renderer.rules.image!;
  m.renderer.rules.image = (tokens, idx, options, rawEnv, self) => {
    const env = envOf(rawEnv);
    const token = tokens[idx]!;
    const src = String(token.attrGet('src') ?? '');
    if (src.startsWith('attachment:')) {
      const name = decodeURIComponent(src.slice('attachment:'.length));
      const bundle = env.attachments?.[name];
      const mime = bundle && Object.keys(bundle).find((k) => k.startsWith('image/'));
      if (bundle && mime) {
        const body = joinText(bundle[mime]);
        token.attrSet('src', mime === 'image/svg+xml' ? `data:${mime};base64,${Buffer.from(body).toString('base64')}` : `data:${mime};base64,${body.replace(/\s+/g, '')}`);
      } else {
        env.ctx?.warn(`markdown image attachment "${name}" not found`);
      }
    }
    return defaultImage(tokens, idx, options, rawEnv, self);
  };
  m.renderer.rules.link_open = (tokens, idx, options, rawEnv, self) => {
    const env = envOf(rawEnv);
    const token = tokens[idx]!;
    const href = token.attrGet('href');
    if (href && env.ctx) token.attrSet('href', env.ctx.rewriteLink(String(href)));
    return self.renderToken(tokens, idx, options);
  };
  m.renderer.rules.table_open = () => '<div class="kit-table-wrap"><table>\n';
  m.renderer.rules.table_close = () => '</table></div>\n';
  return m;
})();

function renderMarkdown(src: string, ctx: PageContext, attachments?: NotebookCell['attachments']): string {
  const { text, math } = extractMath(src);
  return restoreMath(md.render(text, { ctx, attachments }), math, ctx);
}

function renderMarkdownInline(src: string, ctx: PageContext): string {
  const { text, math } = extractMath(src);
  return restoreMath(md.renderInline(text, { ctx }), math, ctx);
}

/** Inline Markdown as plain text (for <title> and attributes): math keeps its TeX source. */
export function markdownToPlainText(src: string): string {
  const { text, math } = extractMath(src);
  const html = md.renderInline(text, {});
  return html
    .replace(/<[^>]*>/g, '')
    .replace(PH_RE, (_w: string, n: string) => math[Number(n)]?.tex ?? '')
    .replace(/&(amp|lt|gt|quot|#39);/g, (_w, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] ?? '')
    .replace(/\s+/g, ' ')
    .trim();
}

// ---------------------------------------------------------------------------------------------
// title and summary of a notebook (for the index)

function firstTokens(nb: Notebook): Array<{ type: string; content: string }> {
  const out: Array<{ type: string; content: string }> = [];
  for (const cell of nb.cells) {
    if (cell.cell_type !== 'markdown') continue;
    const { text, math } = extractMath(joinText(cell.source));
    const tokens = md.parse(text, {});
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if ((t.type === 'heading_open' || t.type === 'paragraph_open') && tokens[i + 1]?.type === 'inline') {
        const content = tokens[i + 1]!.content.replace(PH_RE, (_w: string, n: string) => math[Number(n)]?.raw ?? '');
        out.push({ type: t.type === 'heading_open' ? 'heading' : 'paragraph', content });
      }
    }
  }
  return out;
}

/** The notebook's first Markdown heading (inline Markdown source), or undefined. */
export function notebookTitle(nb: Notebook): string | undefined {
  return firstTokens(nb).find((t) => t.type === 'heading')?.content.trim();
}

/**
 * The first paragraph after the first heading (inline Markdown source), shortened to about
 * maxLength characters at a sentence or word boundary, never inside math.
 */
export function notebookSummary(nb: Notebook, maxLength = 280): string | undefined {
  const tokens = firstTokens(nb);
  const h = tokens.findIndex((t) => t.type === 'heading');
  const p = tokens.slice(h + 1).find((t) => t.type === 'paragraph');
  if (!p) return undefined;
  let text = p.content.replace(/\s+/g, ' ').trim();
  if (text.length <= maxLength) return text;
  const { math } = extractMath(text);
  // positions inside math may not be cut
  const spans: Array<[number, number]> = [];
  let from = 0;
  for (const item of math) {
    const at = text.indexOf(item.raw, from);
    if (at >= 0) {
      spans.push([at, at + item.raw.length]);
      from = at + item.raw.length;
    }
  }
  const ok = (cut: number) => !spans.some(([a, b]) => cut > a && cut < b);
  const head = text.slice(0, maxLength);
  let cut = -1;
  for (let k = head.length - 1; k >= maxLength / 3; k--) {
    if (/[.!?]/.test(head[k]!) && head[k + 1] === ' ' && ok(k + 1)) {
      cut = k + 1;
      break;
    }
  }
  if (cut > 0) return text.slice(0, cut);
  for (let k = head.length; k > 0; k--) {
    if (text[k] === ' ' && ok(k)) {
      cut = k;
      break;
    }
  }
  text = text.slice(0, cut > 0 ? cut : maxLength).replace(/[\s,;:]+$/, '');
  return `${text} …`;
}

// ---------------------------------------------------------------------------------------------
// outputs

const VEGALITE_MIME = /^application\/vnd\.vegalite\.v\d+\+json$/;
const VEGA_MIME = /^application\/vnd\.vega\.v\d+\+json$/;
const PLOTLY_MIME = 'application/vnd.plotly.v1+json';
const IMAGE_MIMES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/bmp'];

/**
 * SVG markup for inlining in HTML: no XML prolog or doctype, and ids prefixed so that two
 * figures (e.g. two vega charts with clip path "clip1") cannot pick up each other's defs.
 */
export function inlineSvg(svg: string, idPrefix: string): string {
  let s = svg
    .replace(/^\uFEFF/, '')
    .replace(/<\?xml[\s\S]*?\?>/g, '')
    .replace(/<!DOCTYPE[\s\S]*?>/gi, '')
    .trim();
  const ids = new Set<string>();
  for (const m of s.matchAll(/\sid\s*=\s*(["'])([^"']+)\1/g)) ids.add(m[2]!);
  if (ids.size > 0) {
    const p = (id: string) => (ids.has(id) ? `${idPrefix}-${id}` : id);
    s = s
      .replace(/(\sid\s*=\s*)(["'])([^"']+)\2/g, (_w, a: string, q: string, id: string) => `${a}${q}${p(id)}${q}`)
      .replace(/url\(\s*(["']?)#([^"')\s]+)\1\s*\)/g, (_w, q: string, id: string) => `url(${q}#${p(id)}${q})`)
      .replace(/(\s(?:xlink:)?href\s*=\s*)(["'])#([^"']+)\2/g, (_w, a: string, q: string, id: string) => `${a}${q}#${p(id)}${q}`);
  }
  return s;
}

function imageTag(mime: string, data: unknown, metadata: Record<string, unknown> | undefined, alt: string): string {
  const b64 = joinText(data).replace(/\s+/g, '');
  const meta = (metadata?.[mime] ?? {}) as { width?: unknown; height?: unknown };
  const size = [
    typeof meta.width === 'number' ? ` width="${meta.width}"` : '',
    typeof meta.height === 'number' ? ` height="${meta.height}"` : '',
  ].join('');
  return `<img src="data:${mime};base64,${b64}"${size} alt="${escapeHtml(alt)}">`;
}

function plainOf(data: Record<string, unknown>): string {
  return joinText(data['text/plain']).trim();
}

function figure(kind: string, id: string, inner: string, label: string, state?: string): string {
  return (
    `<div class="kit-figure" data-kind="${kind}" id="${id}"` +
    (state ? ` data-state="${state}"` : '') +
    (label ? ` aria-label="${escapeHtml(label)}"` : '') +
    `>${inner}</div>`
  );
}

function staticFallback(data: Record<string, unknown>, metadata: Record<string, unknown> | undefined, id: string, label: string): string {
  if (typeof data['image/svg+xml'] === 'string' || Array.isArray(data['image/svg+xml'])) {
    return inlineSvg(joinText(data['image/svg+xml']), `${id}-static`);
  }
  const img = IMAGE_MIMES.find((m) => data[m] !== undefined);
  if (img) return imageTag(img, data[img], metadata, label);
  return `<p class="kit-fallback">${escapeHtml(label || 'Interactive figure')} (needs JavaScript)</p>`;
}

function renderBundle(data: Record<string, unknown>, metadata: Record<string, unknown> | undefined, ctx: PageContext): string {
  const mimes = Object.keys(data);
  const label = plainOf(data).replace(/^Figure:\s*/, '');

  const vl = mimes.find((m) => VEGALITE_MIME.test(m));
  const vg = vl ? undefined : mimes.find((m) => VEGA_MIME.test(m));
  if (vl || vg) {
    const mime = (vl ?? vg)!;
    let spec = data[mime];
    if (typeof spec === 'string') {
      try {
        spec = JSON.parse(spec);
      } catch {
        ctx.warn(`${mime} output is a string that is not JSON`);
      }
    }
    ctx.hasVega = true;
    const id = ctx.nextFigureId();
    const kind = vl ? 'vega-lite' : 'vega';
    const inner =
      `<div class="kit-vega">${staticFallback(data, metadata, id, label)}</div>` +
      `<script type="application/json" class="kit-spec">${jsonForScript(spec)}</script>`;
    return figure(kind, id, inner, label, 'pending');
  }

  if (data[PLOTLY_MIME] !== undefined) {
    let fig = data[PLOTLY_MIME];
    if (typeof fig === 'string') {
      try {
        fig = JSON.parse(fig);
      } catch {
        ctx.warn(`${PLOTLY_MIME} output is a string that is not JSON`);
      }
    }
    ctx.hasPlotly = true;
    const id = ctx.nextFigureId();
    const inner =
      `<div class="kit-plotly"><p class="kit-fallback">${escapeHtml(label || 'Interactive plotly figure')} (needs JavaScript)</p></div>` +
      `<script type="application/json" class="kit-spec">${jsonForScript(fig)}</script>`;
    return figure('plotly', id, inner, label, 'pending');
  }

  if (data['text/html'] !== undefined) return `<div class="kit-html">${joinText(data['text/html'])}</div>`;
  if (data['text/markdown'] !== undefined) return `<div class="kit-markdown-output">${renderMarkdown(joinText(data['text/markdown']), ctx)}</div>`;
  if (data['text/latex'] !== undefined) return `<div class="kit-latex">${renderTextWithMath(joinText(data['text/latex']), ctx)}</div>`;
  if (data['image/svg+xml'] !== undefined) {
    const id = ctx.nextFigureId();
    return figure('svg', id, inlineSvg(joinText(data['image/svg+xml']), id), label);
  }
  const img = IMAGE_MIMES.find((m) => data[m] !== undefined);
  if (img) {
    const id = ctx.nextFigureId();
    return figure('img', id, imageTag(img, data[img], metadata, label), label);
  }
  if (data['application/javascript'] !== undefined) {
    // as in the classic notebook: the script gets `element`, its output area
    const js = assets.scriptSafe(joinText(data['application/javascript']));
    return (
      `<div class="kit-js-output"></div><script>(function(element){try{\n${js}\n}catch(e){console.error('[handout] javascript output failed:',e);}})` +
      `(document.currentScript.previousElementSibling);</script>`
    );
  }
  if (data['application/json'] !== undefined) {
    return `<pre class="kit-text kit-json">${escapeHtml(JSON.stringify(data['application/json'], null, 2))}</pre>`;
  }
  if (data['text/plain'] !== undefined) {
    return `<pre class="kit-text">${escapeHtml(applyCarriageReturns(stripAnsi(joinText(data['text/plain']))))}</pre>`;
  }
  ctx.warn(`output with no mime type a handout can show: ${mimes.join(', ') || '(empty)'}`);
  return '';
}

function renderOutputs(outputs: NotebookOutput[], ctx: PageContext): string {
  const parts: string[] = [];
  let i = 0;
  while (i < outputs.length) {
    const o = outputs[i]!;
    if (o.output_type === 'stream') {
      // consecutive chunks of one stream read as one block
      const name = o.name === 'stderr' ? 'stderr' : 'stdout';
      let text = '';
      while (i < outputs.length && outputs[i]!.output_type === 'stream' && (outputs[i]!.name === 'stderr' ? 'stderr' : 'stdout') === name) {
        text += joinText(outputs[i]!.text);
        i++;
      }
      text = applyCarriageReturns(stripAnsi(text)).replace(/\n+$/, '');
      if (text.length === 0) continue;
      parts.push(
        name === 'stderr'
          ? `<pre class="kit-stream kit-stderr" aria-label="stderr">${escapeHtml(text)}</pre>`
          : `<pre class="kit-stream kit-stdout">${escapeHtml(text)}</pre>`,
      );
      continue;
    }
    i++;
    if (o.output_type === 'error') {
      const tb = (o.traceback ?? []).map(stripAnsi).join('\n');
      const head = `${o.ename ?? 'Error'}${o.evalue ? `: ${o.evalue}` : ''}`;
      parts.push(`<pre class="kit-stream kit-stderr kit-error">${escapeHtml(tb.includes(head) || !tb ? tb || head : `${head}\n${tb}`)}</pre>`);
      continue;
    }
    if ((o.output_type === 'display_data' || o.output_type === 'execute_result') && o.data) {
      const html = renderBundle(o.data, o.metadata, ctx);
      if (html) parts.push(`<div class="kit-output">${html}</div>`);
      continue;
    }
  }
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------------
// cells and page

function cellTags(cell: NotebookCell): Set<string> {
  const tags = new Set((cell.metadata?.tags ?? []).map((t) => t.replace(/_/g, '-')));
  if (cell.metadata?.jupyter?.source_hidden) tags.add('hide-input');
  return tags;
}

function renderCell(cell: NotebookCell, index: number, language: string, ctx: PageContext): string {
  const tags = cellTags(cell);
  if (tags.has('remove-cell')) return '';
  const source = joinText(cell.source);
  if (cell.cell_type === 'markdown') {
    if (!source.trim()) return '';
    return `<section class="kit-cell kit-markdown" id="cell-${index + 1}">\n${renderMarkdown(source, ctx, cell.attachments)}</section>`;
  }
  if (cell.cell_type === 'raw') {
    const fmt = cell.metadata?.format ?? cell.metadata?.raw_mimetype ?? '';
    if (fmt === 'text/html') return `<section class="kit-cell kit-raw" id="cell-${index + 1}">${source}</section>`;
    if (fmt === 'text/markdown') return `<section class="kit-cell kit-markdown" id="cell-${index + 1}">${renderMarkdown(source, ctx)}</section>`;
    return '';
  }
  if (cell.cell_type !== 'code') return '';
  const outputs = tags.has('remove-output') ? '' : renderOutputs(cell.outputs ?? [], ctx);
  let input = '';
  if (source.trim() && !tags.has('remove-input')) {
    const h = highlight(source.replace(/\s+$/, ''), language);
    const count = typeof cell.execution_count === 'number' ? `<span class="kit-count">[${cell.execution_count}]</span>` : '';
    const pre = `<pre class="kit-source">${count}<code class="hljs language-${escapeHtml(h.language)}">${h.html}</code></pre>`;
    input = tags.has('hide-input') ? `<details class="kit-hidden-input"><summary>Show code</summary>${pre}</details>` : pre;
  }
  if (!input && !outputs) return '';
  return (
    `<section class="kit-cell kit-code" id="cell-${index + 1}">\n${input}` +
    (outputs ? `\n<div class="kit-outputs">\n${outputs}\n</div>` : '') +
    `\n</section>`
  );
}

const BASE_CSS = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--accent:#0969da;--err:#cf222e;--err-bg:#fff1f0;--ok:#1a7f37}
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;color:var(--fg);background:#fff;font:16px/1.6 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","Noto Sans","DejaVu Sans",Arial,sans-serif}
.kit-page{max-width:980px;margin:0 auto;padding:0 1.25rem 4rem}
a{color:var(--accent)}
code,pre,kbd,samp{font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono",monospace;font-size:.875em}
.kit-header{border-bottom:1px solid var(--line);padding:1rem 0 .75rem;margin-bottom:1.5rem}
.kit-nav{display:flex;flex-wrap:wrap;gap:.25rem 1.25rem;font-size:.9rem}
.kit-nav a{text-decoration:none}
.kit-nav a:hover{text-decoration:underline}
.kit-nav .kit-spacer{flex:1}
.kit-header h1{margin:.6rem 0 .2rem;font-size:2rem;line-height:1.25}
.kit-meta{margin:.35rem 0 0;color:var(--muted);font-size:.875rem}
.kit-meta span+span::before{content:"·";margin:0 .5em;color:var(--line)}
.kit-banner{border:1px solid var(--err);background:var(--err-bg);color:#82071e;border-radius:6px;padding:.6rem .9rem;margin:0 0 1.5rem}
.kit-cell{margin:0 0 1.25rem}
.kit-markdown h1,.kit-markdown h2,.kit-markdown h3,.kit-markdown h4{line-height:1.3;margin:1.6em 0 .5em}
.kit-markdown h1{font-size:1.9rem}.kit-markdown h2{font-size:1.5rem;border-bottom:1px solid var(--line);padding-bottom:.2em}.kit-markdown h3{font-size:1.2rem}
.kit-markdown>:first-child{margin-top:0}
.kit-markdown p,.kit-markdown ul,.kit-markdown ol,.kit-markdown blockquote{margin:.6em 0}
.kit-markdown blockquote{border-left:4px solid var(--line);margin-left:0;padding:.1em 1em;color:var(--muted)}
.kit-markdown img{max-width:100%}
.kit-markdown :not(pre)>code,.kit-markdown-output :not(pre)>code{background:var(--soft);border-radius:4px;padding:.1em .35em}
.kit-table-wrap{overflow-x:auto;margin:.8em 0}
table{border-collapse:collapse;font-size:.95em}
th,td{border:1px solid var(--line);padding:.3em .7em;text-align:left;vertical-align:top}
thead th{background:var(--soft)}
tbody tr:nth-child(2n){background:#fbfcfd}
pre{margin:0;white-space:pre;overflow-x:auto;line-height:1.45;tab-size:4}
pre.kit-source,pre.kit-code-block{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:.7em .9em}
pre.kit-source code.hljs,pre.kit-code-block code.hljs{display:block;padding:0;background:none;overflow:visible;font-size:1em}
.kit-count{float:right;color:var(--muted);font-size:.8em;margin-left:1em;user-select:none}
details.kit-hidden-input>summary{cursor:pointer;color:var(--muted);font-size:.9rem}
.kit-outputs{margin:.5rem 0 0 .9rem;display:flex;flex-direction:column;gap:.5rem}
.kit-output{min-width:0}
pre.kit-stream,pre.kit-text{padding:.35em .6em;border-left:3px solid var(--line)}
pre.kit-stderr{background:var(--err-bg);border-left-color:var(--err);color:#82071e}
pre.kit-stderr::before{content:"stderr";display:block;font:600 .7rem/1.6 system-ui,sans-serif;letter-spacing:.04em;text-transform:uppercase;color:var(--err)}
.kit-figure{max-width:100%;overflow-x:auto;overflow-y:hidden;padding:.25rem 0}
.kit-figure svg,.kit-figure img{display:block;max-width:none}
.kit-figure[data-kind="img"] img{max-width:100%;height:auto}
.kit-vega.vega-embed{display:block}
.kit-vega .vega-bindings{font-size:.9rem;margin-top:.25rem}
.kit-vega .vega-bind{display:flex;align-items:center;gap:.5em}
.kit-vega .vega-bind-name{font-weight:600}
.kit-plotly{width:100%;min-height:2rem}
.kit-figure-error{border:1px solid var(--err);background:var(--err-bg);color:#82071e;border-radius:6px;padding:.4rem .7rem;margin-bottom:.4rem;font-size:.9rem;white-space:pre-wrap}
.kit-fallback{color:var(--muted);font-style:italic;margin:.25rem 0}
.kit-html{overflow-x:auto}
.kit-math-display{overflow-x:auto;overflow-y:hidden;margin:.8em 0}
.kit-math-display .katex-display{margin:0}
span.kit-math-display{display:block}
.kit-footer{border-top:1px solid var(--line);margin-top:3rem;padding-top:.75rem;color:var(--muted);font-size:.85rem}
.kit-index{list-style:none;padding:0;margin:0;counter-reset:lecture}
.kit-index li{counter-increment:lecture;border:1px solid var(--line);border-radius:8px;padding:.75rem 1rem .75rem 3.2rem;margin:0 0 .75rem;position:relative}
.kit-index li::before{content:counter(lecture);position:absolute;left:1rem;top:.75rem;font-weight:700;color:var(--muted);width:1.6rem;text-align:right}
.kit-index li.kit-failed{border-color:var(--err);background:var(--err-bg)}
.kit-index .kit-entry-title{font-size:1.1rem;font-weight:600}
.kit-index .kit-summary{margin:.25rem 0 0;color:var(--muted)}
.kit-badge{display:inline-block;font-size:.72rem;font-weight:700;letter-spacing:.04em;text-transform:uppercase;border-radius:999px;padding:.05rem .55rem;margin-left:.6rem;vertical-align:.15em}
.kit-badge.kit-fail{background:var(--err);color:#fff}
.kit-index .kit-entry-error{margin:.35rem 0 0;color:#82071e;font-size:.85rem;white-space:pre-wrap}
@media screen{pre.kit-stream{max-height:32em;overflow:auto}}
@media print{
  body{font-size:11pt}
  .kit-page{max-width:none;padding:0}
  .kit-nav,.kit-footer nav{display:none}
  a{color:inherit;text-decoration:none}
  pre{white-space:pre-wrap;word-break:break-word;overflow:visible}
  pre.kit-stream{max-height:none}
  .kit-figure{overflow:visible;break-inside:avoid}
  .kit-cell.kit-code{break-inside:auto}
  h1,h2,h3{break-after:avoid}
}
`;

/** The page script: vega-embed and Plotly for each figure, visible + logged errors. */
const PAGE_SCRIPT = `
(function () {
  'use strict';
  function message(err) { return err && err.message ? err.message : String(err); }
  function fail(fig, what, err) {
    var msg = message(err);
    console.error('[handout] ' + what + ' failed for figure #' + fig.id + ': ' + msg);
    fig.setAttribute('data-state', 'error');
    var box = document.createElement('div');
    box.className = 'kit-figure-error';
    box.setAttribute('role', 'alert');
    box.textContent = 'This figure could not be drawn (' + what + '): ' + msg;
    fig.insertBefore(box, fig.firstChild);
  }
  function specOf(fig) {
    var el = fig.querySelector('script.kit-spec');
    return JSON.parse(el ? el.textContent : 'null');
  }
  var figs = document.querySelectorAll('.kit-figure[data-state="pending"]');
  Array.prototype.forEach.call(figs, function (fig) {
    var kind = fig.getAttribute('data-kind');
    var spec;
    try { spec = specOf(fig); } catch (e) { fail(fig, 'reading the spec', e); return; }
    if (kind === 'vega-lite' || kind === 'vega') {
      var target = fig.querySelector('.kit-vega');
      var staticHtml = target.innerHTML;
      if (typeof vegaEmbed !== 'function') { fail(fig, 'vega-embed', new Error('vega-embed is not loaded')); return; }
      vegaEmbed(target, spec, { actions: false, renderer: 'svg', mode: kind })
        .then(function () { fig.setAttribute('data-state', 'rendered'); })
        .catch(function (err) {
          // keep the static picture made when the notebook ran
          target.classList.remove('vega-embed');
          target.innerHTML = staticHtml;
          fail(fig, 'vega-embed', err);
        });
    } else if (kind === 'plotly') {
      var div = fig.querySelector('.kit-plotly');
      if (typeof Plotly !== 'object' || !Plotly) { fail(fig, 'plotly', new Error('plotly.js is not loaded')); return; }
      try {
        var config = Object.assign({ displaylogo: false, responsive: true }, spec.config || {});
        div.innerHTML = '';
        Plotly.newPlot(div, { data: spec.data || [], layout: spec.layout || {}, config: config, frames: spec.frames })
          .then(function () { fig.setAttribute('data-state', 'rendered'); })
          .catch(function (err) { fail(fig, 'plotly', err); });
      } catch (err) { fail(fig, 'plotly', err); }
    }
  });
})();
`;

function pageHtml(parts: {
  title: string;
  ctx: PageContext;
  header: string;
  main: string;
  footer: string;
  generator: string;
}): string {
  const { ctx } = parts;
  const styles = [BASE_CSS.trim(), assets.highlightCss()];
  if (ctx.hasMath) styles.push(assets.katexCss(parts.header + parts.main + parts.footer));
  const scripts: string[] = [];
  if (ctx.hasVega) scripts.push(...assets.vegaScripts());
  if (ctx.hasPlotly) scripts.push(assets.plotlyScript());
  if (ctx.hasVega || ctx.hasPlotly) scripts.push(PAGE_SCRIPT.trim());
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta name="generator" content="${escapeHtml(parts.generator)}">`,
    `<title>${escapeHtml(parts.title)}</title>`,
    ...styles.map((css) => `<style>${css.replace(/<\/(style)/gi, '<\\/$1')}</style>`),
    '</head>',
    '<body>',
    '<div class="kit-page">',
    parts.header,
    parts.main,
    parts.footer,
    '</div>',
    ...scripts.map((js) => `<script>${js}</script>`),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function generatorNote(): string {
  const v = assets.assetVersions();
  return `lecture-kit handout renderer (katex ${v.katex}, vega ${v.vega}, vega-lite ${v['vega-lite']}, vega-embed ${v['vega-embed']}, plotly.js ${v['plotly.js-dist-min']})`;
}

function navHtml(o: { indexHref?: string; prevHref?: string; nextHref?: string; prevTitle?: string; nextTitle?: string }, ctx: PageContext): string {
  const links: string[] = [];
  if (o.indexHref) links.push(`<a class="kit-nav-index" href="${escapeHtml(o.indexHref)}">↑ All notebooks</a>`);
  links.push('<span class="kit-spacer"></span>');
  if (o.prevHref) links.push(`<a class="kit-nav-prev" rel="prev" href="${escapeHtml(o.prevHref)}">← ${o.prevTitle ? renderMarkdownInline(o.prevTitle, ctx) : 'Previous'}</a>`);
  if (o.nextHref) links.push(`<a class="kit-nav-next" rel="next" href="${escapeHtml(o.nextHref)}">${o.nextTitle ? renderMarkdownInline(o.nextTitle, ctx) : 'Next'} →</a>`);
  return links.length > 1 ? `<nav class="kit-nav">${links.join('\n')}</nav>` : '';
}

/** Finds references a browser would load from the network (src, srcset, link href, CSS url(), @import). */
export function findRemoteReferences(html: string): string[] {
  const found = new Set<string>();
  const patterns = [
    /\s(?:src|srcset|poster|data|background)\s*=\s*["']?\s*((?:https?:)?\/\/[^"'\s>]+)/gi,
    /<link\b[^>]*\shref\s*=\s*["']?\s*((?:https?:)?\/\/[^"'\s>]+)/gi,
    /url\(\s*["']?\s*((?:https?:)?\/\/[^"')\s]+)/gi,
    /@import\s+["']((?:https?:)?\/\/[^"']+)/gi,
  ];
  for (const re of patterns) for (const m of html.matchAll(re)) found.add(m[1]!);
  return [...found];
}

function stripInlineScripts(html: string): string {
  // the inlined libraries mention URLs in their code; only markup matters for remote references
  return html.replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, '');
}

/** Renders an executed notebook as one self-contained HTML page. */
export function renderNotebookHtml(nb: Notebook, options: RenderNotebookOptions): string {
  const warn = options.warn ?? (() => {});
  const ctx = new PageContext(warn, options.rewriteLink ?? defaultRewriteLink);
  const language = (nb.metadata?.language_info?.name ?? nb.metadata?.kernelspec?.language ?? 'typescript').toLowerCase();

  const cells = (nb.cells ?? []).map((cell, i) => renderCell(cell, i, language, ctx)).filter(Boolean);

  // the header repeats the title only when the notebook does not open with it as a heading
  const firstHeading = notebookTitle(nb);
  const titleText = markdownToPlainText(options.title);
  const showTitle = !firstHeading || markdownToPlainText(firstHeading) !== titleText;
  const built = formatBuiltAt(options.builtAt);
  const meta = [
    `<span class="kit-notebook">${escapeHtml(options.notebookName)}</span>`,
    options.profile ? `<span class="kit-profile">profile: ${escapeHtml(options.profile)}</span>` : '',
    built ? `<span class="kit-built">built ${escapeHtml(built)}</span>` : '',
  ].filter(Boolean);
  const nav = navHtml(options, ctx);
  const header = [
    '<header class="kit-header">',
    nav,
    showTitle ? `<h1 class="kit-title">${renderMarkdownInline(options.title, ctx)}</h1>` : '',
    `<p class="kit-meta">${meta.join('')}</p>`,
    '</header>',
    options.error ? `<div class="kit-banner" role="alert"><strong>This notebook did not run to the end.</strong> ${escapeHtml(options.error)}</div>` : '',
  ]
    .filter(Boolean)
    .join('\n');
  const main = `<main class="kit-main">\n${cells.join('\n')}\n</main>`;
  const footer = `<footer class="kit-footer">${nav}<p>Handout of <code>${escapeHtml(options.notebookName)}</code>${built ? `, built ${escapeHtml(built)}` : ''}. Works offline: everything it needs is in this file.</p></footer>`;

  const html = pageHtml({ title: titleText, ctx, header, main, footer, generator: generatorNote() });
  for (const url of findRemoteReferences(stripInlineScripts(html))) warn(`handout ${options.notebookName} refers to a remote resource: ${url}`);
  return html;
}

/** The index of all handouts, in the order given (lecture order). */
export function renderIndexHtml(entries: IndexEntry[], options: RenderIndexOptions): string {
  const warn = options.warn ?? (() => {});
  const ctx = new PageContext(warn, defaultRewriteLink);
  const failed = entries.filter((e) => !e.ok).length;
  const built = formatBuiltAt(options.builtAt);
  const meta = [
    `<span>${entries.length} notebook${entries.length === 1 ? '' : 's'}</span>`,
    failed ? `<span class="kit-failed-count" style="color:var(--err);font-weight:600">${failed} failed</span>` : '',
    options.profile ? `<span>profile: ${escapeHtml(options.profile)}</span>` : '',
    built ? `<span>built ${escapeHtml(built)}</span>` : '',
  ].filter(Boolean);
  const items = entries.map((e) => {
    const cls = e.ok ? 'kit-ok' : 'kit-failed';
    const badge = e.ok ? '' : '<span class="kit-badge kit-fail">failed</span>';
    const summary = e.summary ? `<p class="kit-summary">${renderMarkdownInline(e.summary, ctx)}</p>` : '';
    const err = !e.ok && e.error ? `<p class="kit-entry-error">${escapeHtml(e.error)}</p>` : '';
    return `<li class="${cls}"><a class="kit-entry-title" href="${escapeHtml(e.href)}">${renderMarkdownInline(e.title, ctx)}</a>${badge}${summary}${err}</li>`;
  });
  const header = [
    '<header class="kit-header">',
    `<h1 class="kit-title">${renderMarkdownInline(options.title, ctx)}</h1>`,
    `<p class="kit-meta">${meta.join('')}</p>`,
    '</header>',
  ].join('\n');
  const intro = options.intro ? `<section class="kit-cell kit-markdown">${renderMarkdown(options.intro, ctx)}</section>` : '';
  const main = `<main class="kit-main">\n${intro}\n<ol class="kit-index">\n${items.join('\n')}\n</ol>\n</main>`;
  const footer = `<footer class="kit-footer"><p>${built ? `Built ${escapeHtml(built)}. ` : ''}Every page works offline: open it straight from disk.</p></footer>`;
  return pageHtml({ title: markdownToPlainText(options.title), ctx, header, main, footer, generator: generatorNote() });
}
