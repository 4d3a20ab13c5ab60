#!/usr/bin/env node
/**
 * Measures, with real processes, how long the CLI takes to a clear error or exit in the lifecycle scenarios of
 * issues 11 and 12, against a minimal OpenAI-protocol server on loopback. Prints a markdown table.
 *   npm run build && node scripts/measure-lifecycle.mjs     (needs the MMLU data in ../shared/data/mmlu)
 */
import http from 'node:http';
import net from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const DATA = resolve(ROOT, '..', 'shared', 'data', 'mmlu');
const work = mkdtempSync(join(tmpdir(), 'rolyplay-measure-'));
const env = { ...process.env, K: 'sk-x', TEMPORAL_CLI: process.env.TEMPORAL_CLI ?? join(ROOT, '.temporal', 'bin', 'temporal') };
delete env.TEMPORAL_ADDRESS;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let latency = 0;
function fakeServer(port = 0) {
  const srv = http.createServer((req, res) => {
    let b = '';
    req.on('data', (c) => (b += c));
    req.on('end', () =>
      setTimeout(() => {
        const body = JSON.parse(b || '{}');
        const top = ['A', 'B', 'C', 'D'].map((token, i) => ({ token, logprob: -0.1 - i, bytes: [] }));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model: body.model, usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
          choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'A' }, logprobs: body.logprobs ? { content: [{ token: 'A', logprob: -0.1, bytes: [], top_logprobs: top }] } : null }] }));
      }, latency),
    );
  });
  return new Promise((r) => srv.listen(port, '127.0.0.1', () => r({ srv, port: srv.address().port })));
}
const freePort = () => new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });

function config(name, baseURL, outDir = join(work, 'runs'), limit = 8) {
  const file = join(work, `${name}.yaml`);
  writeFileSync(file, JSON.stringify({
    name, task: 'mmlu', data: { path: DATA, subjects: ['abstract_algebra', 'anatomy'], limit },
    personas: ['baseline', { name: 't', personas: ['poet', 'anatomy expert', 'abstract algebra expert'] }], scoring: { mode: 'logits' },
    model: { backend: 'openai', model: 'm', base_url: baseURL, api_key_env: 'K', concurrency: 4, timeout_s: 5 },
    execution: { questions_per_batch: 2, batches_per_shard: 2 }, output: { dir: outDir },
  }));
  return file;
}

function cli(args, extraEnv = {}) {
  const t0 = Date.now();
  const p = spawn(process.execPath, [CLI, ...args], { cwd: work, env: { ...env, ...extraEnv } });
  const lines = [];
  let out = '';
  const on = (d) => { out += d; for (const l of String(d).split('\n')) if (l) lines.push({ t: (Date.now() - t0) / 1000, l }); };
  p.stdout.on('data', on);
  p.stderr.on('data', on);
  const exited = new Promise((r) => p.on('exit', (code) => r({ code, t: (Date.now() - t0) / 1000 })));
  return {
    p, lines, exited, now: () => (Date.now() - t0) / 1000, get out() { return out; },
    async waitFor(re, ms = 120_000) { const end = Date.now() + ms; for (;;) { const h = lines.find((x) => re.test(x.l)); if (h) return h.t; if (Date.now() > end) throw new Error(`no ${re}: ${out}`); await sleep(50); } },
  };
}
const firstError = (r) => r.lines.find((x) => x.l.startsWith('error:'))?.l.slice(0, 150) ?? '(no error line)';
const rows = [];
/** ONLY=closed,sigint,... runs a subset (status needs sigint's run folder). */
const want = (name) => !process.env.ONLY || process.env.ONLY.split(',').includes(name);
const row = (scenario, sees, seconds, how) => { rows.push({ scenario, sees, seconds, how }); console.error(`${scenario}: ${seconds}`); };
const owner = (dir) => JSON.parse(readFileSync(join(dir, 'owner.json'), 'utf8'));
const cellsStored = (dir) => (existsSync(join(dir, 'results.sqlite')) ? Number(execFileSync('python3', ['-c', `import sqlite3;print(sqlite3.connect('file:${join(dir, 'results.sqlite')}?mode=ro',uri=True).execute('select count(*) from cells').fetchone()[0])`]).toString()) : 0);
async function untilCells(dir, n = 1) { for (let i = 0; i < 1200 && (() => { try { return cellsStored(dir) < n; } catch { return true; } })(); i++) await sleep(100); }

