/**
 * Checks a notebook cell ends on: they print one line when they pass and throw (failing the cell,
 * the handout build and the tests) when they don't. A cell that asserts beats one that prints.
 */

type Nested = number | readonly Nested[];

function flatten(x: Nested, out: number[] = []): number[] {
  if (typeof x === 'number') out.push(x);
  else for (const v of x) flatten(v, out);
  return out;
}

function shapeOf(x: Nested): number[] {
  const shape: number[] = [];
  let cur: Nested = x;
  while (typeof cur !== 'number') {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  return shape;
}

/** Asserts two nested arrays have the same shape and agree to `tol` (returns nothing, so a cell ending on it prints only its line). */
export function checkClose(actual: Nested, expected: Nested, options: { tol?: number; label?: string; quiet?: boolean } = {}): void {
  const tol = options.tol ?? 1e-4;
  const label = options.label ?? 'values';
  const [sa, se] = [shapeOf(actual), shapeOf(expected)];
  if (sa.join('×') !== se.join('×')) {
    throw new Error(`${label}: shapes differ: ${sa.join('×')} vs expected ${se.join('×')}`);
  }
  const [a, e] = [flatten(actual), flatten(expected)];
  let worst = 0;
  for (let j = 0; j < a.length; j++) {
    const d = Math.abs(a[j] - e[j]);
    if (!(d <= worst)) worst = d; // NaN-safe: a NaN difference becomes the worst
  }
  if (!(worst <= tol)) throw new Error(`${label}: max |difference| = ${worst.toExponential(2)} exceeds the tolerance ${tol}`);
  if (!options.quiet) console.log(`✓ ${label}: same ${sa.join('×')} values (max |difference| ${worst.toExponential(1)} ≤ ${tol})`);
}

/** d2l's check_shape: asserts a tensor's (or array's) shape. `null` matches any size. */
export function checkShape(actual: { shape: readonly (number | null)[] } | readonly (number | null)[], expected: readonly (number | null)[], label = 'shape'): void {
  const shape = Array.isArray(actual) ? actual : (actual as { shape: readonly (number | null)[] }).shape;
  const ok = shape.length === expected.length && expected.every((d, j) => d === null || d === shape[j]);
  const fmt = (s: readonly (number | null)[]) => `[${s.map((d) => (d === null ? '?' : d)).join(', ')}]`;
  if (!ok) throw new Error(`${label}: got shape ${fmt(shape)}, expected ${fmt(expected)}`);
  console.log(`✓ ${label}: ${fmt(shape)}`);
}

/** Asserts that `fn` throws (optionally matching `pattern`) and returns the message, to show a student. */
export function expectError(fn: () => unknown, pattern?: RegExp): string {
  try {
    fn();
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    if (pattern && !pattern.test(message)) throw new Error(`expected an error matching ${pattern}, got: ${message}`);
    return message;
  }
  throw new Error('expected an error, but the call succeeded');
}
