/**
 * A loader for Flickr8k-style captioned images: a folder of JPEG/PNG files and a captions file
 * with one caption per line, either the original `Flickr8k.token.txt`
 *     1000268201_693b08cb0e.jpg#0<TAB>A child in a pink dress is climbing up a set of stairs .
 * or the `captions.txt` of the common re-packaging (a CSV with the header `image,caption`).
 * Images are centre-cropped to a square and shrunk to the model's size; captions are lower-cased
 * and split into words. Nothing is downloaded: point it at a copy you have.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { resizeArea } from './scenes';
import { buildCaptionVocabulary, type CaptionVocabulary } from './vocab';

export interface CaptionLine {
  image: string;
  /** The caption's number for its image (#k), or its order in a CSV. */
  k: number;
  text: string;
  words: string[];
  /** 1-based line in the captions file. */
  line: number;
}

/** Lower-case words of a caption: letters, digits and apostrophes; punctuation dropped. */
export function tokenizeCaption(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+(?:'[a-z0-9]+)*/g) ?? [];
}

/**
 * Parses a captions file. Lines `image#k<TAB>caption` (Flickr8k.token.txt), or a CSV whose first
 * line is `image,caption` (the caption is everything after the first comma). Blank lines are skipped.
 */
export function parseFlickrCaptions(text: string, fileName = 'captions file'): CaptionLine[] {
  const lines = text.split(/\r?\n/);
  const csv = /^\s*image\s*,\s*caption\s*$/i.test(lines[0] ?? '');
  const out: CaptionLine[] = [];
  const perImage = new Map<string, number>();
  lines.forEach((raw, i) => {
    if (csv && i === 0) return;
    const line = raw.trim();
    if (line === '') return;
    let image: string, k: number, caption: string;
    if (csv) {
      const comma = line.indexOf(',');
      if (comma <= 0) throw new Error(`${fileName}, line ${i + 1}: expected 'image,caption' (got '${line.slice(0, 60)}')`);
      image = line.slice(0, comma).trim();
      caption = line.slice(comma + 1).trim().replace(/^"(.*)"$/, '$1');
      k = perImage.get(image) ?? 0;
    } else {
      const tab = raw.indexOf('\t');
      const m = /^(.+)#(\d+)$/.exec(tab > 0 ? raw.slice(0, tab).trim() : '');
      if (!m) throw new Error(`${fileName}, line ${i + 1}: expected 'image#k<TAB>caption', as in Flickr8k.token.txt (got '${line.slice(0, 60)}'): check the file and its tabs`);
      image = m[1];
      k = Number(m[2]);
      caption = raw.slice(tab + 1).trim();
    }
    perImage.set(image, (perImage.get(image) ?? 0) + 1);
    const words = tokenizeCaption(caption);
    if (words.length === 0) throw new Error(`${fileName}, line ${i + 1}: the caption of ${image} has no words`);
    out.push({ image, k, text: caption, words, line: i + 1 });
  });
  if (out.length === 0) throw new Error(`${fileName} has no captions: expected lines 'image#k<TAB>caption' or a CSV 'image,caption'`);
  return out;
}

/** Decodes a JPEG or PNG file into RGBA bytes. */
export function readImageFile(file: string): { width: number; height: number; rgba: Uint8Array } {
  const ext = path.extname(file).toLowerCase();
  if (!['.jpg', '.jpeg', '.png'].includes(ext)) throw new Error(`${file}: only .jpg/.jpeg and .png images can be read (got '${ext}')`);
  const bytes = fs.readFileSync(file);
  try {
    if (ext === '.png') {
      const png = PNG.sync.read(bytes);
      return { width: png.width, height: png.height, rgba: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
    }
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 256 });
    return { width: img.width, height: img.height, rgba: img.data };
  } catch (e) {
    throw new Error(`${file} could not be decoded as ${ext === '.png' ? 'PNG' : 'JPEG'} (${(e as Error).message}): the file is corrupt or not an image; re-extract the data set`);
  }
}

/** RGBA bytes → [size, size, 3] floats in [0, 1]: the centre square, shrunk by area averaging. */
export function squareImage(img: { width: number; height: number; rgba: Uint8Array }, size: number): Float32Array {
  const side = Math.min(img.width, img.height);
  const x0 = Math.floor((img.width - side) / 2), y0 = Math.floor((img.height - side) / 2);
  const rgb = new Float32Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const src = ((y0 + y) * img.width + x0 + x) * 4;
      const dst = (y * side + x) * 3;
      rgb[dst] = img.rgba[src] / 255;
      rgb[dst + 1] = img.rgba[src + 1] / 255;
      rgb[dst + 2] = img.rgba[src + 2] / 255;
    }
  }
  return resizeArea(rgb, side, side, size, size, 3);
}

export interface FlickrOptions {
  /** Side of the square images the model reads. Default 48. */
  imageSize?: number;
  /** The captions file; default: Flickr8k.token.txt, else captions.txt, in the folder. */
  captionsFile?: string;
  /** The images' folder; default: the first of Flicker8k_Dataset, Flickr8k_Dataset, Images, the folder itself that exists. */
  imagesDir?: string;
  /** Keep only the first n images (in captions-file order). */
  maxImages?: number;
  /** Words seen fewer times become <unk>. Default 1. */
  minCount?: number;
}

