/**
 * The figures of lecture sections 1 and 3 as vega-lite specs (pure functions: data first, options
 * second; `show(spec)` displays them). Pictures are PNG image marks (lib/plot/image), with boxes,
 * labels and legends drawn as vega-lite marks on top.
 */
import type { TopLevelSpec } from 'vega-lite';
import type * as tf from '@tensorflow/tfjs';
import { imageDataUrl } from '../plot/image';
import { roles, seriesColors } from '../plot/colors';
import { VEGA_LITE_SCHEMA, figureTitle, formatNumber, heatmap, round } from '../plot/specs';
import { SEG_CLASS_NAMES, type Scene } from './scenes';
import type { SegmentationScores } from './metrics';

type Row = Record<string, string | number | boolean | null>;
type Rgb = [number, number, number];

// ---------------------------------------------------------------------------------------------
// colours
// ---------------------------------------------------------------------------------------------

/**
 * Class colours: background near-black, the ten digits in a categorical palette (Tableau 10,
 * distinguishable in most colour-vision deficiencies when read with the legend's labels).
 */
export const SEG_CLASS_COLORS: readonly string[] = [
  '#1A1A1A', '#4E79A7', '#F28E2B', '#E15759', '#76B7B2', '#59A14F', '#EDC948', '#B07AA1', '#FF9DA7', '#9C755F', '#BAB0AC',
];

const INSTANCE_COLORS: readonly string[] = ['#1A1A1A', '#E69F00', '#56B4E9', '#009E73', '#F0E442', '#0072B2', '#D55E00', '#CC79A7', '#FFFFFF'];

function hexToRgb(hex: string): Rgb {
  const n = parseInt(hex.slice(1), 16);
  return [((n >> 16) & 255) / 255, ((n >> 8) & 255) / 255, (n & 255) / 255];
}

/** Class labels (flat, size×size) as an RGB picture in the class colours. */
export function labelPixels(labels: ArrayLike<number>, size: number, colors: readonly string[] = SEG_CLASS_COLORS): number[][][] {
  if (labels.length !== size * size) throw new Error(`expected ${size}×${size} labels, got ${labels.length}`);
  const rgb = colors.map(hexToRgb);
  return Array.from({ length: size }, (_, r) => Array.from({ length: size }, (__, c) => {
    const v = labels[r * size + c];
    return rgb[v] ?? [1, 1, 1];
  }));
}

/** A grey image (flat, size×size, values in [0, 1]) as rows. */
export function greyPixels(image: ArrayLike<number>, size: number): number[][] {
  if (image.length !== size * size) throw new Error(`expected ${size}×${size} values, got ${image.length}`);
  return Array.from({ length: size }, (_, r) => Array.from({ length: size }, (__, c) => image[r * size + c]));
}

/** Instance ids as an RGB picture (0 = background). */
export function instancePixels(instances: ArrayLike<number>, size: number): number[][][] {
  return labelPixels(Array.from(instances, (v) => (v === 0 ? 0 : 1 + ((v - 1) % (INSTANCE_COLORS.length - 1)))), size, INSTANCE_COLORS);
}

/** Where a prediction is wrong: white, right: black (flat, size×size). */
export function errorPixels(truth: ArrayLike<number>, predicted: ArrayLike<number>, size: number): number[][] {
  return Array.from({ length: size }, (_, r) => Array.from({ length: size }, (__, c) => (truth[r * size + c] === predicted[r * size + c] ? 0 : 1)));
}

// ---------------------------------------------------------------------------------------------
// picture panels with overlays
// ---------------------------------------------------------------------------------------------

export interface PicturePanel {
  title: string;
  /** [h][w] grey in `domain` or [h][w][3] RGB in [0, 1]. */
  pixels: number[][] | number[][][];
  /** Boxes in pixel coordinates (x1, y1 exclusive), with an optional label. */
  boxes?: { x0: number; y0: number; x1: number; y1: number; label?: string; color?: string }[];
  /** Grey value range. Default [0, 1]. */
  domain?: [number, number];
}

