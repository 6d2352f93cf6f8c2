/**
 * The notebooks as a reader gets them: committed clean, importing only what the lib exports,
 * running top to bottom in the quick profile with zero errors, and their handouts opening
 * offline in Chromium with every figure drawn.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import * as ts from 'typescript';
import { buildHandouts, describeFailure, type NotebookResult } from '../tools/handouts';
import { listNotebooks, NOTEBOOK_DIR, readNotebook, ROOT, sourceText } from '../tools/notebooks';
import { checkHandout, interact, setVegaSlider, withBrowser } from '../tools/browser';

const notebooks = listNotebooks();

/** The names lib/index.ts exports (values and types), read by the TypeScript checker. */
function libExports(): Set<string> {
  const entry = join(ROOT, 'lib', 'index.ts');
  const program = ts.createProgram([entry], { strict: true, esModuleInterop: true, skipLibCheck: true, noEmit: true });
  const checker = program.getTypeChecker();
  const symbol = checker.getSymbolAtLocation(program.getSourceFile(entry)!);
  assert.ok(symbol, 'lib/index.ts has no module symbol');
  return new Set(checker.getExportsOfModule(symbol).map((s) => s.name));
}

/** Every import statement in the notebook's code cells: its module and the names it binds. */
function importsOf(code: string): { module: string; names: string[]; namespace: boolean }[] {
  const file = ts.createSourceFile('cell.ts', code, ts.ScriptTarget.ES2022, true);
  const found: { module: string; names: string[]; namespace: boolean }[] = [];
  file.forEachChild((node) => {
    if (ts.isImportDeclaration(node)) {
      const module = (node.moduleSpecifier as ts.StringLiteral).text;
      const bindings = node.importClause?.namedBindings;
      const names = bindings && ts.isNamedImports(bindings)
        ? bindings.elements.map((e) => (e.propertyName ?? e.name).text) : [];
      found.push({ module, names, namespace: !!bindings && ts.isNamespaceImport(bindings) });
    } else if (ts.isImportEqualsDeclaration(node)) {
      found.push({ module: node.moduleReference.getText(), names: [], namespace: true });
    }
  });
  if (/\brequire\s*\(/.test(code)) found.push({ module: 'require(...)', names: [], namespace: true });
  return found;
}


/**
 * Object shorthand `{ name }` for a variable declared in an EARLIER cell throws ReferenceError in
 * tslab 1.0.22 (its cell rewriting misses shorthand properties): names used that way must be
 * declared in the same cell.
 */
function shorthandFromEarlierCells(code: string): string[] {
  const file = ts.createSourceFile('cell.ts', code, ts.ScriptTarget.ES2022, true);
  const declared = new Set<string>();
  const used: string[] = [];
  const addBinding = (name: ts.BindingName) => {
    if (ts.isIdentifier(name)) declared.add(name.text);
    else for (const el of name.elements) if (!ts.isOmittedExpression(el)) addBinding(el.name);
  };
  const visit = (node: ts.Node) => {
    if (ts.isVariableDeclaration(node) || ts.isParameter(node) || ts.isBindingElement(node)) addBinding(node.name);
    if ((ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node)) && node.name) declared.add(node.name.text);
    if (ts.isShorthandPropertyAssignment(node)) used.push(node.name.text);
    node.forEachChild(visit);
  };
  visit(file);
  return used.filter((n) => !declared.has(n));
}

