/**
 * Real segmentation data in the PASCAL VOC layout, the one most segmentation sets copy:
 *
 *   root/JPEGImages/<id>.jpg             the images (JPEG; .jpeg and .png are accepted too)
 *   root/SegmentationClass/<id>.png      the masks: palette PNGs, colour = class (VOC's colour map),
 *                                        (224, 224, 192) = 255 "void" (object borders, ignored)
 *   root/ImageSets/Segmentation/<split>.txt   one id per line (train.txt, val.txt, …)
 *
 * Grey-scale masks (colour type 0, as in SegmentationClassRaw) are read as class indices directly.
 * JPEG is decoded with jpeg-js and PNG with pngjs (pure JavaScript). `writeVocDataset` writes the
 * same layout (our scenes, for instance), so the loader can be exercised without downloading VOC.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { crc32 } from '../plot/png';

/** PASCAL VOC 2012's 21 classes (index = class id). */
export const VOC_CLASS_NAMES: readonly string[] = [
  'background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
];

/** The label of "void" pixels (borders, ambiguous regions): scores ignore them. */
export const VOC_VOID = 255;

/**
 * VOC's colour map: class i's colour spreads the bits of i over the high bits of R, G and B
 * (0 black, 1 (128, 0, 0), 2 (0, 128, 0), …, 255 (224, 224, 192)).
 */
export function vocColormap(count = 256): [number, number, number][] {
  return Array.from({ length: count }, (_, i) => {
    let [r, g, b] = [0, 0, 0];
    let c = i;
    for (let j = 0; j < 8; j++) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    return [r, g, b];
  });
}

export interface VocSample {
  id: string;
  width: number;
  height: number;
  /** [height·width·3] RGB in [0, 1], row-major. */
  image: Float32Array;
  /** [height·width] class per pixel, VOC_VOID for void. */
  mask: Uint8Array;
}

export interface VocLoadOptions {
  /** Which ImageSets/Segmentation/<split>.txt to read. Default 'train'. */
  split?: string;
  /** Number of classes (colours 0…numClasses−1 and void are allowed in masks). Default 21. */
  numClasses?: number;
  /** Read at most this many ids of the split. */
  limit?: number;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), Buffer.from(data)]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

/** A mask (class indices) as an 8-bit palette PNG with VOC's colour map, as VOC ships them. */
export function encodePaletteMask(mask: Uint8Array, width: number, height: number): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || mask.length !== width * height) {
    throw new Error(`encodePaletteMask: expected ${width}×${height} = ${width * height} class indices, got ${mask.length}`);
  }
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width + 1)] = 0; // filter: none
    raw.set(mask.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 3; // colour type: palette
  const plte = Buffer.from(vocColormap(256).flat());
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('PLTE', plte), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0)),
  ]);
}

function decodeImage(path: string): { width: number; height: number; rgba: Uint8Array } {
  const bytes = readFileSync(path);
  try {
    if (/\.png$/i.test(path)) {
      const png = PNG.sync.read(bytes);
      return { width: png.width, height: png.height, rgba: png.data };
    }
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    return { width: img.width, height: img.height, rgba: img.data };
  } catch (e) {
    throw new Error(`${path} could not be decoded (${(e as Error).message}): the file is corrupt or not a JPEG/PNG; re-export or re-download it`);
  }
}

function decodeMask(path: string, numClasses: number): { width: number; height: number; mask: Uint8Array } {
  let png: PNG & { colorType?: number };
  try {
    png = PNG.sync.read(readFileSync(path)) as PNG & { colorType?: number };
  } catch (e) {
    throw new Error(`${path} could not be decoded as a PNG mask (${(e as Error).message}): the file is corrupt; re-export it`);
  }
  const { width, height, data } = png;
  const mask = new Uint8Array(width * height);
  if (png.colorType === 0) {
    // grey-scale: the value is the class (SegmentationClassRaw)
    for (let p = 0; p < mask.length; p++) {
      const v = data[p * 4];
      if (v >= numClasses && v !== VOC_VOID) {
        throw new Error(`${path}: pixel (row ${Math.floor(p / width)}, col ${p % width}) has class ${v}, but there are ${numClasses} classes (and ${VOC_VOID} = void)`);
      }
      mask[p] = v;
    }
    return { width, height, mask };
  }
  const lookup = new Map<number, number>();
  vocColormap(256).forEach(([r, g, b], i) => {
    if (i < numClasses || i === VOC_VOID) lookup.set((r << 16) | (g << 8) | b, i);
  });
  for (let p = 0; p < mask.length; p++) {
    const key = (data[p * 4] << 16) | (data[p * 4 + 1] << 8) | data[p * 4 + 2];
    const cls = lookup.get(key);
    if (cls === undefined) {
      throw new Error(`${path}: pixel (row ${Math.floor(p / width)}, col ${p % width}) has colour rgb(${data[p * 4]}, ${data[p * 4 + 1]}, ${data[p * 4 + 2]}), ` +
        `which is not one of the ${numClasses} class colours of VOC's colour map (nor void (224, 224, 192)): ` +
        'was the mask resized with interpolation, or saved as JPEG? Masks must be exact palette colours');
    }
    mask[p] = cls;
  }
  return { width, height, mask };
}