function panelSpec(panel: PicturePanel, pixelSize: number) {
  const h = panel.pixels.length;
  const w = panel.pixels[0]?.length ?? 0;
  const width = w * pixelSize;
  const height = h * pixelSize;
  const x = { field: 'x', type: 'quantitative' as const, scale: { domain: [0, w], range: [0, width], nice: false, zero: false }, axis: null };
  const y = { field: 'y', type: 'quantitative' as const, scale: { domain: [0, h], range: [0, height], nice: false, zero: false }, axis: null };
  const layers: object[] = [{
    data: { values: [{ url: imageDataUrl(panel.pixels, panel.domain ?? [0, 1]), x: 0, y: 0 }] },
    mark: { type: 'image', width, height, align: 'left', baseline: 'top', smooth: false },
    encoding: { url: { field: 'url', type: 'nominal' }, x, y },
  }];
  const boxes = panel.boxes ?? [];
  if (boxes.length > 0) {
    const rows: Row[] = boxes.map((b, i) => ({ x: b.x0, y: b.y0, x2: b.x1, y2: b.y1, label: b.label ?? '', color: b.color ?? seriesColors[i % seriesColors.length] }));
    layers.push({
      data: { values: rows },
      mark: { type: 'rect', filled: false, strokeWidth: 2 },
      encoding: { x, y, x2: { field: 'x2' }, y2: { field: 'y2' }, stroke: { field: 'color', type: 'nominal', scale: null } },
    });
    layers.push({
      data: { values: rows.filter((r) => r.label !== '') },
      mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 1, dy: -1, fontSize: 12, fontWeight: 'bold' },
      encoding: { x, y, text: { field: 'label', type: 'nominal' }, fill: { field: 'color', type: 'nominal', scale: null } },
    });
  }
  return { title: { text: panel.title, fontSize: 12 }, width, height, layer: layers };
}

function classLegend(classes: number[]): object {
  const rows = classes.map((c, i) => ({ i, name: SEG_CLASS_NAMES[c] === 'background' ? 'background' : `digit ${SEG_CLASS_NAMES[c]}`, color: SEG_CLASS_COLORS[c] }));
  return {
    title: { text: 'classes', fontSize: 12 },
    width: 105,
    height: rows.length * 16,
    data: { values: rows },
    layer: [
      { mark: { type: 'square', size: 110 }, encoding: { x: { value: 8 }, y: { field: 'i', type: 'ordinal', axis: null }, fill: { field: 'color', type: 'nominal', scale: null } } },
      { mark: { type: 'text', align: 'left', dx: 18, fontSize: 11 }, encoding: { x: { value: 0 }, y: { field: 'i', type: 'ordinal', axis: null }, text: { field: 'name', type: 'nominal' } } },
    ],
  };
}

export interface PictureGridOptions {
  title?: string;
  subtitle?: string | string[];
  pixelSize?: number;
  /** Show the class colour legend (for label maps). Default false. */
  legend?: boolean;
}

/** Rows of pictures (each row an array of panels), optionally with a class-colour legend. */
export function pictureGrid(rows: PicturePanel[][], options: PictureGridOptions = {}): TopLevelSpec {
  if (rows.length === 0 || rows.some((r) => r.length === 0)) throw new Error('pictureGrid needs at least one non-empty row of pictures');
  const px = options.pixelSize ?? 3;
  const grid = { vconcat: rows.map((r) => ({ hconcat: r.map((p) => panelSpec(p, px)), spacing: 10 })), spacing: 12 };
  const body = options.legend ? { hconcat: [grid, classLegend(SEG_CLASS_NAMES.map((_, i) => i))], spacing: 20 } : grid;
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? '', options.subtitle),
    config: { view: { stroke: null } },
    ...body,
  } as TopLevelSpec;
}

/**
 * The four tasks of lecture section 1 on one scene: classification + localisation (the largest
 * digit: its class and box), detection (every digit's box and class), semantic segmentation
 * (a colour per class: touching digits of one class merge) and instance segmentation (a colour per
 * object).
 */
