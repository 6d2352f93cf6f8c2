/**
 * Opens handouts in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core) the
 * way a reader would open them from disk with no network, and reports what went wrong:
 * console errors, uncaught page errors, failed requests, and every request that tried to leave
 * the machine (each one is aborted and recorded as blocked). Figures are awaited and checked one
 * by one (vega/vega-lite: vega-embed drew an SVG or canvas; plotly: `.main-svg` exists; static
 * SVG and images: visible / decoded).
 *
 * One browser start costs about a second: pass `{ browser }` (from launchBrowser) or run calls
 * inside `withBrowser(async () => …)` to reuse one browser for many pages. Each page gets a
 * fresh browser context (no cache, no storage shared between pages).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.KIT_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface FigureStatus {
  index: number;
  id: string;
  kind: string;
  /** the page script's view: pending | rendered | error (null for static figures) */
  state: string | null;
  rendered: boolean;
  /** the error text shown on the page, if any */
  error?: string;
}

export interface HandoutCheck {
  consoleErrors: string[];
  consoleWarnings: string[];
  failedRequests: string[];
  blockedRequests: string[];
  figures: FigureStatus[];
  pageErrors: string[];
  /** true when figures were still pending after timeoutMs */
  timedOut: boolean;
  /** time from navigation to all figures settled */
  ms: number;
}

export interface OpenOptions {
  /** a browser to reuse (else the one of an enclosing withBrowser, else a new one for this call) */
  browser?: Browser;
  width?: number;
  height?: number;
  /** how long to wait for figures to finish rendering (default 20 s) */
  timeoutMs?: number;
}

let sharedBrowser: Browser | undefined;

export async function launchBrowser(executablePath = CHROMIUM_PATH): Promise<Browser> {
  if (!fs.existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath} (Debian: apt-get install -y chromium; or set KIT_CHROMIUM)`);
  }
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
}

/** Runs fn with one browser that every call inside it reuses; closes it afterwards. */
export async function withBrowser<T>(fn: (browser: Browser) => Promise<T>): Promise<T> {
  const browser = await launchBrowser();
  const previous = sharedBrowser;
  sharedBrowser = browser;
  try {
    return await fn(browser);
  } finally {
    sharedBrowser = previous;
    await browser.close();
  }
}

const LOCAL_URL = /^(file|data|blob|about):/i;

/** An open handout page, recording everything from before navigation on. */
export interface HandoutSession {
  page: Page;
  context: BrowserContext;
  /** waits for figures (again) and returns the check so far */
  check(): Promise<HandoutCheck>;
  close(): Promise<void>;
}

// In-page code is a string: tsx/esbuild wrap named functions in a `__name` helper that does
// not exist in the page, so functions handed to page.evaluate must not contain any.
const FIGURE_STATUS_JS = `(() => {
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  return Array.from(document.querySelectorAll('.kit-figure')).map((fig, index) => {
    const kind = fig.getAttribute('data-kind') || '';
    const state = fig.getAttribute('data-state');
    const errorEl = fig.querySelector('.kit-figure-error');
    let rendered = false;
    if (kind === 'vega-lite' || kind === 'vega') {
      const out = fig.querySelector('.vega-embed svg, .vega-embed canvas');
      const drawn = !!out && (out.tagName.toLowerCase() === 'canvas' || out.querySelector('g') !== null);
      rendered = state === 'rendered' && drawn && visible(out);
    } else if (kind === 'plotly') {
      const out = fig.querySelector('.main-svg');
      rendered = state === 'rendered' && !!out && visible(out);
    } else if (kind === 'svg') {
      const out = fig.querySelector('svg');
      rendered = !!out && visible(out);
    } else if (kind === 'img') {
      const out = fig.querySelector('img');
      rendered = !!out && out.complete && out.naturalWidth > 0;
    }
    const status = { index, id: fig.id, kind, state, rendered };
    if (errorEl && errorEl.textContent) status.error = errorEl.textContent;
    return status;
  });
})()`;

async function figureStatuses(page: Page): Promise<FigureStatus[]> {
  return (await page.evaluate(FIGURE_STATUS_JS)) as FigureStatus[];
}

/**
 * Opens a handout in a fresh context with every non-local request aborted (and recorded).
 * The caller must close() the session.
 */
export async function openHandout(htmlPath: string, opts: OpenOptions = {}): Promise<HandoutSession> {
  const own = !opts.browser && !sharedBrowser;
  const browser = opts.browser ?? sharedBrowser ?? (await launchBrowser());
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const rec = {
    consoleErrors: [] as string[],
    consoleWarnings: [] as string[],
    failedRequests: [] as string[],
    blockedRequests: [] as string[],
    pageErrors: [] as string[],
  };
  let context: BrowserContext | undefined;
  try {
    context = await browser.newContext({
      viewport: { width: opts.width ?? 1200, height: opts.height ?? 900 },
      serviceWorkers: 'block',
      acceptDownloads: false,
    });
    const blocked = new Set<string>();
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (LOCAL_URL.test(url)) return route.continue();
      blocked.add(url);
      rec.blockedRequests.push(url);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    page.on('console', (msg) => {
      const where = msg.location();
      const at = where?.url ? ` (${path.basename(where.url)}:${where.lineNumber})` : '';
      if (msg.type() === 'error') rec.consoleErrors.push(msg.text() + at);
      else if (msg.type() === 'warning') rec.consoleWarnings.push(msg.text());
    });
    page.on('pageerror', (err) => rec.pageErrors.push(err.stack ?? err.message));
    page.on('requestfailed', (req) => {
      if (blocked.has(req.url())) return; // already reported as blocked
      rec.failedRequests.push(`${req.url()}: ${req.failure()?.errorText ?? 'failed'}`);
    });

    const started = Date.now();
    await page.goto(pathToFileURL(path.resolve(htmlPath)).href, { waitUntil: 'load', timeout: timeoutMs });

    const check = async (): Promise<HandoutCheck> => {
      let timedOut = false;
      try {
        await page.waitForFunction(`document.querySelectorAll('.kit-figure[data-state="pending"]').length === 0`, undefined, {
          timeout: timeoutMs,
          polling: 50,
        });
      } catch {
        timedOut = true;
      }
      const figures = await figureStatuses(page);
      return {
        consoleErrors: [...rec.consoleErrors],
        consoleWarnings: [...rec.consoleWarnings],
        failedRequests: [...rec.failedRequests],
        blockedRequests: [...rec.blockedRequests],
        figures,
        pageErrors: [...rec.pageErrors],
        timedOut,
        ms: Date.now() - started,
      };
    };
    const ctx = context;
    return {
      page,
      context: ctx,
      check,
      close: async () => {
        await ctx.close();
        if (own) await browser.close();
      },
    };
  } catch (e) {
    await context?.close().catch(() => {});
    if (own) await browser.close().catch(() => {});
    throw e;
  }
}

/** Opens a handout offline, waits for its figures, and reports what went wrong. */
export async function checkHandout(htmlPath: string, opts: OpenOptions = {}): Promise<HandoutCheck> {
  const session = await openHandout(htmlPath, opts);
  try {
    return await session.check();
  } finally {
    await session.close();
  }
}

/** Screenshot of a handout once its figures are drawn and fonts loaded; returns the check too. */
export async function screenshotHandout(
  htmlPath: string,
  pngPath: string,
  opts: OpenOptions & { fullPage?: boolean } = {},
): Promise<HandoutCheck> {
  const session = await openHandout(htmlPath, { ...opts, width: opts.width ?? 1200 });
  try {
    const result = await session.check();
    await session.page.evaluate('document.fonts.ready.then(() => true)');
    fs.mkdirSync(path.dirname(path.resolve(pngPath)), { recursive: true });
    await session.page.screenshot({ path: pngPath, fullPage: opts.fullPage ?? true });
    return result;
  } finally {
    await session.close();
  }
}

/**
 * Opens a handout, waits for its figures, runs fn on the page (move a slider, hover a bar …),
 * and returns fn's value with the check taken afterwards (so errors caused by fn count).
 */
export async function interact<T>(
  htmlPath: string,
  fn: (page: Page, session: HandoutSession) => Promise<T>,
  opts: OpenOptions = {},
): Promise<{ value: T; check: HandoutCheck }> {
  const session = await openHandout(htmlPath, opts);
  try {
    await session.check();
    const value = await fn(session.page, session);
    return { value, check: await session.check() };
  } finally {
    await session.close();
  }
}

/** Selector of the index-th figure (0-based, in page order) or of the figure with that id. */
export function figureSelector(figure: number | string): string {
  return typeof figure === 'number' ? `.kit-figure >> nth=${figure}` : `#${figure}`;
}

