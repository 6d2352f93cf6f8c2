/**
 * A loader for the full MNIST in its original IDX files (train-images-idx3-ubyte,
 * train-labels-idx1-ubyte, t10k-…; gzipped or not), for a reader who has the 60,000 training
 * digits: it returns the kit's DigitSet, so every generator of this folder takes it as it takes
 * the 10,000 digits of the npm package.
 *
 * IDX format (LeCun et al.): a big-endian header — two zero bytes, a type byte (0x08 = unsigned
 * byte), the number of dimensions — then one 4-byte big-endian size per dimension, then the data.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DIGIT_SIZE, type DigitSet } from '../data';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const IDX_TYPES: Record<number, string> = { 0x08: 'unsigned byte', 0x09: 'signed byte', 0x0b: 'short', 0x0c: 'int', 0x0d: 'float', 0x0e: 'double' };

/** Parses IDX bytes (already gunzipped). `name` goes into the error messages. */
export function parseIdx(bytes: Uint8Array, name = 'IDX data'): IdxArray {
  if (bytes.length < 4) throw new Error(`${name}: truncated: ${bytes.length} bytes, too short for an IDX header (4 bytes at least). Download the file again.`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const type = bytes[2], rank = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || !(type in IDX_TYPES) || rank === 0) {
    throw new Error(`${name}: wrong magic number 0x${magic.toString(16).padStart(8, '0')}: not an IDX file ` +
      '(MNIST images start with 0x00000803, labels with 0x00000801). Is it the right file, fully downloaded, and gunzipped or named .gz?');
  }
  if (type !== 0x08) throw new Error(`${name}: IDX data of type ${IDX_TYPES[type]} (0x${type.toString(16)}); MNIST files hold unsigned bytes (0x08)`);
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw new Error(`${name}: truncated: the header announces ${rank} dimensions (${headerBytes} header bytes) but the file has ${bytes.length} bytes. Download the file again.`);
  const dims = Array.from({ length: rank }, (_, k) => view.getUint32(4 + 4 * k));
  const size = dims.reduce((a, b) => a * b, 1);
  const have = bytes.length - headerBytes;
  if (have < size) {
    throw new Error(`${name}: truncated: the header says ${dims.join('×')} = ${size} bytes of data, the file has ${have}. Download the file again (an interrupted download?).`);
  }
  if (have > size) throw new Error(`${name}: ${have - size} bytes after the ${dims.join('×')} data: not a single IDX array (a concatenation or a corrupt file?)`);
  return { dims, data: bytes.subarray(headerBytes, headerBytes + size) };
}

/** Reads an IDX file, gunzipping it when it is gzipped (by its content, whatever its name). */
export function readIdxFile(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${path} (${(e as Error).message.split('\n')[0]}): give the path of an MNIST IDX file such as train-images-idx3-ubyte(.gz)`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new Error(`${path}: truncated or corrupt gzip data (${(e as Error).message}). Download the file again.`);
    }
  }
  return parseIdx(bytes, path);
}

/**
 * MNIST images and labels from IDX files into a DigitSet (values scaled to [0, 1]).
 *   loadMnistIdx({ images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' })
 */
export function loadMnistIdx(files: { images: string; labels: string }): DigitSet {
  const images = readIdxFile(files.images);
  const labels = readIdxFile(files.labels);
  if (images.dims.length !== 3 || images.dims[1] !== DIGIT_SIZE || images.dims[2] !== DIGIT_SIZE) {
    throw new Error(`${files.images}: expected images of shape [count, 28, 28], got [${images.dims.join(', ')}] (is this a labels file?)`);
  }
  if (labels.dims.length !== 1) throw new Error(`${files.labels}: expected labels of shape [count], got [${labels.dims.join(', ')}] (is this an images file?)`);
  const count = images.dims[0];
  if (labels.dims[0] !== count) throw new Error(`${files.images} has ${count} images but ${files.labels} has ${labels.dims[0]} labels: pair the train files together and the t10k files together`);
  const bad = labels.data.findIndex((l) => l > 9);
  if (bad >= 0) throw new Error(`${files.labels}: label ${labels.data[bad]} at index ${bad} is not a digit 0…9`);
  const pixels = new Float32Array(images.data.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images.data[i] / 255;
  return { images: pixels, labels: Uint8Array.from(labels.data), count };
}

/** IDX bytes of an array (the inverse of parseIdx): for test fixtures and for exporting sets. */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const size = dims.reduce((a, b) => a * b, 1);
  if (data.length !== size) throw new Error(`encodeIdx: ${data.length} values for dims ${dims.join('×')} = ${size}`);
  const out = new Uint8Array(4 + 4 * dims.length + size);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, k) => view.setUint32(4 + 4 * k, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
