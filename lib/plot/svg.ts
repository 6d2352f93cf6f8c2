import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

/**
 * Static SVG for a vega-lite spec, made in Node (no browser, no canvas): the fallback a handout
 * or a viewer without vega-lite support shows, and what tests inspect. Interactive parts
 * (sliders, hover) render in their initial state.
 */

function newView(spec: TopLevelSpec): vega.View {
  // renderer 'none': Node has no canvas; the SVG is built from the scenegraph instead.
  return new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none', logLevel: vega.Warn });
}

/** vega's own (async) route: the reference the synchronous one is tested against. */
export async function specToSvg(spec: TopLevelSpec): Promise<string> {
  const view = newView(spec);
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

interface ViewInternals {
  _viewWidth: number;
  _viewHeight: number;
  _origin: [number, number];
}
type StringRenderer = {
  initialize(el: null, width: number, height: number, origin: [number, number]): StringRenderer;
  background(color: unknown): StringRenderer;
  render(scene: unknown): StringRenderer;
  svg(): string;
};

/**
 * Synchronous twin of `specToSvg` (same bytes), so `show(spec)` needs no `await`: tslab does not
 * await a cell's last expression, and a figure sent after its cell finished would be lost.
 * It repeats what vega's `toSVG` does after `runAsync`, which is safe for inline data (no loads).
 */
export function specToSvgSync(spec: TopLevelSpec): string {
  const view = newView(spec);
  try {
    view.run();
    const internals = view as unknown as ViewInternals;
    const pad = view.padding() as { left: number; right: number; top: number; bottom: number };
    if (typeof internals._viewWidth !== 'number' || !Array.isArray(internals._origin)) {
      throw new Error('specToSvgSync: this vega version changed its View internals; use `await specToSvg(spec)`');
    }
    const Renderer = (vega as unknown as { SVGStringRenderer: new (loader: unknown) => StringRenderer }).SVGStringRenderer;
    const renderer = new Renderer(view.loader())
      .initialize(null,
        Math.max(0, internals._viewWidth + pad.left + pad.right),
        Math.max(0, internals._viewHeight + pad.top + pad.bottom),
        [pad.left + internals._origin[0], pad.top + internals._origin[1]])
      .background(view.background());
    renderer.render((view.scenegraph() as unknown as { root: unknown }).root);
    return renderer.svg();
  } finally {
    view.finalize();
  }
}