function findImage(root: string, id: string): string {
  for (const ext of ['jpg', 'jpeg', 'png']) {
    const path = join(root, 'JPEGImages', `${id}.${ext}`);
    if (existsSync(path)) return path;
  }
  throw new Error(`image '${id}' is listed in the split but ${join(root, 'JPEGImages', `${id}.jpg`)} (nor .jpeg/.png) does not exist: ` +
    'restore the file or remove the id from the split file');
}

/** The ids of a split (ImageSets/Segmentation/<split>.txt). */
export function vocSplitIds(root: string, split = 'train'): string[] {
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new Error(`VOC root '${root}' is not a folder: pass the folder that holds JPEGImages/, SegmentationClass/ and ImageSets/`);
  }
  const file = join(root, 'ImageSets', 'Segmentation', `${split}.txt`);
  if (!existsSync(file)) {
    throw new Error(`split file ${file} does not exist: use a split that exists there (e.g. 'train' or 'val') or write the file, one image id per line`);
  }
  return readFileSync(file, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/** Loads a split: every image with its mask, checked (present, decodable, same size, known colours). */
export function loadVocSegmentation(root: string, options: VocLoadOptions = {}): VocSample[] {
  const numClasses = options.numClasses ?? VOC_CLASS_NAMES.length;
  if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > VOC_VOID) {
    throw new Error(`numClasses must be 1…${VOC_VOID} (got ${numClasses})`);
  }
  let ids = vocSplitIds(root, options.split ?? 'train');
  if (options.limit !== undefined) ids = ids.slice(0, options.limit);
  return ids.map((id) => {
    const imagePath = findImage(root, id);
    const maskPath = join(root, 'SegmentationClass', `${id}.png`);
    if (!existsSync(maskPath)) {
      throw new Error(`mask ${maskPath} of image '${id}' does not exist: every image of a segmentation split needs SegmentationClass/<id>.png`);
    }
    const img = decodeImage(imagePath);
    const m = decodeMask(maskPath, numClasses);
    if (m.width !== img.width || m.height !== img.height) {
      throw new Error(`mask ${maskPath} is ${m.width}×${m.height} but its image ${imagePath} is ${img.width}×${img.height}: ` +
        'a mask must label every pixel of its image (re-export it at the image size, with nearest-neighbour resizing)');
    }
    const image = new Float32Array(img.width * img.height * 3);
    for (let p = 0; p < img.width * img.height; p++) {
      for (let ch = 0; ch < 3; ch++) image[p * 3 + ch] = img.rgba[p * 4 + ch] / 255;
    }
    return { id, width: img.width, height: img.height, image, mask: m.mask };
  });
}

export interface VocWriteItem {
  id: string;
  width: number;
  height: number;
  /** [h·w] grey or [h·w·3] RGB in [0, 1]. */
  image: Float32Array;
  /** [h·w] class indices. */
  mask: Uint8Array;
}

/**
 * Writes items in the VOC layout under root (images as JPEG, or PNG with `format: 'png'`; masks
 * as palette PNGs) and the split files given as { split: ids }.
 */
export function writeVocDataset(root: string, items: VocWriteItem[], splits: Record<string, string[]>, options: { format?: 'jpeg' | 'png'; quality?: number } = {}): void {
  const format = options.format ?? 'jpeg';
  for (const dir of ['JPEGImages', 'SegmentationClass', join('ImageSets', 'Segmentation')]) mkdirSync(join(root, dir), { recursive: true });
  for (const item of items) {
    const n = item.width * item.height;
    const channels = item.image.length / n;
    if (channels !== 1 && channels !== 3) throw new Error(`item '${item.id}': image must hold ${n} (grey) or ${3 * n} (RGB) values, got ${item.image.length}`);
    const rgba = new Uint8Array(n * 4);
    for (let p = 0; p < n; p++) {
      for (let ch = 0; ch < 3; ch++) {
        const v = item.image[channels === 1 ? p : p * 3 + ch];
        rgba[p * 4 + ch] = Math.max(0, Math.min(255, Math.round(v * 255)));
      }
      rgba[p * 4 + 3] = 255;
    }
    if (format === 'png') {
      const png = new PNG({ width: item.width, height: item.height });
      png.data = Buffer.from(rgba);
      writeFileSync(join(root, 'JPEGImages', `${item.id}.png`), PNG.sync.write(png));
    } else {
      const encoded = jpeg.encode({ data: rgba, width: item.width, height: item.height }, options.quality ?? 95);
      writeFileSync(join(root, 'JPEGImages', `${item.id}.jpg`), encoded.data);
    }
    writeFileSync(join(root, 'SegmentationClass', `${item.id}.png`), encodePaletteMask(item.mask, item.width, item.height));
  }
  for (const [split, ids] of Object.entries(splits)) {
    writeFileSync(join(root, 'ImageSets', 'Segmentation', `${split}.txt`), ids.join('\n') + '\n');
  }
}

/** A new empty folder under the system's temporary folder (for writing an example data set). */
export function newTempFolder(prefix = 'voc-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