export function visionTasksFigure(scene: Scene, options: { title?: string; pixelSize?: number } = {}): TopLevelSpec {
  if (scene.boxes.length === 0) throw new Error('visionTasksFigure needs a scene with at least one digit');
  const s = scene.size;
  const grey = greyPixels(scene.image, s);
  const area = (b: Scene['boxes'][number]) => (b.x1 - b.x0) * (b.y1 - b.y0);
  const main = [...scene.boxes].sort((a, b) => area(b) - area(a))[0];
  return pictureGrid([[
    { title: `classification + localisation: "${main.digit}"`, pixels: grey, boxes: [{ ...main, label: String(main.digit), color: '#E69F00' }] },
    { title: 'object detection', pixels: grey, boxes: scene.boxes.map((b, i) => ({ ...b, label: String(b.digit), color: INSTANCE_COLORS[1 + (i % (INSTANCE_COLORS.length - 2))] })) },
    { title: 'semantic segmentation', pixels: labelPixels(scene.labels, s) },
    { title: 'instance segmentation', pixels: instancePixels(scene.instances, s) },
  ]], {
    title: options.title ?? 'Four vision tasks on one scene',
    subtitle: ['semantic segmentation labels every pixel with its class (touching digits of one class are one region);',
      'instance segmentation also separates the objects (each digit its own colour)'],
    pixelSize: options.pixelSize ?? 3,
    legend: true,
  });
}

// ---------------------------------------------------------------------------------------------
// scores
// ---------------------------------------------------------------------------------------------

/** Per-class IoU bars, one colour per model, with each model's mean IoU in the legend. */
export function iouBarsFigure(models: { name: string; scores: SegmentationScores }[], options: { title?: string; subtitle?: string | string[] } = {}): TopLevelSpec {
  if (models.length === 0) throw new Error('iouBarsFigure needs at least one model');
  const names = models.map((m) => `${m.name} (mIoU ${formatNumber(m.scores.meanIou, 3)})`);
  const rows = models.flatMap((m, k) => m.scores.iou.map((v, c) => ({
    model: names[k], cls: SEG_CLASS_NAMES[c] ?? String(c), order: c, iou: Number.isNaN(v) ? null : round(v, 4),
  })));
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? 'IoU per class on held-out scenes', options.subtitle),
    data: { values: rows },
    width: { step: 14 },
    height: 220,
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'cls', type: 'nominal', sort: { field: 'order' }, title: 'class', axis: { labelAngle: 0 } },
      xOffset: { field: 'model', type: 'nominal', sort: names },
      y: { field: 'iou', type: 'quantitative', title: 'IoU', scale: { domain: [0, 1] } },
      color: { field: 'model', type: 'nominal', sort: names, scale: { domain: names, range: names.map((_, i) => seriesColors[i % seriesColors.length]) }, legend: { orient: 'bottom', direction: 'vertical', title: null } },
      tooltip: [{ field: 'model', type: 'nominal' }, { field: 'cls', type: 'nominal', title: 'class' }, { field: 'iou', type: 'quantitative', format: '.3f' }],
    },
  } as TopLevelSpec;
}

/** The confusion matrix, each row normalised to the fraction of that true class's pixels. */
export function confusionFigure(scores: SegmentationScores, options: { title?: string; subtitle?: string | string[] } = {}): TopLevelSpec {
  const rows = scores.confusion.map((row) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((v) => (total === 0 ? 0 : v / total));
  });
  return heatmap(rows, {
    title: options.title ?? 'Confusion matrix (rows: true class, normalised)',
    subtitle: options.subtitle,
    xLabel: 'predicted class',
    yLabel: 'true class',
    xTickLabels: [...SEG_CLASS_NAMES],
    yTickLabels: [...SEG_CLASS_NAMES],
    colorScheme: 'blues',
    colorLabel: 'fraction of row',
    domain: [0, 1],
    showValues: true,
    digits: 2,
    cellSize: 34,
    valueLabel: (v) => (v < 0.005 ? '' : formatNumber(v, 2)),
  });
}

