/**
 * `npm run bench`: our three training workloads next to the tuned PyTorch peer, measured in the
 * same invocation, alternating (peer, ours, ours, …, peer, …) so that both see the same machine.
 *
 *   tsx bench/run.ts [--workloads seg,s2s,stn] [--steps N] [--rounds N]
 *                    [--backend wasm|cpu|tensorflow] [--configs default,single,threads,workers] [--no-peer]
 *
 * Each of our measurements runs in its own child process (bench/child.ts), which reports the
 * median seconds per step after warm-up and its own peak RSS (VmHWM). Configurations of ours:
 *   default  setup()'s backend as a notebook gets it (wasm: XNNPACK on every free core, up to 4)
 *   single   the same on one thread (setup({ threads: 1 }))
 *   threads  XNNPACK on exactly 2 threads (setup({ threads: 2 }))
 *   workers  wasm data-parallel on 2 worker threads, half the batch each (bench/parallel.ts)
 * The peer is `bash ../shared/bench/peer.sh WORKLOAD STEPS`; if it cannot run, one line says why
 * and ours are printed alone.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import * as path from 'node:path';
import type { ChildResult } from './child';
import { WORKLOADS, type WorkloadName } from './workloads';

type Config = 'default' | 'single' | 'threads' | 'workers';
const CONFIG_ARGS: Record<Config, string[]> = { default: [], single: ['--threads', '1'], threads: ['--threads', '2'], workers: ['--workers', '2'] };
const PEER = process.env.BENCH_PEER ?? path.resolve(__dirname, '../../shared/bench/peer.sh');

interface PeerResult { median_s: number; min_s: number; rss_mb: number }

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function lastJsonLine<T>(text: string): T | undefined {
  const line = text.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  return line === undefined ? undefined : JSON.parse(line) as T;
}

function runOurs(workload: WorkloadName, config: Config, steps: number, backend: string | undefined): ChildResult | string {
  const args = [path.join(__dirname, 'child.ts'), workload, '--steps', String(steps), ...CONFIG_ARGS[config]];
  if (backend !== undefined) args.push('--backend', backend);
  const tsx = path.resolve(__dirname, '../node_modules/.bin/tsx');
  const r = spawnSync(tsx, args, { encoding: 'utf8', timeout: 20 * 60_000, maxBuffer: 1 << 24 });
  const result = r.status === 0 ? lastJsonLine<ChildResult>(r.stdout) : undefined;
  return result ?? `failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`;
}

function runPeer(workload: WorkloadName | 'mm', steps: number): PeerResult | string {
  const r = spawnSync('bash', [PEER, workload, String(steps)], { encoding: 'utf8', timeout: 20 * 60_000 });
  const result = r.status === 0 ? lastJsonLine<PeerResult>(r.stdout) : undefined;
  return result ?? `exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ')}`;
}

function fmt(x: number | undefined, digits = 3): string {
  return x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits);
}

function loadavg(): string {
  try { return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '); } catch { return 'unknown'; }
}

function machine(): string {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  let node = process.version;
  try { node += `, ${execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim()}`; } catch { /* not Linux */ }
  return `${cpus().length} cores (${model}), Node ${node}`;
}

