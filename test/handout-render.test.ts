/**
 * Handout HTML: rendered from hand-made executed notebooks (test/handout-fixtures.ts), checked as
 * text, then opened offline in Chromium (one browser for the whole file).
 *
 * HANDOUT_TEST_OUT=<dir> keeps the rendered pages and a screenshot there (default: a temp dir
 * that is removed afterwards).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser } from 'playwright-core';
import {
  renderNotebookHtml,
  renderIndexHtml,
  notebookTitle,
  notebookSummary,
  extractMath,
  findRemoteReferences,
  type Notebook,
} from '../tools/render-html';
import { scriptAsset, type ScriptAsset } from '../tools/assets';
import { makeHandoutFixtures, type HandoutFixture } from './handout-fixtures';
import { launchBrowser, checkHandout, interact, screenshotHandout, setVegaSlider, describeProblems } from '../tools/browser';

const VEGALITE = 'application/vnd.vegalite.v5+json';

let fixtures: Record<HandoutFixture, unknown> | null = null;
function loadFixture(name: HandoutFixture): Notebook {
  fixtures ??= makeHandoutFixtures();
  return structuredClone(fixtures[name]) as Notebook; // each caller gets its own copy to change
}

/** Markup without the bodies of executable scripts (the inlined libraries mention URLs in code). */
function markupOnly(html: string): string {
  return html.replace(/<script(?![^>]*application\/json)[^>]*>[\s\S]*?<\/script>/gi, '<script></script>');
}

/** Leading text of an inlined library: counts how often the library is on a page. */
function libraryCount(html: string, name: ScriptAsset): number {
  const marker = scriptAsset(name).slice(0, 120);
  return html.split(marker).length - 1;
}

/** assert.match without printing a megabyte page when it fails. */
function contains(haystack: string, re: RegExp, message = ''): void {
  if (re.test(haystack)) return;
  const text = haystack.length > 2000 ? `${haystack.slice(0, 300)} … (${haystack.length} chars)` : haystack;
  assert.fail(`${message ? `${message}: ` : ''}expected ${re} in: ${text}`);
}

function sections(html: string, cls: string): string[] {
  return [...html.matchAll(new RegExp(`<section class="kit-cell ${cls}"[^>]*>([\\s\\S]*?)</section>`, 'g'))].map((m) => m[1]!);
}

/** Visible text of Markdown HTML, without code and without the TeX source inside KaTeX's MathML. */
function proseText(html: string): string {
  return html
    .replace(/<annotation\b[\s\S]*?<\/annotation>/g, ' ') // the TeX source KaTeX keeps for screen readers
    .replace(/<(pre|code)\b[\s\S]*?<\/\1>/g, ' ')
    .replace(/<[^>]*>/g, '')
    .replace(/&amp;/g, '&');
}