const { srv, port } = await fakeServer();
const good = `http://127.0.0.1:${port}/v1`;

// 12: closed port
if (want('closed')) {
  const closed = await freePort();
  const r = cli(['run', config('closed', `http://127.0.0.1:${closed}/v1`), '--headless']);
  const started = await r.waitFor(/^started run/);
  const first = await r.waitFor(/^planning: attempt \d/);
  const { t } = await r.exited;
  row('backend on a closed port (planning)', `"planning: attempt 1 of 5 failed, retrying: … connection failed (ECONNREFUSED)"; then ${firstError(r).slice(0, 60)}…`, `first failure ${(first - started).toFixed(1)} s after start; exit 1 after ${(t - started).toFixed(1)} s`, 'closed');
}
// 12: port opened later
if (want('later')) {
  const later = await freePort();
  const r = cli(['run', config('later', `http://127.0.0.1:${later}/v1`), '--headless']);
  const first = await r.waitFor(/^planning: attempt \d/);
  const { srv: s2 } = await fakeServer(later);
  const { code, t } = await r.exited;
  s2.close();
  row('port opened during planning', `attempt failures shown, then the run completes (exit ${code})`, `done ${(t - first).toFixed(1)} s after the port opened`, 'later');
}
// 11: Ctrl-C
if (want('sigint')) {
  latency = 300;
  const r = cli(['run', config('sigint', good), '--headless']);
  await r.waitFor(/^started run/);
  await untilCells(join(work, 'runs', 'sigint'));
  const sent = r.now();
  r.p.kill('SIGINT');
  const { t } = await r.exited;
  latency = 0;
  const kept = r.lines.find((x) => x.l.startsWith('stopped in'))?.l ?? '(none)';
  row('Ctrl-C mid-run', kept.slice(0, 110) + '…' + (/\bWARN\b/.test(r.out) ? ' (WARN seen!)' : ', no WARN'), `${(t - sent).toFixed(1)} s after SIGINT`, 'sigint');
}
// 11: output folders
if (want('badout')) for (const [name, dir] of [['output.dir=/proc/nope', '/proc/nope'], ['output.dir is a file', join(work, 'afile')]]) {
  writeFileSync(join(work, 'afile'), 'x');
  const r = cli(['run', config('badout', good), `output.dir=${dir}`, '--headless']);
  const { t } = await r.exited;
  row(name, firstError(r), `${t.toFixed(1)} s (process start included)`, 'badout');
}
// 11: TEMPORAL_ADDRESS unreachable (run and status)
if (want('noaddr')) {
  const closed = await freePort();
  const r = cli(['run', config('noaddr', good), '--headless'], { TEMPORAL_ADDRESS: `127.0.0.1:${closed}` });
  const { t } = await r.exited;
  row('TEMPORAL_ADDRESS closed (run)', firstError(r), `${t.toFixed(1)} s`, 'noaddr');
  const s = cli(['status', join(work, 'runs', 'sigint')], { TEMPORAL_ADDRESS: `127.0.0.1:${closed}` });
  const st = await s.exited;
  row('TEMPORAL_ADDRESS closed (status)', s.lines.map((x) => x.l).filter((l) => /cells stored|workflow/.test(l)).join(' / ').slice(0, 140), `${st.t.toFixed(1)} s, exit ${st.code}`, 'status');
}
// 11: two runs of one name; kill -9 and reuse
if (want('twice')) {
  latency = 200;
  const file = config('twice', good);
  const a = cli(['run', file, '--headless']);
  await a.waitFor(/^started run/);
  const b = cli(['run', file, '--headless']);
  const [ra, rb] = await Promise.all([a.exited, b.exited]);
  if (ra.code || rb.code) console.error(`twice failed:\n--- a\n${a.out}\n--- b\n${b.out}`);
  row('second `run` of the same name', `${b.lines.find((x) => /attaching/.test(x.l))?.l} (both exit ${ra.code}/${rb.code})`, `attached ${b.lines.find((x) => /^attached/.test(x.l))?.t.toFixed(1)} s`, 'twice');
  const k = cli(['run', config('kill9', good), '--headless']);
  await k.waitFor(/^started run/);
  await untilCells(join(work, 'runs', 'kill9'));
  k.p.kill('SIGKILL');
  await k.exited;
  const again = cli(['run', join(work, 'kill9.yaml'), '--headless']);
  const reused = await again.waitFor(/^reusing the dev server/);
  const ra2 = await again.exited;
  row('kill -9 of `run`, then `run` again', `"reusing the dev server left running…" then the run completes (exit ${ra2.code})`, `reuse found in ${reused.toFixed(1)} s`, 'kill9');
  latency = 0;
}
// 11: killed dev server
if (want('deadsrv')) {
  latency = 300;
  const dir = join(work, 'runs', 'deadsrv');
  const r = cli(['run', config('deadsrv', good), '--headless']);
  await r.waitFor(/^started run/);
  await untilCells(dir);
  const t0 = r.now();
  process.kill(owner(dir).serverPid, 'SIGKILL');
  const { t } = await r.exited;
  latency = 0;
  row('dev server killed mid-run', firstError(r), `${(t - t0).toFixed(1)} s after the kill`, 'deadsrv');
}
// 11: detach / stop
if (want('bg')) {
  latency = 2000;
  const t0 = Date.now();
  const d = cli(['run', config('bg', good), '--headless', '--detach']);
  const dd = await d.exited;
  await untilCells(join(work, 'runs', 'bg'));
  const s = cli(['stop', 'bg', '--output', join(work, 'runs')]);
  const ss = await s.exited;
  latency = 0;
  row('`run --detach` then `stop`', `${d.lines.find((x) => /background/.test(x.l))?.l.slice(0, 80)}…; ${s.lines[0]?.l.slice(0, 70)}…`, `detach returns in ${dd.t.toFixed(1)} s; stop ${ss.t.toFixed(1)} s`, 'bg');
  void t0;
}
// 11: disk full (root + tmpfs)
if (want('full')) try {
  const disk = join(work, 'disk');
  mkdirSync(disk);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', disk]);
  try {
    latency = 300;
    const r = cli(['run', config('full', good, disk), '--headless']);
    await r.waitFor(/^started run/);
    await untilCells(join(disk, 'full'));
    try { execFileSync('dd', ['if=/dev/zero', `of=${join(disk, 'filler')}`, 'bs=1M'], { stdio: 'ignore' }); } catch { /* full */ }
    const t0 = r.now();
    const { t } = await r.exited;
    latency = 0;
    row('disk fills mid-run (tmpfs)', firstError(r), `${(t - t0).toFixed(1)} s after the disk filled`, 'full');
  } finally {
    rmSync(join(disk, 'filler'), { force: true });
    execFileSync('umount', ['-l', disk]);
  }
} catch (err) {
  row('disk fills mid-run', `not measured: ${err.message.split('\n')[0]}`, '-', 'full');
}
srv.close();
console.log('| scenario | what the user sees | seconds |\n| --- | --- | --- |');
for (const r of rows) console.log(`| ${r.scenario} | ${r.sees.replace(/\|/g, '\\|')} | ${r.seconds} |`);