async function main(): Promise<void> {
  const workloads = arg('workloads', WORKLOADS.join(',')).split(',') as WorkloadName[];
  for (const w of workloads) if (!WORKLOADS.includes(w)) throw new Error(`unknown workload '${w}' (${WORKLOADS.join(', ')})`);
  const steps = Number(arg('steps', '10'));
  const rounds = Number(arg('rounds', '2'));
  const backend = process.argv.includes('--backend') ? arg('backend', 'wasm') : undefined;
  const wasmish = backend === undefined || backend === 'wasm';
  const configs = arg('configs', wasmish ? 'default,single,workers' : 'default').split(',') as Config[];
  for (const c of configs) if (!(c in CONFIG_ARGS)) throw new Error(`unknown configuration '${c}' (${Object.keys(CONFIG_ARGS).join(', ')})`);
  let peerOk = !process.argv.includes('--no-peer');

  console.log(`# bench: ${new Date().toISOString().slice(0, 10)}, ${machine()}`);
  console.log(`# ${steps} timed steps per run after 2 warm-up steps; ${rounds} rounds, alternating with the peer; load average at start ${loadavg()}`);
  if (peerOk) {
    const probe = runPeer('mm', 1);
    if (typeof probe === 'string') {
      console.log(`# PyTorch peer cannot run (${PEER}: ${probe}); printing ours alone`);
      peerOk = false;
    }
  }

  type Row = { workload: WorkloadName; config: Config; runs: ChildResult[]; errors: string[] };
  const rows: Row[] = [];
  const peer = new Map<WorkloadName, PeerResult[]>();
  for (const workload of workloads) {
    const mine = configs.map((config): Row => ({ workload, config, runs: [], errors: [] }));
    rows.push(...mine);
    peer.set(workload, []);
    const samplePeer = () => {
      if (!peerOk) return;
      const p = runPeer(workload, steps);
      if (typeof p === 'string') console.log(`# peer ${workload}: ${p}`);
      else { peer.get(workload)!.push(p); process.stderr.write(`  peer ${workload}: ${fmt(p.median_s)} s\n`); }
    };
    samplePeer();
    for (let r = 0; r < rounds; r++) {
      for (const row of mine) {
        const out = runOurs(workload, row.config, steps, backend);
        if (typeof out === 'string') row.errors.push(out);
        else { row.runs.push(out); process.stderr.write(`  ours ${workload} ${row.config}: ${fmt(out.median_s)} s\n`); }
      }
      samplePeer();
    }
  }

  console.log('');
  console.log('| workload | backend | ours s/step | PyTorch s/step | ours/PyTorch | ours GFLOP/s | PyTorch GFLOP/s | peak RSS MB ours / PyTorch | ours CPU s/step | best step ours / PyTorch (ratio) |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    const p = peer.get(row.workload) ?? [];
    const peerS = p.length ? median(p.map((x) => x.median_s)) : undefined;
    const peerRss = p.length ? Math.max(...p.map((x) => x.rss_mb)) : undefined;
    if (row.runs.length === 0) {
      console.log(`| ${row.workload} | ${row.config} | ${row.errors[0] ?? 'no run'} | ${fmt(peerS)} | | | | | | |`);
      continue;
    }
    const first = row.runs[0];
    const ours = median(row.runs.map((x) => x.median_s));
    const rss = Math.max(...row.runs.map((x) => x.rss_mb));
    // The fastest single step of all runs, each side: the least disturbed by other load.
    const oursBest = Math.min(...row.runs.map((x) => x.min_s));
    const peerBest = p.length ? Math.min(...p.map((x) => x.min_s)) : undefined;
    const label = first.backend + (row.config === 'workers' ? ` ×${first.workers} workers`
      : ` ×${first.threads} thread${first.threads === 1 ? '' : 's'}${row.config === 'default' ? ' (default)' : ''}`);
    console.log(`| ${row.workload} | ${label} | ${fmt(ours)} | ${fmt(peerS)} | ${peerS ? fmt(ours / peerS, 1) + '×' : '–'} | ` +
      `${fmt(first.flops / ours / 1e9, 1)} | ${peerS ? fmt(first.flops / peerS / 1e9, 1) : '–'} | ${rss} / ${peerRss ?? '–'} | ` +
      `${fmt(median(row.runs.map((x) => x.cpu_s)))} | ${fmt(oursBest)} / ${fmt(peerBest)}${peerBest ? ` (${fmt(oursBest / peerBest, 1)}×)` : ''} |`);
  }
  console.log('');
  console.log('Per-run medians (s/step), in the order run:');
  for (const row of rows) {
    console.log(`  ${row.workload} ${row.config}: ${row.runs.map((x) => fmt(x.median_s)).join(' ')}${row.errors.length ? ` (${row.errors.length} failed: ${row.errors[0]})` : ''}`);
  }
  for (const [w, p] of peer) if (p.length) console.log(`  ${w} PyTorch: ${p.map((x) => fmt(x.median_s)).join(' ')}`);
  console.log('FLOPs per step: analytic (bench/workloads.ts), a multiply-add = 2, forward + backward = 3 × forward; the same count for both.');
  console.log('CPU s/step: CPU time of our process per step, all its threads (the work done, whatever the load).');
  console.log('Best step: the fastest timed step of all runs on each side, the figure least disturbed by other load on the machine.');
  console.log(`# load average at end ${loadavg()}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