/** Seconds against pixels for the two labellers, log–log, with the ratio in the tooltip. */
export function labellingCostFigure(points: { size: number; sliding: number; fcn: number }[], options: { title?: string; subtitle?: string | string[] } = {}): TopLevelSpec {
  if (points.length === 0) throw new Error('labellingCostFigure needs at least one measured size');
  const rows = points.flatMap((p) => [
    { pixels: p.size * p.size, side: `${p.size}×${p.size}`, method: 'sliding window (patch by patch)', seconds: round(p.sliding, 6), ratio: round(p.sliding / p.fcn, 1) },
    { pixels: p.size * p.size, side: `${p.size}×${p.size}`, method: 'fully convolutional (one pass)', seconds: round(p.fcn, 6), ratio: round(p.sliding / p.fcn, 1) },
  ]);
  const methods = ['sliding window (patch by patch)', 'fully convolutional (one pass)'];
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? 'Cost of labelling every pixel', options.subtitle),
    width: 460,
    height: 280,
    data: { values: rows },
    layer: [
      {
        mark: { type: 'line', point: { size: 50 }, strokeWidth: 2 },
        encoding: {
          x: { field: 'pixels', type: 'quantitative', scale: { type: 'log' }, title: 'pixels in the image (log)', axis: { format: '~s', tickCount: 5 } },
          y: { field: 'seconds', type: 'quantitative', scale: { type: 'log' }, title: 'seconds (median, log)' },
          color: { field: 'method', type: 'nominal', scale: { domain: methods, range: [seriesColors[1], seriesColors[0]] }, legend: { orient: 'bottom', title: null } },
          tooltip: [{ field: 'side', type: 'nominal', title: 'image' }, { field: 'method', type: 'nominal' },
            { field: 'seconds', type: 'quantitative', format: '.4f' }, { field: 'ratio', type: 'quantitative', title: 'sliding / fcn' }],
        },
      },
      {
        transform: [{ filter: `datum.method === '${methods[0]}'` }],
        mark: { type: 'text', dy: -12, fontSize: 11, color: roles.muted },
        encoding: {
          x: { field: 'pixels', type: 'quantitative' },
          y: { field: 'seconds', type: 'quantitative' },
          text: { field: 'ratio', type: 'quantitative', format: '.0f' },
        },
      },
    ],
  } as TopLevelSpec;
}

// ---------------------------------------------------------------------------------------------
// network diagram
// ---------------------------------------------------------------------------------------------

export interface NetworkNode {
  name: string;
  /** [height, width, channels] of its output. */
  shape: [number, number, number];
  /** What the layer does, one short phrase. */
  op: string;
  /** Names of the nodes it reads. */
  inputs: string[];
}

const OP_NAMES: Record<string, (cfg: Record<string, unknown>) => string> = {
  Conv2D: (c) => `conv ${(c.kernelSize as number[])[0]}×${(c.kernelSize as number[])[1]}${(c.strides as number[])[0] > 1 ? ` /${(c.strides as number[])[0]}` : ''}`,
  Conv2DTranspose: (c) => `up ×${(c.strides as number[])[0]} + tconv ${(c.kernelSize as number[])[0]}×${(c.kernelSize as number[])[1]}`,
  MaxPooling2D: () => 'pool /2',
  MaxPoolWithSwitches: () => 'pool /2 + switches',
  MaxUnpool: () => 'unpool ×2',
  Add: () => 'sum',
  Concatenate: () => 'concat',
  BatchNormalization: () => 'batch norm',
  ReLU: () => 'ReLU',
  UpSampling2D: (c) => `bilinear ×${(c.size as number[])[0]}`,
  PyramidDown: () => 'blur + /2',
  InputLayer: () => 'input',
  Flatten: () => 'flatten',
  Dense: () => 'dense',
  GlobalAveragePooling2D: () => 'average',
};

/**
 * The layers of a tf.LayersModel with their output shapes and inputs, for `networkDiagram`, in an
 * order that keeps each branch together (depth first). A layer applied several times (shared
 * weights) gives one node per application, named layer[0], layer[1], …. Activation and batch-norm
 * layers are folded into the layer they follow.
 */
