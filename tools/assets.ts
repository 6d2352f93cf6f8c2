/**
 * Front-end assets that handouts inline, read from node_modules once per process and cached.
 *
 * Every asset is returned ready to drop into a page: scripts already made safe to sit inside a
 * <script> element, and the KaTeX stylesheet with its woff2 fonts turned into data: URIs (the
 * woff and ttf fallbacks are dropped: every browser that runs the handout's scripts reads woff2).
 * Nothing here refers to the network.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const cache = new Map<string, string>();

function cached(key: string, make: () => string): string {
  let value = cache.get(key);
  if (value === undefined) {
    value = make();
    cache.set(key, value);
  }
  return value;
}

/**
 * The folder of an installed package, found by walking up from this file and from the working
 * directory (package "exports" maps hide build files from require.resolve, so look on disk).
 */
export function packageDir(name: string): string {
  return cached(`dir:${name}`, () => {
    const starts = [__dirname, process.cwd()];
    for (const start of starts) {
      let dir = path.resolve(start);
      for (;;) {
        const candidate = path.join(dir, 'node_modules', name);
        if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
        const parent = path.dirname(dir);
        if (parent === dir) break;
        dir = parent;
      }
    }
    throw new Error(`handout assets: package "${name}" is not installed (looked upward from ${starts.join(', ')})`);
  });
}

function readPackageFile(name: string, file: string): string {
  const full = path.join(packageDir(name), file);
  try {
    return fs.readFileSync(full, 'utf8');
  } catch (e) {
    throw new Error(`handout assets: cannot read ${full}: ${(e as Error).message}`);
  }
}

/** The installed version of a package (shown in the page's generator comment). */
export function packageVersion(name: string): string {
  return cached(`version:${name}`, () => {
    const pkg = JSON.parse(readPackageFile(name, 'package.json')) as { version?: string };
    return pkg.version ?? 'unknown';
  });
}

/**
 * Makes script text safe inside an inline <script> element: the only sequence that can end it
 * early is `</script` (case-insensitive). `<\/` means the same in strings, templates, regexes.
 */
export function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1');
}

export type ScriptAsset = 'vega' | 'vega-lite' | 'vega-embed' | 'plotly';

const SCRIPT_FILES: Record<ScriptAsset, [pkg: string, file: string]> = {
  vega: ['vega', 'build/vega.min.js'],
  'vega-lite': ['vega-lite', 'build/vega-lite.min.js'],
  'vega-embed': ['vega-embed', 'build/vega-embed.min.js'],
  plotly: ['plotly.js-dist-min', 'plotly.min.js'],
};

/** A minified browser build (UMD, defines a global: vega, vegaLite, vegaEmbed, Plotly). */
export function scriptAsset(name: ScriptAsset): string {
  return cached(`script:${name}`, () => {
    const [pkg, file] = SCRIPT_FILES[name];
    // Drop the trailing source-map comment: the .map file is not shipped with the handout.
    const js = readPackageFile(pkg, file).replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n');
    return scriptSafe(js);
  });
}

/** vega, vega-lite and vega-embed, in load order. */
export function vegaScripts(): string[] {
  return [scriptAsset('vega'), scriptAsset('vega-lite'), scriptAsset('vega-embed')];
}

export function plotlyScript(): string {
  return scriptAsset('plotly');
}

interface KatexCssParts {
  /** the stylesheet without its @font-face rules */
  rules: string;
  /** family name → its @font-face rules (woff2 only, data: URIs) */
  faces: Map<string, string>;
  /** family name → selectors (as lists of class names) whose text is set in that family */
  users: Map<string, string[][]>;
}

function katexParts(): KatexCssParts {
  const key = 'katex.parts';
  const hit = katexPartsCache.get(key);
  if (hit) return hit;
  const dist = path.join(packageDir('katex'), 'dist');
  const css = fs.readFileSync(path.join(dist, 'katex.min.css'), 'utf8');
  const faces = new Map<string, string>();
  const rules = css.replace(/@font-face\{([^}]*)\}/g, (_whole, body: string) => {
    const family = /font-family:\s*["']?([\w-]+)/.exec(body)?.[1];
    const woff2 = /url\(([^)]+\.woff2)\)/.exec(body);
    if (!family || !woff2) throw new Error('handout assets: unexpected KaTeX @font-face rule');
    const rel = woff2[1]!.replace(/^["']|["']$/g, '');
    const data = fs.readFileSync(path.join(dist, rel)).toString('base64');
    const face = `@font-face{${body.replace(/src:[^;}]*/, `src:url(data:font/woff2;base64,${data}) format("woff2")`)}}`;
    faces.set(family, (faces.get(family) ?? '') + face);
    return '';
  });
  if (/url\((?!data:)/.test(rules)) throw new Error('handout assets: KaTeX CSS refers to a file');
  const users = new Map<string, string[][]>();
  for (const m of rules.matchAll(/([^{}]+)\{([^}]*)\}/g)) {
    const family = /font(?:-family)?:[^;}]*?(KaTeX_\w+)/.exec(m[2]!)?.[1];
    if (!family) continue;
    const list = users.get(family) ?? [];
    for (const sel of m[1]!.split(',')) {
      list.push([...sel.matchAll(/\.([\w-]+)/g)].map((c) => c[1]!).filter((c) => c !== 'katex'));
    }
    users.set(family, list);
  }
  const parts = { rules, faces, users };
  katexPartsCache.set(key, parts);
  return parts;
}
const katexPartsCache = new Map<string, KatexCssParts>();

/**
 * katex.min.css with each @font-face reduced to its woff2 source, inlined as a data: URI (all
 * 20 faces: about 400 kB). Given the page's HTML, only the families that page's math uses are
 * embedded (KaTeX_Main always; KaTeX_Math for italic letters; KaTeX_Size1-4 for big
 * delimiters …), chosen from the class names KaTeX put in the markup: typically 150-250 kB.
 */
export function katexCss(pageHtml?: string): string {
  const { rules, faces, users } = katexParts();
  let wanted: string[];
  if (pageHtml === undefined) {
    wanted = [...faces.keys()];
  } else {
    const classes = new Set<string>();
    for (const m of pageHtml.matchAll(/\sclass="([^"]*)"/g)) for (const c of m[1]!.split(/\s+/)) if (c) classes.add(c);
    wanted = [...faces.keys()].filter(
      (family) => family === 'KaTeX_Main' || (users.get(family) ?? []).some((sel) => sel.length > 0 && sel.every((c) => classes.has(c))),
    );
  }
  return wanted.map((f) => faces.get(f)!).join('') + rules;
}

/** A small light highlight.js theme (github) for server-side highlighted code. */
export function highlightCss(): string {
  return cached('hljs.css', () =>
    readPackageFile('highlight.js', 'styles/github.min.css')
      .replace(/\/\*[\s\S]*?\*\//g, '') // the theme's banner names a URL; keep pages URL-free
      .trim(),
  );
}

/** Versions of the inlined libraries, for the page's generator note. */
export function assetVersions(): Record<string, string> {
  const names = ['vega', 'vega-lite', 'vega-embed', 'plotly.js-dist-min', 'katex', 'highlight.js', 'markdown-it'];
  const out: Record<string, string> = {};
  for (const n of names) out[n] = packageVersion(n);
  return out;
}
