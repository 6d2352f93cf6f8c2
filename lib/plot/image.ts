import type { TopLevelSpec } from 'vega-lite';
import { encodePng } from './png';

/** A grayscale ([h][w]) or RGB ([h][w][3]) image. */
export type Pixels = number[][] | number[][][];

export interface ImagesOptions {
  title?: string;
  subtitle?: string;
  pixelSize?: number;        // screen px per image pixel, default 3
  domain?: [number, number]; // values mapped to black…white (per channel), default [-1, 1] (a tanh output)
}

function isRgb(pixels: Pixels): pixels is number[][][] {
  return Array.isArray(pixels[0]?.[0]);
}

/** Encodes an image as a PNG data URL, mapping `domain` to 0…255. */
export function imageDataUrl(pixels: Pixels, domain: [number, number] = [-1, 1]): string {
  const h = pixels.length;
  const w = pixels[0]?.length ?? 0;
  const rgb = isRgb(pixels);
  const ok = h > 0 && w > 0 && (pixels as (number | number[])[][]).every((row) => row.length === w &&
    row.every((px) => (rgb ? Array.isArray(px) && px.length === 3 : typeof px === 'number')));
  if (!ok) throw new Error(`an image must be an [h][w] (grayscale) or [h][w][3] (RGB) array of numbers (got ${h}×${w}${rgb ? '×?' : ''} with ragged or mixed rows)`);
  const [lo, hi] = domain;
  if (!(hi > lo)) throw new Error(`image domain must be [low, high] with high > low (got [${lo}, ${hi}])`);
  const byte = (v: number) => Math.max(0, Math.min(255, Math.round(((v - lo) / (hi - lo)) * 255)));
  const rgba = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      const px = (pixels as (number | number[])[][])[y][x];
      const [r, g, b] = typeof px === 'number' ? [px, px, px] : px;
      rgba.set([byte(r), byte(g), byte(b), 255], o);
    }
  }
  return `data:image/png;base64,${encodePng(rgba, w, h).toString('base64')}`;
}

/** Images side by side, each drawn pixelated at `pixelSize` screen px per pixel, with its title. */
export function images(items: { title: string; pixels: Pixels }[], options: ImagesOptions = {}): TopLevelSpec {
  if (items.length === 0) throw new Error('images() needs at least one image');
  const size = options.pixelSize ?? 3;
  const domain = options.domain ?? [-1, 1];
  const panels = items.map((item) => {
    const [h, w] = [item.pixels.length, item.pixels[0]?.length ?? 0];
    return {
      title: { text: `${item.title} (${h}×${w})`, fontSize: 12 },
      width: w * size,
      height: h * size,
      data: { values: [{ url: imageDataUrl(item.pixels, domain) }] },
      mark: { type: 'image' as const, width: w * size, height: h * size, align: 'left' as const, baseline: 'top' as const, smooth: false },
      encoding: {
        url: { field: 'url', type: 'nominal' as const },
        x: { value: 0 },
        y: { value: 0 },
      },
    };
  });
  return {
    title: options.subtitle ? { text: options.title ?? '', subtitle: options.subtitle } : (options.title ?? ''),
    hconcat: panels,
    spacing: 16,
    config: { view: { stroke: null } },
  };
}

/** One RGB image: `images([{ title, pixels }], options)`. */
export function rgbImage(pixels: number[][][], options: ImagesOptions & { label?: string } = {}): TopLevelSpec {
  return images([{ title: options.label ?? 'RGB', pixels }], options);
}