export function networkNodes(model: tf.LayersModel): NetworkNode[] {
  type Raw = { key: string; layerIndex: number; cls: string; cfg: Record<string, unknown>; shape: (number | null)[]; inputs: string[] };
  const raws: Raw[] = [];
  model.layers.forEach((layer, layerIndex) => {
    const nodes = layer.inboundNodes;
    nodes.forEach((node, j) => {
      const key = nodes.length === 1 ? layer.name : `${layer.name}[${j}]`;
      const inputs = node.inboundLayers.map((l, k) => (l.inboundNodes.length === 1 ? l.name : `${l.name}[${node.nodeIndices[k]}]`));
      const shape = (Array.isArray(node.outputShapes[0]) ? node.outputShapes[0] : node.outputShapes) as (number | null)[];
      raws.push({ key, layerIndex, cls: layer.getClassName(), cfg: layer.getConfig() as Record<string, unknown>, shape, inputs });
    });
  });
  // a Sequential model lists no input layer: add one for the diagram
  const known = new Set(raws.map((r) => r.key));
  for (const r of raws) {
    for (const i of r.inputs) {
      if (known.has(i)) continue;
      raws.unshift({ key: i, layerIndex: -1, cls: 'InputLayer', cfg: {}, shape: model.inputs[0].shape, inputs: [] });
      known.add(i);
    }
  }
  // depth-first order: a node as soon as its inputs are placed, following the branch just placed
  const byKey = new Map(raws.map((r) => [r.key, r]));
  const consumers = new Map<string, Raw[]>();
  const waiting = new Map<string, number>();
  for (const r of raws) {
    waiting.set(r.key, r.inputs.length);
    for (const i of r.inputs) consumers.set(i, [...(consumers.get(i) ?? []), r]);
  }
  const stack = raws.filter((r) => r.inputs.length === 0).reverse();
  const ordered: Raw[] = [];
  while (stack.length > 0) {
    const r = stack.pop() as Raw;
    ordered.push(r);
    const next = (consumers.get(r.key) ?? []).filter((c) => {
      const left = (waiting.get(c.key) ?? 0) - 1;
      waiting.set(c.key, left);
      return left === 0;
    });
    next.sort((a, b) => b.layerIndex - a.layerIndex).forEach((c) => stack.push(c));
  }
  const fold = new Map<string, string>();
  const out: NetworkNode[] = [];
  for (const r of ordered) {
    const inputs = r.inputs.map((i) => fold.get(i) ?? i);
    if ((r.cls === 'ReLU' || r.cls === 'BatchNormalization') && inputs.length === 1) {
      fold.set(r.key, inputs[0]);
      const host = out.find((n) => n.name === inputs[0]);
      if (host) host.op += r.cls === 'ReLU' ? ' + ReLU' : ' + BN';
      continue;
    }
    let op = OP_NAMES[r.cls]?.(r.cfg) ?? r.cls;
    if (r.cfg.activation === 'relu') op += ' + ReLU';
    const dims = r.shape.slice(1);
    const shape = (dims.length === 1 ? [1, 1, dims[0]] : dims) as [number, number, number];
    out.push({ name: r.key, shape, op, inputs });
  }
  if (byKey.size !== ordered.length) throw new Error('networkNodes: the model graph has a cycle or unreachable layers');
  return out;
}

/**
 * Rows and columns of a network made of parallel branches (a multi-scale network): a layer named
 * `…[k]` (a shared layer applied to branch k) or ending in the digit k (`pyramid1`, `up_s2`) sits in
 * row k, in the column of its kind (the order kinds first appear); the layers before the branches
 * sit in column 0 and the ones after them (concat, classifier) in the middle row.
 */
