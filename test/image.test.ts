import assert from 'node:assert/strict';
import { crc32 as zlibCrc32, inflateSync } from 'node:zlib';
import { crc32, encodePng } from '../lib/plot/png';
import { imageDataUrl, images } from '../lib/plot/image';
import { specToSvgSync } from '../lib/plot/svg';

/** An independent PNG reader (chunks, CRCs, inflate, filter 0) to check the encoder against. */
function decodePng(png: Buffer): { width: number; height: number; rgba: Uint8Array } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let pos = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (pos < png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.toString('ascii', pos + 4, pos + 8);
    const data = png.subarray(pos + 8, pos + 8 + len);
    assert.equal(png.readUInt32BE(pos + 8 + len), zlibCrc32(png.subarray(pos + 4, pos + 8 + len)), `${type} CRC`);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.deepEqual([data[8], data[9], data[10], data[11], data[12]], [8, 6, 0, 0, 0]);
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    assert.equal(raw[y * (width * 4 + 1)], 0, 'filter type 0');
    rgba.set(raw.subarray(y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1)), y * width * 4);
  }
  return { width, height, rgba };
}

describe('PNG images', () => {
  it('crc32 matches zlib\'s', () => {
    for (const s of ['', 'a', 'IEND', 'the quick brown fox']) assert.equal(crc32(Buffer.from(s)), zlibCrc32(Buffer.from(s)));
  });

  it('encodePng round-trips through an independent decoder (odd sizes)', () => {
    for (const [w, h] of [[1, 1], [3, 2], [7, 5]]) {
      const rgba = Uint8Array.from({ length: w * h * 4 }, (_, i) => (i * 37 + w) % 256);
      const back = decodePng(encodePng(rgba, w, h));
      assert.deepEqual([back.width, back.height], [w, h]);
      assert.deepEqual([...back.rgba], [...rgba]);
    }
  });

  it('rejects wrong sizes with a message naming them', () => {
    assert.throws(() => encodePng(new Uint8Array(8), 2, 2), /expected 2×2×4 = 16 bytes, got 8/);
    assert.throws(() => encodePng(new Uint8Array(0), 0, 1), /width and height must be whole numbers ≥ 1 \(got 0×1\)/);
    assert.throws(() => imageDataUrl([[1, 2], [3]]), /\[h\]\[w\] \(grayscale\) or \[h\]\[w\]\[3\] \(RGB\)/);
    assert.throws(() => imageDataUrl([[0]], [1, 1]), /high > low/);
  });

  it('maps the domain to 0…255: grayscale and RGB pixels land where they should', () => {
    const gray = decodePng(Buffer.from(imageDataUrl([[-1, 0, 1]], [-1, 1]).split(',')[1], 'base64'));
    assert.deepEqual([...gray.rgba], [0, 0, 0, 255, 128, 128, 128, 255, 255, 255, 255, 255]);
    const rgb = decodePng(Buffer.from(imageDataUrl([[[0, 0.5, 1]], [[2, -1, 0.25]]], [0, 1]).split(',')[1], 'base64'));
    assert.deepEqual([rgb.width, rgb.height], [1, 2]);
    assert.deepEqual([...rgb.rgba], [0, 128, 255, 255, 255, 0, 64, 255]);
  });

  it('images() draws one pixelated image mark per panel at the requested size', () => {
    const spec = images([{ title: 'a', pixels: [[0, 1], [1, 0]] }, { title: 'b', pixels: [[[0, 0, 0], [1, 1, 1]]] }], { pixelSize: 5, domain: [0, 1] });
    const svg = specToSvgSync(spec);
    const marks = svg.match(/<image [^>]*>/g) ?? [];
    assert.equal(marks.length, 2);
    assert.match(marks[0], /width="10" height="10"/);
    assert.match(marks[1], /width="10" height="5"/);
    assert.match(svg, /a \(2×2\)/);
    assert.match(svg, /image-rendering: ?pixelated|image-rendering:pixelated|optimizeSpeed/);
  });
});