describe('notebooks', () => {
  it('there is at least one notebook, named NN-topic.ipynb in lecture order', () => {
    assert.ok(notebooks.length >= 1, 'no notebooks found in notebooks/');
  });

  for (const file of notebooks) {
    describe(file, () => {
      const nb = readNotebook(join(NOTEBOOK_DIR, file));

      it('is committed clean: no outputs, no execution counts', () => {
        const dirty = nb.cells.flatMap((c, i) =>
          c.cell_type === 'code' && ((c.outputs?.length ?? 0) > 0 || (c.execution_count ?? null) !== null) ? [i + 1] : []);
        assert.deepEqual(dirty, [], `cells with outputs or execution counts: ${dirty.join(', ')} (clear them before committing)`);
      });

      it('runs on the tslab kernel', () => {
        const spec = nb.metadata?.kernelspec;
        assert.equal(spec?.name, 'tslab');
      });

      it('imports the lib with one import line, and only names the lib exports', () => {
        const exported = libExports();
        const imports = nb.cells.filter((c) => c.cell_type === 'code').flatMap((c) => importsOf(sourceText(c)));
        assert.equal(imports.length, 1, `expected exactly one import, found: ${imports.map((i) => i.module).join(', ')}`);
        const [imp] = imports;
        assert.equal(imp.module, '@lecture/kit');
        assert.ok(!imp.namespace, 'import the names you use: import { setup, show, … } from "@lecture/kit"');
        const missing = imp.names.filter((n) => !exported.has(n));
        assert.deepEqual(missing, [], `imported but not exported by lib/index.ts: ${missing.join(', ')}`);
      });

      it('uses no object shorthand for variables of earlier cells (a tslab quirk: ReferenceError)', () => {
        const bad = nb.cells.flatMap((c, i) => c.cell_type === 'code'
          ? shorthandFromEarlierCells(sourceText(c)).map((n) => `cell ${i + 1}: { ${n} } → write { ${n}: ${n} }`) : []);
        assert.deepEqual(bad, []);
      });

      it('opens with a header and a setup cell that prints the runtime line', () => {
        const first = nb.cells[0];
        assert.equal(first.cell_type, 'markdown');
        assert.match(sourceText(first), /^# /m);
        const firstCode = nb.cells.find((c) => c.cell_type === 'code');
        assert.match(sourceText(firstCode!), /setup\(/);
      });
    });
  }
});

describe('notebooks executed headless (quick profile) and their handouts in Chromium', function () {
  let results: NotebookResult[] = [];
  const outDir = mkdtempSync(join(tmpdir(), 'kit-handouts-'));

  before(async function () {
    results = await buildHandouts({ profile: 'quick', outDir, log: () => {} });
  });

  it('every notebook runs top to bottom with zero errors', () => {
    const failed = results.filter((r) => !r.ok);
    assert.deepEqual(failed.map(describeFailure), []);
    assert.equal(results.length, notebooks.length);
  });

  it('every handout opens offline: no console errors, no network, every figure drawn', async () => {
    await withBrowser(async (browser) => {
      for (const r of results) {
        const check = await checkHandout(r.htmlPath, { browser });
        const name = basename(r.htmlPath);
        assert.deepEqual(check.consoleErrors, [], `${name}: console errors`);
        assert.deepEqual(check.pageErrors, [], `${name}: page errors`);
        assert.deepEqual(check.blockedRequests, [], `${name}: tried to reach the network`);
        assert.deepEqual(check.failedRequests, [], `${name}: failed requests`);
        assert.ok(r.figures > 0, `${name}: the notebook showed no figures`);
        assert.equal(check.figures.length, r.figures, `${name}: figures on the page vs shown by the notebook`);
        const blank = check.figures.flatMap((f, i) => (f.rendered ? [] : [`${i + 1} (${f.kind})`]));
        assert.deepEqual(blank, [], `${name}: figures not rendered`);
      }
    });
  });

  it('every slider in every handout redraws its figure (the explorers work offline)', async () => {
    await withBrowser(async (browser) => {
      for (const r of results) {
        const { value: moved, check } = await interact(r.htmlPath, async (page) => {
          const done: string[] = [];
          const figures = await page.locator('.kit-figure').count();
          for (let f = 0; f < figures; f++) {
            const sliders = page.locator('.kit-figure').nth(f).locator('.vega-bindings input[type=range]');
            for (let j = 0; j < await sliders.count(); j++) {
              const slider = sliders.nth(j);
              const [name, min, max] = await Promise.all(['name', 'min', 'max'].map((a) => slider.getAttribute(a)));
              const value = await slider.inputValue();
              if (min === max) continue; // a one-setting slider cannot change anything
              const target = Number(value) === Number(max) ? Number(min) : Number(max);
              const { before, after } = await setVegaSlider(page, f, target, { name: name ?? undefined })
                .catch((e) => { throw new Error(`${basename(r.htmlPath)}: figure ${f + 1}, slider ${name} (${value} → ${target}) did not redraw: ${(e as Error).message.split("\n")[0]}`); });
              assert.notEqual(after, before, `${basename(r.htmlPath)}: figure ${f + 1}, slider ${name}`);
              done.push(`${f + 1}:${name}`);
            }
          }
          return done;
        }, { browser });
        assert.deepEqual(check.consoleErrors, [], `${basename(r.htmlPath)}: console errors while moving sliders`);
        if (r.name === '02-convolution-arithmetic') assert.ok(moved.length >= 9, `only ${moved.length} sliders moved: ${moved.join(', ')}`);
      }
    });
  });
});

describe('a failing notebook fails the build, naming the notebook, the cell and the error', function () {
  let results: NotebookResult[] = [];
  before(async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'kit-failing-'));
    results = await buildHandouts({ profile: 'quick', outDir, notebookDir: join(ROOT, 'test', 'fixtures', 'failing'), log: () => {} });
  });

  it('a type error: its text, not an empty <Error>', () => {
    const r = results.find((x) => x.name === '01-type-error')!;
    assert.equal(r.ok, false);
    assert.equal(r.error?.codeCell, 3);
    assert.equal(r.error?.cell, 4);
    assert.match(r.error!.message, /Type 'string' is not assignable to type 'number'/);
    const text = describeFailure(r);
    assert.match(text, /notebooks\/01-type-error\.ipynb, cell 4 \(code cell 3\)/);
    assert.match(text, /const n: number = "not a number"/);
  });

  it('a runtime error: its message and where it was thrown', () => {
    const r = results.find((x) => x.name === '02-runtime-error')!;
    assert.equal(r.ok, false);
    assert.equal(r.error?.codeCell, 2);
    assert.match(r.error!.message, /the data file is missing: run npm run fetch-data/);
  });

  it("the lib's types reach the kernel: a wrong argument to a lib function is a type error", () => {
    const r = results.find((x) => x.name === '03-lib-type-error')!;
    assert.equal(r.ok, false);
    assert.equal(r.error?.codeCell, 3, 'the cell using convOutputSize correctly must pass; the setup() call must fail');
    assert.match(r.error!.message, /Type 'string' is not assignable to type 'number'/);
  });

  it('the failed notebooks still get a handout and an index entry that says they failed', () => {
    for (const r of results) assert.ok(existsSync(r.htmlPath), `${r.htmlPath} missing`);
    const index = readFileSync(join(dirname(results[0].htmlPath), 'index.html'), 'utf8');
    assert.match(index, /FAILED|failed/);
  });
});

