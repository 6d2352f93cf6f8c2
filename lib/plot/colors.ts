/**
 * The kit's colours, in one place. Categorical colours are Okabe & Ito's palette (distinguishable
 * with every common colour-vision deficiency); continuous maps are perceptually ordered (viridis,
 * a light-to-dark blue, grey) or diverging around a light middle for signed values. A figure never
 * relies on colour alone: values, outlines or labels carry the same information.
 */
import type { ColorScheme as VegaScheme } from 'vega';
import { scheme as vegaScheme } from 'vega';

/** Okabe–Ito (2008), the usual colour-blind-safe categorical palette. */
export const okabeIto = {
  black: '#000000',
  orange: '#E69F00',
  skyBlue: '#56B4E9',
  bluishGreen: '#009E73',
  yellow: '#F0E442',
  blue: '#0072B2',
  vermillion: '#D55E00',
  reddishPurple: '#CC79A7',
} as const;

/** Line and category colours in the order series get them (yellow last: weak on white). */
export const seriesColors: readonly string[] = [
  okabeIto.blue,
  okabeIto.orange,
  okabeIto.bluishGreen,
  okabeIto.vermillion,
  okabeIto.reddishPurple,
  okabeIto.skyBlue,
  okabeIto.black,
  okabeIto.yellow,
];

/**
 * What each colour means in the convolution diagrams, so every figure of the kit uses the same
 * colour for the same thing (input blue, output green, kernel dark blue, cropped/padding grey).
 */
export const roles = {
  input: '#BFDDF2',          // input pixels (light sky blue)
  inputStroke: '#3D7CB0',
  padding: '#FFFFFF',        // zero padding / cropped rows: white, dashed grey outline
  paddingStroke: '#9A9A9A',
  kernel: okabeIto.blue,     // the kernel window / footprint
  output: '#CDEBDD',         // output pixels (light green)
  outputStroke: '#2E8B67',
  outputDone: '#7CC7A4',     // output pixels already computed
  current: okabeIto.bluishGreen, // the output pixel being computed now
  footprint: okabeIto.orange, // a kernel copy placed on the transposed-convolution canvas
  crop: '#00704A',           // the output frame on a transposed convolution's canvas (dark green)
  cropped: '#F1F1F1',        // canvas cells the crop removes
  error: '#C0392B',          // messages about impossible settings (with a ✗, never colour alone)
  ok: okabeIto.bluishGreen,
  text: '#222222',
  muted: '#666666',
  grid: '#D0D0D0',
  background: '#FFFFFF',
} as const;

/** Continuous colour maps the helpers accept. */
export type ColorSchemeName = 'viridis' | 'blues' | 'greens' | 'greys' | 'image' | 'blueorange' | 'purplegreen';

export interface ColorMap {
  /** vega scheme name, or an explicit range (low → high). */
  scheme?: VegaScheme;
  range?: string[];
  /** True for maps centred on a light middle: use a domain symmetric around 0. */
  diverging: boolean;
}

export const colorSchemes: Record<ColorSchemeName, ColorMap> = {
  viridis: { scheme: 'viridis', diverging: false },     // dark purple → yellow
  blues: { scheme: 'blues', diverging: false },         // light → dark blue
  greens: { scheme: 'greens', diverging: false },
  greys: { scheme: 'greys', diverging: false },         // white → black: "more" is darker
  image: { range: ['#000000', '#FFFFFF'], diverging: false }, // a photograph: 0 black, 1 white
  blueorange: { scheme: 'blueorange', diverging: true }, // negative blue, 0 light, positive orange
  purplegreen: { scheme: 'purplegreen', diverging: true },
};

/** The vega-lite scale properties of a scheme. */
export function schemeScale(name: ColorSchemeName): { scheme: VegaScheme } | { range: string[] } {
  const s = colorSchemes[name];
  return s.range ? { range: [...s.range] } : { scheme: s.scheme ?? 'viridis' };
}

function parseRgb(color: string): [number, number, number] {
  const hex = /^#([0-9a-f]{6})$/i.exec(color);
  if (hex) {
    const n = parseInt(hex[1], 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  const rgb = /^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/.exec(color);
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  throw new Error(`colors: cannot parse colour '${color}'`);
}

function toHex([r, g, b]: [number, number, number]): string {
  return `#${[r, g, b].map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`.toUpperCase();
}

/**
 * The colour the scheme gives at t ∈ [0, 1] — the same interpolator vega uses, so a colour
 * computed here (for a diagram drawn with fixed fills) matches a vega-lite scale of that scheme.
 */
export function colorAt(name: ColorSchemeName, t: number): string {
  const u = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  const map = colorSchemes[name];
  if (map.range) {
    const [a, b] = [parseRgb(map.range[0]), parseRgb(map.range[map.range.length - 1])];
    return toHex([0, 1, 2].map((j) => a[j] + (b[j] - a[j]) * u) as [number, number, number]);
  }
  const interpolate = vegaScheme(map.scheme ?? 'viridis') as (t: number) => string;
  return toHex(parseRgb(interpolate(u)));
}

/** WCAG relative luminance of an sRGB colour. */
export function luminance(color: string): number {
  const lin = parseRgb(color).map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
}

const DARK_TEXT = '#111111';
const LIGHT_TEXT = '#FFFFFF';

/** Black or white, whichever contrasts more with `background` (WCAG contrast ratio). */
export function readableTextOn(background: string): string {
  const l = luminance(background);
  const onDark = (1.05) / (l + 0.05);            // white text
  const onLight = (l + 0.05) / (luminance(DARK_TEXT) + 0.05); // dark text
  return onDark > onLight ? LIGHT_TEXT : DARK_TEXT;
}

/** Position of `value` in `domain`, clamped to [0, 1]. */
export function domainPosition(value: number, domain: readonly [number, number]): number {
  const [lo, hi] = domain;
  return hi === lo ? 0.5 : Math.min(1, Math.max(0, (value - lo) / (hi - lo)));
}

/** The fill of `value` drawn with scheme `name` over `domain`. */
export function fillFor(name: ColorSchemeName, value: number, domain: readonly [number, number]): string {
  return colorAt(name, domainPosition(value, domain));
}

/** Readable text colour for `value` drawn with scheme `name` over `domain`. */
export function textColorFor(name: ColorSchemeName, value: number, domain: readonly [number, number]): string {
  return readableTextOn(fillFor(name, value, domain));
}
