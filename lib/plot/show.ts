import type { TopLevelSpec } from 'vega-lite';
import { specToSvgSync } from './svg';
import { serializeKernelSends } from './kernel-sends';

// Inside a tslab kernel: one kernel message at a time (see kernel-sends.ts).
serializeKernelSends();

/**
 * The one module that talks to the kernel. Helpers elsewhere build figures (pure functions that
 * return a spec); `show` turns a spec into a Jupyter mime bundle and sends it:
 *   - vega-lite: { vega-lite v5 JSON, static SVG rendered in Node, text/plain }. JupyterLab renders
 *     the JSON (interactive: sliders, hover); the handout builder renders the same JSON with an
 *     inlined vega-embed and keeps the SVG as its no-script fallback.
 *   - plotly: { plotly JSON, text/plain }; the handout builder inlines plotly.js once per page.
 *     (JupyterLab shows it with the jupyterlab-plotly extension; see environment.md.)
 */

export const VEGA_LITE_MIME = 'application/vnd.vegalite.v5+json';
export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

export interface PlotlyFigure {
  data: object[];
  layout?: object;
  config?: object;
  frames?: object[];
}
export type Figure = TopLevelSpec | PlotlyFigure;
export type MimeBundle = Record<string, unknown>;

export function isPlotlyFigure(figure: Figure): figure is PlotlyFigure {
  return Array.isArray((figure as PlotlyFigure).data) && !('mark' in figure) && !('$schema' in figure);
}

export function titleOf(figure: Figure): string {
  const title = isPlotlyFigure(figure)
    ? (figure.layout as { title?: string | { text?: string } } | undefined)?.title
    : (figure as { title?: unknown }).title;
  if (typeof title === 'string') return title;
  if (Array.isArray(title)) return title.join(' ');
  if (title && typeof title === 'object' && 'text' in title) {
    const text = (title as { text?: unknown }).text;
    return Array.isArray(text) ? text.join(' ') : String(text ?? '');
  }
  return 'untitled figure';
}

/** The mime bundle `show` sends: what a figure looks like to Jupyter and to the handout builder. */
export function figureBundle(figure: Figure): MimeBundle {
  const text = `Figure: ${titleOf(figure)}`;
  if (isPlotlyFigure(figure)) return { [PLOTLY_MIME]: figure, 'text/plain': text };
  const spec: TopLevelSpec = { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', ...figure };
  return { [VEGA_LITE_MIME]: spec, 'image/svg+xml': specToSvgSync(spec), 'text/plain': text };
}

type WriteDisplayData = (data: { data: MimeBundle; metadata: object; transient: { display_id?: string } }, update: boolean) => void;

/** tslab's writer for the running cell, or null outside a kernel (tests, scripts). */
function kernelWriter(): WriteDisplayData | null {
  try {
    // tslab's public display API sends one mime type per call; a bundle (so JupyterLab can pick
    // vega-lite and everything else can fall back to SVG) needs the writer it uses internally.
    const jupyter = require('tslab/dist/jupyter') as { lastWriteDisplayData: WriteDisplayData | null };
    return jupyter.lastWriteDisplayData;
  } catch {
    return null;
  }
}

let displayCounter = 0;
function newDisplayId(): string {
  // Not Math.random: setup() seeds it, and a re-run must not reuse an earlier cell's display id.
  return `kit-${process.pid}-${Date.now().toString(36)}-${++displayCounter}`;
}

function send(bundle: MimeBundle, displayId: string | undefined, update: boolean): void {
  const write = kernelWriter();
  if (write === null) {
    // Outside Jupyter nothing can draw: say so instead of silently dropping the figure.
    console.log(`${String(bundle['text/plain'] ?? 'output')} (not shown: run this in a Jupyter kernel to see it)`);
    return;
  }
  write({ data: bundle, metadata: {}, transient: displayId ? { display_id: displayId } : {} }, update);
}

/** Shows a figure in the notebook: `show(spec)`. */
export function show(figure: Figure): void {
  send(figureBundle(figure), undefined, false);
}

/** Shows markdown (rendered by Jupyter and by the handout builder, math included). */
export function showMarkdown(markdown: string): void {
  send({ 'text/markdown': markdown, 'text/plain': markdown }, undefined, false);
}

/** A display that later calls overwrite in place: live progress and loss curves. */
export interface LiveDisplay {
  figure(figure: Figure): void;
  markdown(markdown: string): void;
  text(text: string): void;
}

export function liveDisplay(): LiveDisplay {
  const id = newDisplayId();
  let shown = false;
  const put = (bundle: MimeBundle) => { send(bundle, id, shown); shown = true; };
  return {
    figure: (figure) => put(figureBundle(figure)),
    markdown: (markdown) => put({ 'text/markdown': markdown, 'text/plain': markdown }),
    text: (text) => put({ 'text/plain': text }),
  };
}