describe('the kernel survives a cell that prints and redraws as fast as it can', function () {
  it('every line and every figure arrives, in order, and the kernel does not die (zeromq EBUSY)', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'kit-flood-'));
    const [r] = await buildHandouts({ profile: 'quick', outDir, notebookDir: join(ROOT, 'test', 'fixtures', 'kernel'), log: () => {} });
    assert.equal(r.ok, true, r.ok ? '' : describeFailure(r));
    const executed = JSON.parse(readFileSync(r.executedPath, 'utf8')) as { cells: { outputs?: { output_type: string; text?: string | string[]; data?: Record<string, unknown> }[] }[] };
    const outputs = executed.cells[1].outputs ?? [];
    const text = outputs.filter((o) => o.output_type === 'stream').map((o) => ([] as string[]).concat(o.text ?? []).join('')).join('');
    const lines = text.split('\n').filter((l) => l.startsWith('line '));
    assert.deepEqual(lines, Array.from({ length: 300 }, (_, i) => `line ${i}`));
    const figures = outputs.filter((o) => o.output_type === 'display_data' && String(o.data?.['text/plain']).startsWith('Figure: figure '));
    assert.equal(figures.length, 300);
    assert.equal(String(figures[299].data?.['text/plain']), 'Figure: figure 299');
  });
});