function branchLayout(nodes: NetworkNode[]): Map<string, { row: number; col: number }> {
  const parse = (name: string) => {
    const bracket = /^(.*)\[(\d+)\]$/.exec(name);
    if (bracket) return { kind: bracket[1], branch: Number(bracket[2]) };
    const digit = /^(.*?)(\d+)$/.exec(name);
    return digit ? { kind: digit[1], branch: Number(digit[2]) } : { kind: name, branch: null };
  };
  const parsed = nodes.map((n) => parse(n.name));
  const rows = Math.max(0, ...parsed.map((p) => p.branch ?? 0)) + 1;
  const firstBranch = parsed.findIndex((p) => p.branch !== null);
  // A pyramid (branch-numbered downsampling layers) is drawn under the input, in column 0.
  const isPyramid = (i: number) => parsed[i].branch !== null && nodes[i].op.includes('/2') && nodes[i].shape[2] === nodes[0].shape[2];
  const kinds: string[] = [];
  const out = new Map<string, { row: number; col: number }>();
  nodes.forEach((n, i) => {
    const p = parsed[i];
    if (p.branch === null && (firstBranch < 0 || i < firstBranch)) out.set(n.name, { row: 0, col: 0 });
    else if (isPyramid(i)) out.set(n.name, { row: p.branch!, col: 0 });
    else {
      if (!kinds.includes(p.kind)) kinds.push(p.kind);
      out.set(n.name, { row: p.branch ?? Math.floor((rows - 1) / 2), col: 1 + kinds.indexOf(p.kind) });
    }
  });
  return out;
}

/**
 * An encoder–decoder drawn as a "U": each layer's output a block at its resolution level (rows:
 * full size on top, 1/8 at the bottom), block width growing with the channels, labelled with the
 * layer, its operation and its H×W×C. Arrows follow the data; links that skip ahead (skip
 * connections, pooling switches) are dashed and coloured.
 */
export function networkDiagram(nodes: NetworkNode[], options: { title?: string; subtitle?: string | string[]; layout?: 'u' | 'flat' | 'branches' } = {}): TopLevelSpec {
  if (nodes.length === 0) throw new Error('networkDiagram needs at least one layer');
  const maxSide = Math.max(...nodes.map((n) => n.shape[0]));
  const flat = options.layout === 'flat';
  const branches = options.layout === 'branches' ? branchLayout(nodes) : null;
  const levelOf = (n: NetworkNode) => (branches ? branches.get(n.name)!.row : flat ? 0 : Math.min(4, Math.round(Math.log2(maxSide / Math.max(1, n.shape[0])))));
  const columnOf = (n: NetworkNode, i: number) => (branches ? branches.get(n.name)!.col : i);
  const label = (n: NetworkNode) => (branches ? n.name.replace(/^shared_/, '') : n.name);
  const colW = branches ? 88 : 56;
  const rowH = 112;
  const at = new Map<string, { x: number; y: number; w: number; h: number }>();
  const blocks: Row[] = [];
  const texts: Row[] = [];
  nodes.forEach((n, i) => {
    const level = levelOf(n);
    const h = Math.max(10, Math.min(58, 58 * Math.sqrt(n.shape[0] / maxSide)));
    const w = Math.max(5, Math.min(34, 3 * Math.sqrt(n.shape[2])));
    const cx = 20 + columnOf(n, i) * colW + colW / 2;
    const cy = 52 + level * rowH;
    at.set(n.name, { x: cx, y: cy, w, h });
    blocks.push({ x: cx - w / 2, x2: cx + w / 2, y: cy - h / 2, y2: cy + h / 2, name: n.name, op: n.op, shape: n.shape.join('×') });
    texts.push({ x: cx, y: cy + h / 2 + 11, text: label(n), kind: 'name' });
    texts.push({ x: cx, y: cy + h / 2 + 23, text: n.shape.join('×'), kind: 'shape' });
    n.op.split(' + ').reverse().forEach((line, k) => texts.push({ x: cx, y: cy - h / 2 - 6 - 10 * k, text: k === 0 || n.op.split(' + ').length === 1 ? line : `${line} +`, kind: 'op' }));
  });
  const links: Row[] = [];
  nodes.forEach((n, i) => {
    n.inputs.forEach((src) => {
      const a = at.get(src);
      const b = at.get(n.name);
      if (!a || !b) return;
      const j = nodes.findIndex((m) => m.name === src);
      const skip = !branches && i - j > 1;
      links.push({ x: a.x + a.w / 2, y: a.y, x2: b.x - b.w / 2, y2: b.y, kind: skip ? 'skip / switches' : 'data' });
    });
  });
  const width = 40 + (Math.max(...nodes.map(columnOf)) + 1) * colW;
  const legend = links.some((l) => l.kind !== 'data') ? { orient: 'top', title: null } : null; // no skips: nothing to tell apart
  const levels = Math.max(...nodes.map(levelOf)) + 1;
  const height = 52 + levels * rowH;
  const x = { type: 'quantitative' as const, scale: { domain: [0, width], range: [0, width], nice: false, zero: false }, axis: null };
  const y = { type: 'quantitative' as const, scale: { domain: [0, height], range: [0, height], nice: false, zero: false }, axis: null };
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? 'Network', options.subtitle),
    width,
    height,
    config: { view: { stroke: null } },
    layer: [
      {
        data: { values: links },
        mark: { type: 'rule', strokeWidth: 1.5 },
        encoding: {
          x: { field: 'x', ...x }, y: { field: 'y', ...y }, x2: { field: 'x2' }, y2: { field: 'y2' },
          color: { field: 'kind', type: 'nominal', scale: { domain: ['data', 'skip / switches'], range: [roles.muted, '#D55E00'] }, legend },
          strokeDash: { field: 'kind', type: 'nominal', scale: { domain: ['data', 'skip / switches'], range: [[1, 0], [5, 3]] }, legend },
        },
      },
      {
        data: { values: blocks },
        mark: { type: 'rect', fill: roles.input, stroke: roles.inputStroke, strokeWidth: 1 },
        encoding: {
          x: { field: 'x', ...x }, y: { field: 'y', ...y }, x2: { field: 'x2' }, y2: { field: 'y2' },
          tooltip: [{ field: 'name', type: 'nominal', title: 'layer' }, { field: 'op', type: 'nominal', title: 'operation' }, { field: 'shape', type: 'nominal', title: 'output H×W×C' }],
        },
      },
      ...(['name', 'shape', 'op'] as const).map((kind) => ({
        data: { values: texts.filter((t) => t.kind === kind) },
        mark: {
          type: 'text', fontSize: kind === 'name' ? 10 : 8.5, align: 'center', fontWeight: kind === 'name' ? 'bold' : 'normal',
          color: kind === 'name' ? roles.text : kind === 'shape' ? roles.inputStroke : roles.muted,
        },
        encoding: { x: { field: 'x', ...x }, y: { field: 'y', ...y }, text: { field: 'text', type: 'nominal' } },
      })),
    ],
  } as TopLevelSpec;
}