export interface FlickrData {
  /** Image file names, in captions-file order. */
  names: string[];
  /** [n, size, size, 3] floats in [0, 1], row-major. */
  pixels: Float32Array;
  imageSize: number;
  /** references[i]: every caption of image i, as words. */
  references: string[][][];
  vocab: CaptionVocabulary;
}

/** Loads a Flickr8k-style folder (see the file comment). Errors name the file, line and fix. */
export function loadFlickr8k(folder: string, options: FlickrOptions = {}): FlickrData {
  const size = options.imageSize ?? 48;
  if (!(Number.isInteger(size) && size > 0)) throw new Error(`loadFlickr8k: imageSize must be a positive integer (got ${size})`);
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) throw new Error(`loadFlickr8k: ${folder} is not a folder: give the folder holding the captions file and the images`);
  const captionsFile = options.captionsFile ?? ['Flickr8k.token.txt', 'captions.txt'].map((f) => path.join(folder, f)).find((f) => fs.existsSync(f));
  if (captionsFile === undefined || !fs.existsSync(captionsFile)) {
    throw new Error(`loadFlickr8k: no captions file in ${folder} (looked for ${options.captionsFile ?? 'Flickr8k.token.txt, captions.txt'}): pass captionsFile`);
  }
  const imagesDir = options.imagesDir ?? ['Flicker8k_Dataset', 'Flickr8k_Dataset', 'Images'].map((d) => path.join(folder, d)).find((d) => fs.existsSync(d)) ?? folder;
  const lines = parseFlickrCaptions(fs.readFileSync(captionsFile, 'utf8'), path.basename(captionsFile));
  const byImage = new Map<string, CaptionLine[]>();
  for (const l of lines) {
    if (!byImage.has(l.image)) {
      if (options.maxImages !== undefined && byImage.size >= options.maxImages) continue;
      byImage.set(l.image, []);
    }
    byImage.get(l.image)!.push(l);
  }
  const names = [...byImage.keys()];
  const pixels = new Float32Array(names.length * size * size * 3);
  names.forEach((name, i) => {
    const file = path.join(imagesDir, name);
    if (!fs.existsSync(file)) {
      throw new Error(`${path.basename(captionsFile)}, line ${byImage.get(name)![0].line}: the caption's image ${name} is not in ${imagesDir}: ` +
        'extract the images there, pass imagesDir, or remove its captions');
    }
    pixels.set(squareImage(readImageFile(file), size), i * size * size * 3);
  });
  const references = names.map((n) => byImage.get(n)!.sort((a, b) => a.k - b.k).map((l) => l.words));
  const vocab = buildCaptionVocabulary(references.flat(), options.minCount ?? 1);
  return { names, pixels, imageSize: size, references, vocab };
}

/**
 * Writes a tiny Flickr8k-style folder (coloured squares as JPEG and PNG, two captions each) for
 * tests and for trying the loader without the real data; returns the folder (default: a new
 * temporary one). `missingImage` adds a caption whose image file does not exist.
 */
export function writeFlickrFixture(folder?: string, options: { format?: 'token' | 'csv'; missingImage?: boolean } = {}): string {
  folder ??= fs.mkdtempSync(path.join(os.tmpdir(), 'flickr8k-fixture-'));
  const dir = path.join(folder, 'Images');
  fs.mkdirSync(dir, { recursive: true });
  const draw = (w: number, h: number, rgb: [number, number, number]) => {
    const data = Buffer.alloc(w * h * 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 4;
        const inside = x >= w / 4 && x < (3 * w) / 4 && y >= h / 4 && y < (3 * h) / 4;
        data.set(inside ? [...rgb, 255] : [0, 0, 0, 255], o);
      }
    }
    return data;
  };
  fs.writeFileSync(path.join(dir, 'red.jpg'), jpeg.encode({ width: 40, height: 32, data: draw(40, 32, [230, 30, 30]) }, 95).data);
  const png = new PNG({ width: 32, height: 32 });
  draw(32, 32, [30, 30, 230]).copy(png.data);
  fs.writeFileSync(path.join(dir, 'blue.png'), PNG.sync.write(png));
  const captions = [
    ['red.jpg', 'A red square on a black background .'],
    ['red.jpg', 'A red block in the middle.'],
    ['blue.png', 'A blue square on black .'],
    ['blue.png', 'A blue block, centred.'],
    ...(options.missingImage ? [['lost.jpg', 'A picture nobody kept .']] : []),
  ];
  if (options.format === 'csv') {
    fs.writeFileSync(path.join(folder, 'captions.txt'), ['image,caption', ...captions.map(([f, c]) => `${f},${c}`)].join('\n') + '\n');
  } else {
    const k = new Map<string, number>();
    fs.writeFileSync(path.join(folder, 'Flickr8k.token.txt'), captions.map(([f, c]) => {
      const n = k.get(f) ?? 0;
      k.set(f, n + 1);
      return `${f}#${n}\t${c}`;
    }).join('\n') + '\n');
  }
  return folder;
}
