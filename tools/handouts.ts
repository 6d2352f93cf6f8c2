/**
 * The main job: executes every notebook headless on the tslab kernel and writes one
 * self-contained HTML handout per notebook plus an index, in lecture order.
 *
 *   npm run handouts                      full profile (the real lesson) into handouts/
 *   npm run handouts -- --profile quick   every cell on tiny data, in seconds
 *   npm run handouts -- --only 02-convolution-arithmetic --out /tmp/h
 *
 * A failing cell fails the job, naming the notebook, the cell and the error text.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { countFigures, listNotebooks, NOTEBOOK_DIR, readNotebook, ROOT } from './notebooks';
import { cpus } from 'node:os';
import { notebookSummary, notebookTitle, renderIndexHtml, renderNotebookHtml } from './render-html';

export type Profile = 'quick' | 'full';

export interface BuildOptions {
  profile: Profile;
  outDir: string;
  only?: string[];     // notebook names (without .ipynb)
  concurrency?: number;
  log?: (line: string) => void;
  notebookDir?: string; // default notebooks/ (tests point it at fixtures)
}

export interface NotebookResult {
  name: string;
  title: string;
  summary?: string;
  ok: boolean;
  seconds: number;
  figures: number;       // figures in the executed notebook
  htmlPath: string;
  executedPath: string;
  error?: { cell?: number; codeCell?: number; kind?: string; source?: string; message: string };
}

function pythonPath(): string {
  const file = join(ROOT, '.kit', 'python');
  if (!existsSync(file)) throw new Error("the kit is not set up: run 'bash tools/setup.sh' (npm run handouts and npm test do it for you)");
  return readFileSync(file, 'utf8').trim();
}

function runExecutor(input: string, output: string, profile: Profile, threads: string): Promise<{ ok: boolean; seconds: number; error?: NotebookResult['error'] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(pythonPath(), [join(ROOT, 'tools', 'execute.py'), input, output], {
      env: { ...process.env, KIT_PROFILE: profile, KIT_THREADS: threads, JUPYTER_PATH: join(ROOT, '.kit', 'jupyter') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', () => {
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last));
      } catch {
        resolve({ ok: false, seconds: 0, error: { message: `the notebook executor crashed:\n${stderr.slice(-3000) || stdout.slice(-3000)}` } });
      }
    });
  });
}

export function describeFailure(r: NotebookResult): string {
  const e = r.error;
  if (!e) return `${r.name}: failed`;
  const where = e.cell ? `cell ${e.cell} (code cell ${e.codeCell})` : 'before any cell ran';
  const src = e.source ? `\n  source: ${e.source.split('\n').slice(0, 3).join('\n          ')}` : '';
  return `notebooks/${r.name}.ipynb, ${where}: ${e.kind ?? 'error'}${src}\n  error:  ${e.message.split('\n').join('\n          ')}`;
}

export async function buildHandouts(options: BuildOptions): Promise<NotebookResult[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  const dir = options.notebookDir ?? NOTEBOOK_DIR;
  const names = listNotebooks(dir).map((f) => basename(f, '.ipynb'));
  const wanted = options.only?.length ? options.only : names;
  for (const w of wanted) {
    if (!names.includes(w)) throw new Error(`no notebook named '${w}' in ${dir} (have: ${names.join(', ')})`);
  }
  const executedDir = join(options.outDir, 'executed');
  mkdirSync(executedDir, { recursive: true });

  const results: NotebookResult[] = new Array(wanted.length);
  const concurrency = Math.max(1, options.concurrency ?? 2);
  // Notebooks running side by side share the cores: each gets its share of threads (unless
  // KIT_THREADS says otherwise), so that no two thread pools wait on each other's cores.
  const side = Math.min(concurrency, wanted.length);
  const threads = process.env.KIT_THREADS || (side > 1 ? String(Math.max(1, Math.floor(cpus().length / side))) : 'auto');
  let next = 0;
  const worker = async () => {
    while (next < wanted.length) {
      const i = next++;
      const name = wanted[i];
      const input = join(dir, `${name}.ipynb`);
      const executedPath = join(executedDir, `${name}.ipynb`);
      log(`▶ ${name} (${options.profile} profile)`);
      const run = await runExecutor(input, executedPath, options.profile, threads);
      const nb = existsSync(executedPath) ? readNotebook(executedPath) : readNotebook(input);
      results[i] = {
        name, title: notebookTitle(nb) ?? name, summary: notebookSummary(nb), ok: run.ok, seconds: run.seconds, figures: countFigures(nb),
        htmlPath: join(options.outDir, `${name}.html`), executedPath, error: run.error,
      };
      log(run.ok ? `✔ ${name}: ${run.seconds.toFixed(1)} s, ${results[i].figures} figures` : `✘ ${describeFailure(results[i])}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));

  const builtAt = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  results.forEach((r, i) => {
    const nb = readNotebook(r.executedPath);
    const html = renderNotebookHtml(nb, {
      title: r.title, notebookName: `${r.name}.ipynb`, indexHref: 'index.html',
      prevHref: i > 0 ? `${results[i - 1].name}.html` : undefined,
      nextHref: i < results.length - 1 ? `${results[i + 1].name}.html` : undefined,
      profile: options.profile, builtAt,
    });
    writeFileSync(r.htmlPath, html);
  });
  writeFileSync(join(options.outDir, 'index.html'), renderIndexHtml(
    results.map((r) => ({ href: `${r.name}.html`, title: r.title, ok: r.ok, summary: r.summary, error: r.ok ? undefined : describeFailure(r) })),
    { title: 'Attention & semantic segmentation: lecture handouts', builtAt, profile: options.profile },
  ));
  return results;
}

function parseArgs(argv: string[]): BuildOptions {
  const opts: BuildOptions = { profile: 'full', outDir: join(ROOT, 'handouts'), only: [] };
  const env = process.env.KIT_PROFILE;
  if (env === 'quick' || env === 'full') opts.profile = env;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--profile') {
      const p = value();
      if (p !== 'quick' && p !== 'full') throw new Error(`--profile must be quick or full (got '${p}')`);
      opts.profile = p;
    } else if (a === '--out') opts.outDir = value();
    else if (a === '--only') opts.only!.push(value().replace(/\.ipynb$/, ''));
    else if (a === '--concurrency') opts.concurrency = Number(value());
    else throw new Error(`unknown option '${a}' (options: --profile quick|full, --out DIR, --only NAME, --concurrency N)`);
  }
  return opts;
}

if (require.main === module) {
  (async () => {
    const t0 = Date.now();
    const opts = parseArgs(process.argv.slice(2));
    const results = await buildHandouts(opts);
    const failed = results.filter((r) => !r.ok);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    console.log(`\nHandouts in ${relative(process.cwd(), opts.outDir) || '.'}/index.html (${results.length} notebooks, ${opts.profile} profile, ${secs} s)`);
    if (failed.length) {
      console.error(`\n${failed.length} notebook(s) failed:\n${failed.map(describeFailure).join('\n\n')}`);
      process.exit(1);
    }
  })().catch((e) => {
    console.error(`handouts: ${(e as Error).message}`);
    process.exit(1);
  });
}
