/**
 * One-channel images as plain number[][] (row-major: grid[row][col]) — what a student can print
 * and read — and the few helpers the naive code and the tests share.
 */
import type { Rng } from '../runtime/random';

export type Grid = number[][];

/** [rows, cols]; throws if `grid` is empty or ragged, naming the argument. */
export function gridShape(grid: readonly (readonly number[])[], name = 'grid'): [number, number] {
  if (!Array.isArray(grid) || grid.length === 0 || !Array.isArray(grid[0]) || grid[0].length === 0) {
    throw new Error(`${name} must be a non-empty number[][] (rows of columns)`);
  }
  const cols = grid[0].length;
  grid.forEach((row, r) => {
    if (row.length !== cols) throw new Error(`${name} is ragged: row 0 has ${cols} values, row ${r} has ${row.length}`);
  });
  return [grid.length, cols];
}

export function zerosGrid(rows: number, cols: number = rows): Grid {
  return Array.from({ length: rows }, () => new Array<number>(cols).fill(0));
}

export function onesGrid(rows: number, cols: number = rows): Grid {
  return Array.from({ length: rows }, () => new Array<number>(cols).fill(1));
}

/** Uniform values in [−1, 1) from a seeded generator: inputs and kernels for checks. */
export function randomGrid(rows: number, cols: number, rng: Rng): Grid {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => 2 * rng() - 1));
}

/** Row-major flattening: vec(x)[r·cols + c] = x[r][c]. */
export function vec(grid: readonly (readonly number[])[]): number[] {
  return grid.flatMap((row) => [...row]);
}

/** Inverse of `vec`. */
export function unvec(values: readonly number[], rows: number, cols: number = rows): Grid {
  if (values.length !== rows * cols) {
    throw new Error(`unvec: ${values.length} values cannot fill ${rows}×${cols}`);
  }
  return Array.from({ length: rows }, (_, r) => values.slice(r * cols, (r + 1) * cols));
}

/** max |a − b| over all entries; throws if the shapes differ (that is a bug, not a difference). */
export function maxAbsDiff(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number {
  const [ra, ca] = gridShape(a, 'a');
  const [rb, cb] = gridShape(b, 'b');
  if (ra !== rb || ca !== cb) throw new Error(`maxAbsDiff: shapes differ (${ra}×${ca} vs ${rb}×${cb})`);
  let worst = 0;
  for (let r = 0; r < ra; r++) {
    for (let c = 0; c < ca; c++) worst = Math.max(worst, Math.abs(a[r][c] - b[r][c]));
  }
  return worst;
}