describe('handout HTML', function () {
  this.timeout(60_000);
  const keep = process.env.HANDOUT_TEST_OUT;
  const dir = keep ? path.resolve(keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'handout-'));
  const pages: Record<string, string> = {};
  const warnings: Record<string, string[]> = {};
  const file = (name: string) => path.join(dir, `${name}.html`);
  let browser: Browser | undefined;

  function render(name: string, nb: Notebook, extra: Partial<Parameters<typeof renderNotebookHtml>[1]> = {}): string {
    warnings[name] = [];
    const html = renderNotebookHtml(nb, {
      title: notebookTitle(nb) ?? name,
      notebookName: `${name}.ipynb`,
      indexHref: 'index.html',
      profile: 'test',
      builtAt: new Date('2026-11-27T10:00:00Z'),
      warn: (m) => warnings[name]!.push(m),
      ...extra,
    });
    pages[name] = html;
    fs.writeFileSync(file(name), html);
    return html;
  }

  before(async () => {
    fs.mkdirSync(dir, { recursive: true });
    const lecture = loadFixture('lecture-demo');
    render('lecture-demo', lecture, { nextHref: 'plotly-demo.html', nextTitle: 'Attention maps in plotly' });
    render('plotly-demo', loadFixture('plotly-demo'), { prevHref: 'lecture-demo.html' });
    render('broken-vega', loadFixture('broken-vega'));
    // the lecture notebook without its vega-lite outputs: a page that must not carry vega
    const noVega: Notebook = {
      ...lecture,
      cells: lecture.cells.map((c) => ({ ...c, outputs: c.outputs?.filter((o) => !(o.data && VEGALITE in o.data)) })),
    };
    render('no-vega', noVega);
    // an output that (wrongly) loads from the network: the checker has to notice
    render('remote-image', {
      cells: [
        { cell_type: 'markdown', source: '# Remote image', metadata: {} },
        {
          cell_type: 'code',
          source: 'display.html(img)',
          metadata: {},
          outputs: [{ output_type: 'display_data', data: { 'text/html': '<img src="https://example.invalid/logo.png" alt="remote">' }, metadata: {} }],
        },
      ],
    });
    pages.index = renderIndexHtml(
      [
        { href: 'lecture-demo.html', title: notebookTitle(lecture)!, summary: notebookSummary(lecture), ok: true },
        { href: 'plotly-demo.html', title: 'Attention maps in plotly', summary: 'A heatmap of $\\alpha_{ij}$.', ok: true },
        { href: 'broken-vega.html', title: 'A broken figure', summary: 'Fails on purpose.', ok: false, error: 'cell 3: TypeError <boom>' },
      ],
      { title: 'Lecture handouts', builtAt: new Date('2026-11-27T10:00:00Z'), profile: 'test' },
    );
    fs.writeFileSync(file('index'), pages.index);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('as text', () => {
    it('refers to nothing on the network (src/href attributes, CSS url())', () => {
      for (const name of ['lecture-demo', 'plotly-demo', 'broken-vega', 'no-vega', 'index']) {
        const markup = markupOnly(pages[name]!);
        const attrs = [...markup.matchAll(/\s(?:src|href|srcset|xlink:href)\s*=\s*["']?\s*(?:https?:)?\/\/[^"'\s>]*/gi)].map((m) => m[0]);
        const urls = [...markup.matchAll(/url\(\s*["']?\s*(?:https?:)?\/\/[^)]*\)/gi)].map((m) => m[0]);
        const imports = [...markup.matchAll(/@import/gi)].map((m) => m[0]);
        assert.deepEqual([...attrs, ...urls, ...imports], [], `${name} refers to the network`);
        assert.deepEqual(findRemoteReferences(markup), [], name);
        assert.deepEqual(warnings[name] ?? [], [], `${name}: renderer warnings`);
      }
      assert.deepEqual(findRemoteReferences(pages['remote-image']!), ['https://example.invalid/logo.png']);
      assert.ok(warnings['remote-image']!.some((w) => w.includes('https://example.invalid/logo.png')), 'the renderer warns about remote resources');
    });

    it('renders math with KaTeX and protects it from Markdown', () => {
      const html = pages['lecture-demo']!;
      const [intro, scores] = sections(html, 'kit-markdown');
      assert.ok(intro && scores);
      assert.ok((intro.match(/<span class="katex">/g) ?? []).length >= 5, 'inline math in the intro');
      contains(scores, /<div class="kit-math-display"><span class="katex-display">/, 'display math');
      // underscores and asterisks inside math did not become emphasis
      assert.equal((intro.match(/<em>/g) ?? []).length, 1, 'only *emphasis* is emphasis');
      contains(intro, /<em>emphasis<\/em>/);
      contains(intro, /<annotation encoding="application\/x-tex">a_1 \* b_2 \* c_3<\/annotation>/);
      contains(intro, /<annotation encoding="application\/x-tex">x_\{i\}\\_\{j\}<\/annotation>/, '\\(…\\) math');
      // no raw TeX or dollar left in prose, except the prices written as prices
      for (const section of sections(html, 'kit-markdown')) {
        const prose = proseText(section).replace('it costs $5, or $5 and $10 in total', '');
        assert.doesNotMatch(prose, /\$|\\\(|\\\[|_\{|\\frac/, `raw math left in: ${prose}`);
      }
      contains(intro, /it costs \$5, or \$5 and \$10 in total/, 'escaped and lone dollars stay dollars');
      // dollars in code are code, not math
      contains(intro, /<code>\$HOME<\/code> and <code>echo \$PATH<\/code>/);
      contains(scores, /a dollar inside code is not math: \$x_1\$/);
      contains(scores, /<td><code>scores<\/code><\/td>/, 'table rendered');
      // math in outputs: text/markdown and text/latex
      contains(html, /<div class="kit-markdown-output">[\s\S]*?<span class="katex">/);
      contains(html, /<div class="kit-latex"><div class="kit-math-display"><span class="katex-display">/);
    });

    it('finds math the way Jupyter authors write it', () => {
      const tex = (s: string) => extractMath(s).math.map((m) => `${m.display ? 'D' : 'I'}:${m.tex}`);
      assert.deepEqual(tex('$a_1$ and $$b_2$$ and \\(c\\) and \\[d\\] and \\\\(e\\\\)'), ['I:a_1', 'D:b_2', 'I:c', 'D:d', 'I:e']);
      assert.deepEqual(tex('costs $5 and $10, \\$x\\$'), []);
      assert.deepEqual(tex('`$x$` then $y$'), ['I:y']);
      assert.deepEqual(tex('```\n$$z$$\n```\n$w$'), ['I:w']);
      assert.deepEqual(tex('$x$$y$'), ['I:x', 'I:y']);
      assert.deepEqual(tex('$a \\$ b$'), ['I:a \\$ b']);
      assert.deepEqual(tex('\\begin{align} a &= b \\\\ c &= d \\end{align}'), ['D:\\begin{align} a &= b \\\\ c &= d \\end{align}']);
      assert.deepEqual(tex('$a\n\nb$'), [], 'inline math does not cross paragraphs');
    });

    it('renders code, streams and outputs, escaped', () => {
      const html = pages['lecture-demo']!;
      contains(html, /<pre class="kit-source"><code class="hljs language-typescript"><span class="hljs-keyword">import<\/span>/);
      contains(html, /<pre class="kit-stream kit-stdout">epoch 1\/3 \[==========\] 100%\nscores shape: \[ 2, 2 \]<\/pre>/, 'carriage returns applied');
      contains(html, /<pre class="kit-stream kit-stderr"[^>]*>backend: cpu \(slow\) &lt;not&gt; an &amp; error<\/pre>/);
      contains(html, /<div class="kit-html"><table class="demo">/, 'text/html as is');
      contains(html, /<pre class="kit-text">Tensor\n {4}\[\[1, 2\],/);
      const kinds = [...html.matchAll(/<div class="kit-figure" data-kind="([\w-]+)"/g)].map((m) => m[1]);
      assert.deepEqual(kinds, ['vega-lite', 'vega-lite', 'img', 'svg']);
      contains(html, /<img src="data:image\/png;base64,iVBOR/);
      // two inline SVGs may not share ids (vega's clip paths are all "clip1"…)
      const ids = [...markupOnly(html).matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
      assert.equal(new Set(ids).size, ids.length, 'duplicate ids on the page');
      contains(html, /clip-path="url\(#kit-fig-4-clip1\)"/);
      // header
      contains(html, /<title>Attention, computed by hand<\/title>/);
      contains(html, /lecture-demo\.ipynb<\/span><span class="kit-profile">profile: test<\/span><span class="kit-built">built 2026-11-27 10:00 UTC/);
      contains(html, /href="index\.html"/);
      contains(html, /rel="next" href="plotly-demo\.html">Attention maps in plotly →/);
    });

    it('inlines each library once, and only where a figure needs it', () => {
      const count = (page: string) => ({
        vega: libraryCount(pages[page]!, 'vega'),
        vegaLite: libraryCount(pages[page]!, 'vega-lite'),
        vegaEmbed: libraryCount(pages[page]!, 'vega-embed'),
        plotly: libraryCount(pages[page]!, 'plotly'),
      });
      assert.deepEqual(count('lecture-demo'), { vega: 1, vegaLite: 1, vegaEmbed: 1, plotly: 0 });
      assert.deepEqual(count('no-vega'), { vega: 0, vegaLite: 0, vegaEmbed: 0, plotly: 0 });
      assert.deepEqual(count('plotly-demo'), { vega: 0, vegaLite: 0, vegaEmbed: 0, plotly: 1 });
      assert.deepEqual(count('index'), { vega: 0, vegaLite: 0, vegaEmbed: 0, plotly: 0 });
      const size = (p: string) => Buffer.byteLength(pages[p]!);
      const vegaBytes = ['vega', 'vega-lite', 'vega-embed'].reduce((n, a) => n + Buffer.byteLength(scriptAsset(a as ScriptAsset)), 0);
      assert.ok(size('no-vega') < vegaBytes, `no-vega page is ${size('no-vega')} bytes, the vega libraries ${vegaBytes}`);
      assert.ok(size('lecture-demo') - size('no-vega') > vegaBytes, 'the vega page carries the libraries');
      assert.ok(size('plotly-demo') > Buffer.byteLength(scriptAsset('plotly')));
      assert.ok(!pages['no-vega']!.includes('vegaEmbed('), 'no vega page script either');
    });

    it('embeds only the KaTeX fonts a page uses, as woff2 data: URIs', () => {
      const faces = (page: string) => [...new Set([...pages[page]!.matchAll(/@font-face\{[^}]*font-family:"?(KaTeX_\w+)/g)].map((m) => m[1]))].sort();
      assert.deepEqual(faces('plotly-demo'), ['KaTeX_Main', 'KaTeX_Math'], 'only \\alpha_{ij} on that page');
      assert.equal(faces('lecture-demo').length, 12, 'the notation cell uses every family');
      assert.deepEqual(faces('broken-vega'), [], 'no math, no KaTeX stylesheet');
      for (const page of ['plotly-demo', 'lecture-demo']) {
        const srcs = [...pages[page]!.matchAll(/@font-face\{[^}]*?src:(url\([^)]*\)[^;}]*)/g)].map((m) => m[1]!);
        assert.ok(srcs.length > 0 && srcs.every((src) => /^url\(data:font\/woff2;base64,[A-Za-z0-9+/=]+\) format\("woff2"\)$/.test(src)), page);
      }
    });

    it('lists notebooks in order on the index, failures marked', () => {
      const html = pages.index!;
      const hrefs = [...html.matchAll(/<li class="(kit-ok|kit-failed)"><a class="kit-entry-title" href="([^"]+)"/g)].map((m) => `${m[1]} ${m[2]}`);
      assert.deepEqual(hrefs, ['kit-ok lecture-demo.html', 'kit-ok plotly-demo.html', 'kit-failed broken-vega.html']);
      contains(html, /broken-vega\.html">A broken figure<\/a><span class="kit-badge kit-fail">failed<\/span>/);
      contains(html, /cell 3: TypeError &lt;boom&gt;/);
      contains(html, /1 failed/);
      contains(html, /<p class="kit-summary">A query <span class="katex">/, 'summary with math');
      assert.equal(notebookTitle(loadFixture('plotly-demo')), 'Attention maps in plotly');
    });
  });

  describe('in Chromium, offline', () => {
    it('draws every figure of the lecture page with no errors and no network', async () => {
      const check = await checkHandout(file('lecture-demo'), { browser });
      assert.deepEqual(describeProblems(check), []);
      assert.deepEqual(
        check.figures.map((f) => `${f.kind}:${f.rendered}`),
        ['vega-lite:true', 'vega-lite:true', 'img:true', 'svg:true'],
      );
      assert.deepEqual([check.consoleErrors, check.pageErrors, check.blockedRequests, check.failedRequests], [[], [], [], []]);
    });

    it('embeds every KaTeX font the math uses, and the browser loads it', async () => {
      const { value } = await interact(
        file('lecture-demo'),
        async (page) =>
          (await page.evaluate(`document.fonts.ready.then(() => {
            const embedded = new Set([...document.fonts].map((f) => f.family.replace(/["']/g, '')));
            const loaded = new Set([...document.fonts].filter((f) => f.status === 'loaded').map((f) => f.family.replace(/["']/g, '')));
            const used = new Set();
            for (const el of document.querySelectorAll('.katex-html *')) {
              if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
              used.add(getComputedStyle(el).fontFamily.split(',')[0].trim().replace(/["']/g, ''));
            }
            return { used: [...used].sort(), missing: [...used].filter((f) => !embedded.has(f)), notLoaded: [...used].filter((f) => !loaded.has(f)) };
          })`)) as { used: string[]; missing: string[]; notLoaded: string[] },
        { browser },
      );
      assert.ok(value.used.includes('KaTeX_Main') && value.used.includes('KaTeX_Math'), `fonts used: ${value.used}`);
      assert.deepEqual(value.missing, [], 'fonts used but not embedded');
      assert.deepEqual(value.notLoaded, [], 'fonts used but not loaded');
    });

    it('keeps vega-lite interactive: moving the slider redraws the figure', async () => {
      const { value, check } = await interact(
        file('lecture-demo'),
        async (page) => {
          const moved = await setVegaSlider(page, 1, 4);
          const shown = await page.locator('.kit-figure >> nth=1').locator('.vega-bindings input[type=range]').inputValue();
          return { ...moved, shown };
        },
        { browser },
      );
      assert.equal(value.shown, '4');
      assert.ok(value.before.includes('<path') && value.after.includes('<path'));
      assert.notEqual(value.before, value.after, 'the SVG did not change');
      assert.deepEqual(describeProblems(check), []);
    });

    it('draws plotly figures offline', async () => {
      const check = await checkHandout(file('plotly-demo'), { browser });
      assert.deepEqual(describeProblems(check), []);
      assert.deepEqual(check.figures.map((f) => `${f.kind}:${f.rendered}`), ['plotly:true']);
    });

    it('reports a broken vega spec: console error, visible message, static SVG kept', async () => {
      const { value, check } = await interact(
        file('broken-vega'),
        async (page) => ({
          message: await page.locator('.kit-figure >> nth=0').locator('.kit-figure-error').innerText(),
          staticSvg: await page.locator('.kit-figure >> nth=0').locator('.kit-vega > svg').count(),
        }),
        { browser },
      );
      assert.equal(check.consoleErrors.length, 1, `console errors: ${check.consoleErrors}`);
      contains(check.consoleErrors[0]!, /vega-embed failed for figure #kit-fig-1/);
      assert.deepEqual(
        check.figures.map((f) => `${f.kind}:${f.state}:${f.rendered}`),
        ['vega-lite:error:false', 'vega-lite:rendered:true'],
      );
      contains(value.message, /could not be drawn/);
      assert.equal(value.staticSvg, 1, 'the static SVG stays visible');
      assert.ok(describeProblems(check).length >= 2, 'the check fails');
    });

    it('blocks and reports requests that leave the machine', async () => {
      const check = await checkHandout(file('remote-image'), { browser });
      assert.deepEqual(check.blockedRequests, ['https://example.invalid/logo.png']);
      assert.deepEqual(check.failedRequests, [], 'blocked requests are not double-counted as failed');
    });

    it('takes a full-page screenshot', async () => {
      const png = path.join(dir, 'lecture-demo.png');
      const check = await screenshotHandout(file('lecture-demo'), png, { browser });
      assert.deepEqual(describeProblems(check), []);
      const head = fs.readFileSync(png).subarray(0, 24);
      assert.equal(head.subarray(1, 4).toString('ascii'), 'PNG');
      assert.equal(head.readUInt32BE(16), 1200, 'width');
      assert.ok(head.readUInt32BE(20) > 1500, `a full page is tall (got ${head.readUInt32BE(20)})`);
    });
  });
});
