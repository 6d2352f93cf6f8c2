import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Notebook, NotebookCell } from './render-html';

export type { Notebook, NotebookCell, NotebookOutput } from './render-html';

export const ROOT = join(__dirname, '..');
export const NOTEBOOK_DIR = join(ROOT, 'notebooks');

/** The lecture's notebooks in lecture order (file names start with the section number). */
export function listNotebooks(dir = NOTEBOOK_DIR): string[] {
  return readdirSync(dir).filter((f) => /^\d\d-.*\.ipynb$/.test(f)).sort();
}

export function readNotebook(path: string): Notebook {
  let nb: Notebook;
  try {
    nb = JSON.parse(readFileSync(path, 'utf8')) as Notebook;
  } catch (e) {
    throw new Error(`${path} is not valid notebook JSON (${(e as Error).message}): restore it from git`);
  }
  if (!Array.isArray(nb.cells)) throw new Error(`${path} has no cells array: is it an nbformat 4 notebook?`);
  return nb;
}

export function sourceText(cell: NotebookCell): string {
  return Array.isArray(cell.source) ? cell.source.join('') : cell.source;
}

export const FIGURE_MIMES = ['application/vnd.vegalite.v5+json', 'application/vnd.plotly.v1+json', 'image/svg+xml', 'image/png', 'image/jpeg'];

/** How many figures the executed notebook shows (a bundle with any figure mime type counts once). */
export function countFigures(nb: Notebook): number {
  let n = 0;
  for (const cell of nb.cells) {
    for (const out of cell.outputs ?? []) {
      if (out.data && FIGURE_MIMES.some((m) => m in out.data!)) n++;
    }
  }
  return n;
}