// ---------------------------------------------------------------------------------------------
// training curves
// ---------------------------------------------------------------------------------------------

/** Smoothed training loss of several models against steps (log loss axis). */
export function lossCurvesFigure(runs: { name: string; loss: number[] }[], options: { title?: string; subtitle?: string; smoothing?: number } = {}): TopLevelSpec {
  const window = options.smoothing ?? 20;
  const rows = runs.flatMap((r) => {
    const out: Row[] = [];
    let sum = 0;
    r.loss.forEach((v, i) => {
      sum += v;
      if (i >= window) sum -= r.loss[i - window];
      const n = Math.min(i + 1, window);
      if (i % Math.max(1, Math.floor(r.loss.length / 150)) === 0 || i === r.loss.length - 1) out.push({ model: r.name, step: i + 1, loss: round(sum / n, 5) });
    });
    return out;
  });
  const names = runs.map((r) => r.name);
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? 'Training loss', [options.subtitle, `moving average over ${window} steps`].filter((t): t is string => t !== undefined).join(' · ')),
    width: 460,
    height: 240,
    data: { values: rows },
    mark: { type: 'line', strokeWidth: 2 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'loss', type: 'quantitative', scale: { type: 'log' }, title: 'cross-entropy per pixel (log)' },
      color: { field: 'model', type: 'nominal', scale: { domain: names, range: names.map((_, i) => seriesColors[i % seriesColors.length]) }, legend: { orient: 'right', title: null } },
    },
  } as TopLevelSpec;
}