/** The SVG vega-embed drew for a figure (outerHTML), or null. */
export async function vegaSvg(page: Page, figure: number | string): Promise<string | null> {
  const fig = page.locator(figureSelector(figure));
  const svg = fig.locator('.vega-embed svg').first();
  return (await svg.count()) ? svg.evaluate((el) => el.outerHTML) : null;
}

/**
 * Sets a vega binding slider (input[type=range] inside .vega-bindings) of a figure and waits
 * until the figure's SVG changed. `name` picks one slider by its parameter name. Returns the
 * SVG before and after.
 */
export async function setVegaSlider(
  page: Page,
  figure: number | string,
  value: number,
  opts: { name?: string; timeoutMs?: number } = {},
): Promise<{ before: string; after: string }> {
  const fig = page.locator(figureSelector(figure));
  const inputs = fig.locator(
    opts.name ? `.vega-bindings input[type=range][name="${opts.name}"]` : '.vega-bindings input[type=range]',
  );
  const before = (await vegaSvg(page, figure)) ?? '';
  await inputs.first().fill(String(value));
  const handle = await fig.elementHandle();
  await page.waitForFunction(
    ([el, prev]) => {
      const svg = (el as Element | null)?.querySelector('.vega-embed svg');
      return !!svg && svg.outerHTML !== prev;
    },
    [handle, before] as const,
    { timeout: opts.timeoutMs ?? 5_000, polling: 50 },
  );
  const after = (await vegaSvg(page, figure)) ?? '';
  return { before, after };
}

/** One line per problem, for assertion messages and build logs; empty when the page is clean. */
export function describeProblems(check: HandoutCheck): string[] {
  const out: string[] = [];
  for (const e of check.consoleErrors) out.push(`console error: ${e}`);
  for (const e of check.pageErrors) out.push(`page error: ${e}`);
  for (const r of check.blockedRequests) out.push(`blocked request (network): ${r}`);
  for (const r of check.failedRequests) out.push(`failed request: ${r}`);
  for (const f of check.figures) if (!f.rendered) out.push(`figure ${f.index + 1} (${f.kind}, #${f.id}) not rendered${f.error ? `: ${f.error}` : ''}`);
  if (check.timedOut) out.push('figures still pending when the wait timed out');
  return out;
}
