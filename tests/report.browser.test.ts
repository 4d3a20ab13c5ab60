/**
 * The reports of the two demo runs, opened in a real browser: Debian's Chromium (`/usr/bin/chromium`, installed by
 * .ci/run) driven by playwright-core. The demos run through the CLI as a user runs them (own dev server, the
 * shipped random-weight model), smaller via overrides; the report is the one the end of the run wrote. Checked: no
 * console error, no request beyond the file itself, every figure present with one mark per persona / cell / age as
 * the run's config implies. Screenshots go to tests/.tmp/screenshots (or $REPORT_SCREENSHOTS).
 */
import { testStore } from './support/storeEnv.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawn } from 'node:child_process';
import { parse } from 'csv-parse/sync';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PACKAGE_ROOT } from '../experiment/load.js';
import { subjectCategory } from '../tasks/mmlu/categories.js';
import { holmAdjust, mcnemarExact } from '../stats/paired.js';
import type { VisionMetrics } from '../tasks/vision/metrics.js';
import { tmpDir } from './support/harness.js';
// Under ROLYPLAY_TEST_STORE=postgres the runs' cells are in this file's own database: `ls` lists them from there, and
// `report` and `ui` find them by name (the run folders then hold the report and the dev server's db, no results.sqlite).


const CLI = join(PACKAGE_ROOT, 'dist', 'cli', 'main.js');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = process.env.REPORT_SCREENSHOTS ?? join(PACKAGE_ROOT, 'tests', '.tmp', 'screenshots');
const MMLU_LIMIT = 4;
const BANDIT_GAMES = 4;
/**
 * The vision demo (toy CUB set, 6 personas) with the shipped random-weight LLM (fast, and its warning must show), and
 * the same with another describe seed and `truncation: eos`, for `compare` on the same images.
 */
const RANDOM_LLM = `models.llm={backend: onnx, path: ${join(PACKAGE_ROOT, 'models', 'tiny-random-llama')}, variant: fp32}`;
const VL_A = 'vl-demo';
const VL_B = 'vl-eos';

function runCli(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_CLI: inject('temporalCli') };
  delete env.TEMPORAL_ADDRESS;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd, env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Opened {
  page: Page;
  errors: string[];
  requests: string[];
}

let browser: Browser;
const out = tmpDir('rolyplay-report-');
let mmlu: { code: number | null; stdout: string; stderr: string };
let bandit: { code: number | null; stdout: string; stderr: string };
let chat: { code: number | null; stdout: string; stderr: string };
let vlA: { code: number | null; stdout: string; stderr: string };
let vlB: { code: number | null; stdout: string; stderr: string };

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium), as .ci/run does`);
  mkdirSync(SHOTS, { recursive: true });
  const vl = (name: string, ...more: string[]) =>
    runCli(['run', join(PACKAGE_ROOT, 'configs', 'vl-demo.yaml'), '--headless', `output.dir=${out}`, `name=${name}`, RANDOM_LLM, 'format=plain', ...more], out);
  [mmlu, chat, bandit, vlA, vlB] = await Promise.all([
    runCli(['run', join(PACKAGE_ROOT, 'configs', 'mmlu-demo.yaml'), '--headless', `output.dir=${out}`, `data.limit=${MMLU_LIMIT}`], out),
    // The same questions in the plain format (the demo uses the model's chat template), for `compare`.
    runCli(['run', join(PACKAGE_ROOT, 'configs', 'mmlu-demo.yaml'), '--headless', `output.dir=${out}`, `data.limit=${MMLU_LIMIT}`, 'name=mmlu-chat', 'format=plain'], out),
    runCli(['run', join(PACKAGE_ROOT, 'configs', 'bandit-demo.yaml'), '--headless', `output.dir=${out}`, `games=${BANDIT_GAMES}`], out),
    vl(VL_A),
    vl(VL_B, 'describe.seed=7', 'truncation=eos'),
  ]);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 1_200_000);

afterAll(async () => {
  await browser?.close();
});

async function open(file: string): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, errors, requests };
}

/** Marks of layer `name` in figure `id`, counted in the DOM (vega's SVG group `<name>_marks`, its children). */
async function marks(page: Page, id: string, name: string): Promise<number> {
  return page.locator(`figure[data-figure="${id}"] g.${name}_marks > *`).count();
}

function personasOf(runDir: string): string[] {
  return (JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')) as { personas: (string | { persona: string })[] }).personas.map((p) => (typeof p === 'string' ? p : p.persona));
}

describe('the demo reports in Chromium', () => {
  it('MMLU: every figure with one mark per persona and per persona × subject, no error, no network', async () => {
    expect(mmlu.code, mmlu.stderr).toBe(0);
    const runDir = join(out, 'mmlu-demo');
    expect(mmlu.stderr, mmlu.stderr).toContain(`report: ${join(runDir, 'report.html')}`);
    const subjects = (JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')) as { subjects: string[] }).subjects;
    expect(mmlu.stderr).toContain(`expert analysis over ${subjects.length} subjects: task expert`);
    const personas = personasOf(runDir);
    // mmlu_experts (57) + neutral set + none: the config, not the results, says how many marks there must be.
    expect(personas.length).toBeGreaterThan(57);
    const { page, errors, requests } = await open(join(runDir, 'report.html'));
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(join(runDir, 'report.html')).href]);
    expect(await page.locator('figure[data-figure]').count()).toBe(4);
    expect(await marks(page, 'persona-accuracy', 'acc')).toBe(personas.length);
    expect(await marks(page, 'persona-accuracy', 'acc_ci')).toBe(personas.length);
    expect(await marks(page, 'persona-subject-heatmap', 'cell')).toBe(personas.length * subjects.length);
    expect(await marks(page, 'persona-vs-none', 'diff')).toBe(personas.length - 1);
    // One point per group (4) per category of the run's subjects plus "all": every expert of the 57 is in the run, so
    // each subject has domain and non-domain experts; only "all" (the subjects are in different categories) has CIs.
    const categories = new Set(subjects.map(subjectCategory)).size;
    expect(categories).toBe(subjects.length);
    expect(await marks(page, 'expert-analysis', 'group_mean')).toBe(4 * (categories + 1));
    expect(await marks(page, 'expert-analysis', 'group_ci')).toBe(4);
    // Every figure draws what its own data-marks says.
    for (const fig of await page.locator('figure[data-figure]').all()) {
      const id = (await fig.getAttribute('data-figure'))!;
      const expected = JSON.parse((await fig.getAttribute('data-marks'))!) as Record<string, number>;
      for (const [name, n] of Object.entries(expected)) expect(await marks(page, id, name), `${id}/${name}`).toBe(n);
    }
    await expect(page.locator('#provenance').textContent()).resolves.toMatch(/git commit.*model.*onnx:/s);
    await page.screenshot({ path: join(SHOTS, 'mmlu-report.png'), fullPage: true });
    await page.locator('#expert-analysis').screenshot({ path: join(SHOTS, 'mmlu-expert-analysis.png') });
    await page.locator('#subjects').screenshot({ path: join(SHOTS, 'mmlu-heatmap.png') });
    await page.close();
  });

  it('bandit: regret, accuracy and the three probit coefficients per age with their trends, no error, no network', async () => {
    expect(bandit.code, bandit.stderr).toBe(0);
    const runDir = join(out, 'bandit-demo');
    expect(bandit.stderr, bandit.stderr).toContain(`report: ${join(runDir, 'report.html')}`);
    expect(bandit.stderr).toMatch(/regret over age: slope [+-]\d/);
    const ages = personasOf(runDir).filter((p) => /^\d+ years? old$/.test(p)).length;
    expect(ages).toBeGreaterThanOrEqual(3);
    const { page, errors, requests } = await open(join(runDir, 'report.html'));
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(join(runDir, 'report.html')).href]);
    expect(await page.locator('figure[data-figure]').count()).toBe(3);
    expect(await marks(page, 'bandit-regret', 'regret')).toBe(ages);
    expect(await marks(page, 'bandit-regret', 'regret_ci')).toBe(ages);
    expect(await marks(page, 'bandit-regret', 'regret_trend')).toBe(1);
    expect(await marks(page, 'bandit-regret', 'none_regret')).toBe(1);
    expect(await marks(page, 'bandit-accuracy', 'acc')).toBe(ages);
    expect(await marks(page, 'bandit-probit', 'coef')).toBe(3 * ages);
    expect(await marks(page, 'bandit-probit', 'coef_trend')).toBe(3);
    expect(await page.locator('figure[data-figure="bandit-probit"] text', { hasText: /^V\/TU$/ }).count()).toBe(1);
    await page.screenshot({ path: join(SHOTS, 'bandit-report.png'), fullPage: true });
    await page.locator('#probit').screenshot({ path: join(SHOTS, 'bandit-probit.png') });
    await page.close();
  });
});

/** Per persona × image correctness from a vision run's results.csv. */
function visionOutcomes(run: string): Map<string, Map<string, boolean>> {
  const rows = parse(readFileSync(join(out, run, 'results.csv'), 'utf8'), { columns: true }) as { persona: string; image: string; correct: string }[];
  const by = new Map<string, Map<string, boolean>>();
  for (const r of rows) by.set(r.persona, (by.get(r.persona) ?? new Map<string, boolean>()).set(r.image, r.correct === '1'));
  return by;
}

describe('the vision report in Chromium', () => {
  it('accuracy per persona with both CIs, bias contrasts with CIs and Holm p, cut fraction; warnings; no error, no network', async () => {
    expect(vlA.code, vlA.stderr).toBe(0);
    const runDir = join(out, VL_A);
    const m = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')) as VisionMetrics & { run: { model_warning: string | null } };
    const personas = Object.entries(m.personas);
    // The config's 6 personas over the toy set's 5 classes × 3 images.
    expect(personas.map(([p]) => p)).toEqual(['man', 'woman', 'ornithologist', 'car mechanic', 'none', 'class_name']);
    expect(m.n_images).toBe(15);
    const contrasts = m.contrasts.filter((c) => Number.isFinite(c.diff));
    // Bias pairs man/woman, ornithologist/car mechanic; 4 vs none; 5 vs class_name.
    expect(contrasts).toHaveLength(2 + 4 + 5);
    const { page, errors, requests } = await open(join(runDir, 'report.html'));
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(join(runDir, 'report.html')).href]);
    expect(await page.locator('figure[data-figure]').count()).toBe(3);
    expect(await marks(page, 'vision-persona-accuracy', 'acc')).toBe(personas.length);
    expect(await marks(page, 'vision-persona-accuracy', 'acc_ci')).toBe(personas.filter(([, p]) => p.wilson95 !== null).length);
    expect(await marks(page, 'vision-persona-accuracy', 'acc_boot')).toBe(personas.filter(([, p]) => p.bootstrap95_classes !== null).length);
    expect(await marks(page, 'vision-persona-accuracy', 'acc_boot')).toBeGreaterThan(0);
    expect(await marks(page, 'vision-persona-accuracy', 'chance')).toBe(1);
    expect(await marks(page, 'vision-contrasts', 'contrast')).toBe(contrasts.length);
    expect(await marks(page, 'vision-contrasts', 'contrast_ci')).toBe(contrasts.filter((c) => c.ci95_classes !== null).length);
    expect(await marks(page, 'vision-cut-fraction', 'cut')).toBe(personas.filter(([, p]) => p.cut_fraction !== null).length);
    expect(await marks(page, 'vision-cut-fraction', 'cut_label')).toBe(personas.filter(([, p]) => p.cut_fraction !== null).length);
    for (const fig of await page.locator('figure[data-figure]').all()) {
      const id = (await fig.getAttribute('data-figure'))!;
      const expected = JSON.parse((await fig.getAttribute('data-marks'))!) as Record<string, number>;
      for (const [name, n] of Object.entries(expected)) expect(await marks(page, id, name), `${id}/${name}`).toBe(n);
    }
    // Axis labels: every persona and both bias contrasts are written out in the SVGs (not cut to "…").
    for (const [p] of personas) expect(await page.locator('figure[data-figure="vision-persona-accuracy"] text', { hasText: new RegExp(`^${p}$`) }).count(), p).toBe(1);
    for (const label of ['man − woman', 'ornithologist − car mechanic']) {
      expect(await page.locator('figure[data-figure="vision-contrasts"] text', { hasText: new RegExp(`^${label}$`) }).count(), label).toBe(1);
    }
    // The contrast table: one row per contrast with its Holm-adjusted p-values as metrics.json has them.
    const rows = await page.locator('#vision-contrasts table tbody tr').allTextContents();
    expect(rows).toHaveLength(m.contrasts.length);
    const fmt = (p: number) => (p < 0.001 ? p.toExponential(1) : p.toFixed(3));
    m.contrasts.forEach((c, i) => {
      expect(rows[i]).toContain(`${c.a} − ${c.b}`);
      expect(rows[i]).toContain(fmt(c.permutation.p_holm));
      expect(rows[i]).toContain(fmt(c.mcnemar.p_holm));
    });
    // The random-weight LLM's warning and the CLIP fixture's, on the page.
    const warnings = (await page.locator('.warning').allTextContents()).join('\n');
    expect(warnings).toContain('random weights');
    expect(m.run.model_warning).toBeTruthy();
    expect(warnings).toContain(m.run.model_warning!);
    await page.screenshot({ path: join(SHOTS, 'vision-report.png'), fullPage: true });
    await page.locator('#vision-personas').screenshot({ path: join(SHOTS, 'vision-accuracy.png') });
    await page.locator('#vision-contrasts').screenshot({ path: join(SHOTS, 'vision-contrasts.png') });
    await page.locator('#vision-truncation').screenshot({ path: join(SHOTS, 'vision-cut-fraction.png') });
    await page.close();
  });

  it('the end of the run prints accuracy with CIs, cut fraction, the bias contrasts with Holm p, and the report path', () => {
    const m = JSON.parse(readFileSync(join(out, VL_A, 'metrics.json'), 'utf8')) as VisionMetrics;
    const text = vlA.stderr + vlA.stdout;
    for (const [persona, p] of Object.entries(m.personas)) {
      expect(text).toContain(`${persona}: accuracy ${p.accuracy.toFixed(3)} [${p.wilson95![0].toFixed(3)}, ${p.wilson95![1].toFixed(3)}] (Wilson 95%; [${p.bootstrap95_classes![0].toFixed(3)}, ${p.bootstrap95_classes![1].toFixed(3)}] over classes), texts cut ${p.cut_fraction!.toFixed(3)}`);
    }
    for (const c of m.contrasts.filter((x) => x.kind === 'bias')) {
      expect(text).toMatch(new RegExp(`bias ${c.a} − ${c.b}: [+-]${Math.abs(c.diff).toFixed(3)} .*permutation Holm p ${c.permutation.p_holm.toFixed(3)}, McNemar Holm p ${c.mcnemar.p_holm.toFixed(3)}`));
    }
    expect(text).toContain(`report: ${join(out, VL_A, 'report.html')}`);
  });
});

describe('rolyplay ls, report, compare, --version on the demo runs', () => {
  it('ls and results on vision runs: task, both roles\' models, cells, state; the results files', async () => {
    const r = await runCli(['ls', '--output', out, '--format', 'json'], out);
    expect(r.code, r.stderr).toBe(0);
    const runs = (JSON.parse(r.stdout) as { run: string; task: string; model: string; cells: number; total: number; state: string }[]).filter((x) => x.task === 'vision');
    expect(runs.map((x) => x.run)).toEqual([VL_A, VL_B]);
    for (const x of runs) {
      expect(x.model).toBe('llm=onnx:tiny-random-llama clip=clip:tiny-clip');
      expect(x).toMatchObject({ state: 'finished', cells: x.total });
      expect(x.total).toBeGreaterThan(6 * 15);
    }
    const table = await runCli(['ls', '--output', out], out);
    expect(table.stdout).toMatch(new RegExp(`${VL_A}\\s*│\\s*vision\\s*│\\s*llm=onnx:tiny-random-llama clip=clip:tiny-clip\\s*│\\s*(\\d+)/\\1\\s*│\\s*finished`));
    const csv = await runCli(['results', VL_A, '--output', out, '--format', 'csv'], out);
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stdout).toBe(readFileSync(join(out, VL_A, 'results.csv'), 'utf8'));
    const json = await runCli(['results', VL_A, '--output', out, '--format', 'json'], out);
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(readFileSync(join(out, VL_A, 'metrics.json'), 'utf8')));
  });

  it('compare on two vision runs: accuracy B − A per persona on the same images, exact McNemar and Holm', async () => {
    expect(vlB.code, vlB.stderr).toBe(0);
    const r = await runCli(['compare', VL_A, VL_B, '--output', out, '--format', 'json'], out);
    expect(r.code, r.stderr).toBe(0);
    const c = JSON.parse(r.stdout) as { paired_by: string; rows: { persona: string; n: number; a: number; b: number; diff: number; ci95: [number, number] | null; p_mcnemar: number; p_holm: number }[] };
    const A = visionOutcomes(VL_A);
    const B = visionOutcomes(VL_B);
    expect(c.rows.map((x) => x.persona)).toEqual([...A.keys()]);
    const discordant = c.rows.map((row) => {
      const a = A.get(row.persona)!;
      const b = B.get(row.persona)!;
      const images = [...a.keys()];
      const mean = (m: Map<string, boolean>) => images.filter((i) => m.get(i)).length / images.length;
      expect(row.n).toBe(15);
      expect(row.a).toBeCloseTo(mean(a), 12);
      expect(row.b).toBeCloseTo(mean(b), 12);
      expect(row.diff).toBeCloseTo(mean(b) - mean(a), 12);
      expect(row.ci95![0]).toBeLessThanOrEqual(row.diff + 1e-12);
      expect(row.ci95![1]).toBeGreaterThanOrEqual(row.diff - 1e-12);
      const onlyB = images.filter((i) => b.get(i) && !a.get(i)).length;
      const onlyA = images.filter((i) => a.get(i) && !b.get(i)).length;
      expect(row.p_mcnemar).toBeCloseTo(mcnemarExact(onlyB, onlyA).p, 12);
      return onlyA + onlyB;
    });
    // Another describe seed changes some predictions: the comparison has something to find (it is not A vs A).
    expect(discordant.some((d) => d > 0)).toBe(true);
    const holm = holmAdjust(c.rows.map((x) => x.p_mcnemar));
    c.rows.forEach((row, i) => expect(row.p_holm).toBeCloseTo(holm[i]!, 12));
    const table = await runCli(['compare', VL_A, VL_B, '--output', out], out);
    expect(table.stdout).toContain(`A = ${VL_A}, B = ${VL_B}: accuracy of each persona in B minus A, paired by image (bootstrap over classes)`);
    expect(table.stdout).toMatch(/McNemar p.*Holm p/);
  });

  it('ls lists the MMLU and bandit runs with task, model, cells and state', async () => {
    const r = await runCli(['ls', '--output', out, '--format', 'json'], out);
    expect(r.code, r.stderr).toBe(0);
    const all = JSON.parse(r.stdout) as { run: string; task: string; model: string; cells: number; total: number; state: string; report: string | null }[];
    expect(all.map((x) => x.run)).toEqual(['bandit-demo', 'mmlu-chat', 'mmlu-demo', VL_A, VL_B]);
    const runs = all.filter((x) => x.task !== 'vision');
    for (const x of runs) {
      expect(x).toMatchObject({ state: 'finished' });
      expect(x.model).toMatch(/^onnx:/);
      expect(x.cells).toBe(x.total);
      expect(x.report).toBe(join(out, x.run, 'report.html'));
    }
    expect(runs[0]).toMatchObject({ task: 'bandit', total: personasOf(join(out, 'bandit-demo')).length * BANDIT_GAMES });
    const table = await runCli(['ls', '--output', out], out);
    expect(table.stdout).toMatch(/mmlu-demo\s*│\s*mmlu\s*│\s*onnx:\S+\s*│\s*\d+\/\d+\s*│\s*finished/);
  });

  it('compare gives B − A per persona, equal to the two runs\' own accuracies on the same questions', async () => {
    expect(chat.code, chat.stderr).toBe(0);
    const r = await runCli(['compare', 'mmlu-demo', 'mmlu-chat', '--output', out, '--format', 'json'], out);
    expect(r.code, r.stderr).toBe(0);
    const c = JSON.parse(r.stdout) as { a: string; b: string; rows: { persona: string; n: number; diff: number; ci95: [number, number] | null; p_holm: number }[] };
    // Independently: per persona accuracy from each run's results.csv.
    const acc = (run: string) => {
      const rows = parse(readFileSync(join(out, run, 'results.csv'), 'utf8'), { columns: true }) as { persona: string; correct: string }[];
      const by = new Map<string, number[]>();
      for (const row of rows) by.set(row.persona, [...(by.get(row.persona) ?? []), Number(row.correct)]);
      return new Map([...by].map(([p, xs]) => [p, xs.reduce((s, x) => s + x, 0) / xs.length]));
    };
    const a = acc('mmlu-demo');
    const b = acc('mmlu-chat');
    expect(c.rows).toHaveLength(a.size);
    for (const row of c.rows) {
      expect(row.n).toBe(2 * MMLU_LIMIT);
      expect(row.diff).toBeCloseTo(b.get(row.persona)! - a.get(row.persona)!, 12);
      expect(row.ci95![0]).toBeLessThanOrEqual(row.diff + 1e-12);
      expect(row.ci95![1]).toBeGreaterThanOrEqual(row.diff - 1e-12);
    }
    const table = await runCli(['compare', 'mmlu-demo', 'mmlu-chat', '--output', out], out);
    expect(table.stdout).toContain('A = mmlu-demo, B = mmlu-chat');
  });

  it('report rewrites report.html and prints its path; bad runs are clear errors', async () => {
    const r = await runCli(['report', 'bandit-demo', '--output', out], out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(join(out, 'bandit-demo', 'report.html'));
    expect(existsSync(join(out, 'bandit-demo', 'provenance.json'))).toBe(true);
    const missing = await runCli(['report', 'no-such-run', '--output', out], out);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(testStore === 'postgres' ? 'no run "no-such-run" in PostgreSQL postgres://' : join(out, 'no-such-run', 'results.sqlite'));
    expect(missing.stderr).toContain('Fix: ');
    const mixed = await runCli(['compare', 'mmlu-demo', 'bandit-demo', '--output', out], out);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain('compare two runs of the same task');
    const noDir = await runCli(['ls', '--output', join(out, 'nothing-here')], out);
    if (testStore === 'postgres') {
      // The store, not the folder, holds the runs: this machine's files would go to the (absent) folder.
      expect(noDir.code, noDir.stderr).toBe(0);
      expect(noDir.stdout).toMatch(/^runs in PostgreSQL postgres:\/\//);
    } else {
      expect(noDir.code).toBe(2);
      expect(noDir.stderr).toContain(join(out, 'nothing-here'));
    }
  });

  it('--version prints the package version', async () => {
    const r = await runCli(['--version'], out);
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });
});

describe('rolyplay ui', () => {
  it('serves the web UI over a finished run\'s db: its workflow page shows the run completed', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_CLI: inject('temporalCli') };
    delete env.TEMPORAL_ADDRESS;
    const child = spawn(process.execPath, [CLI, 'ui', 'mmlu-demo', '--output', out], { cwd: out, env });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let stdout = '';
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.stdout.on('data', (d) => {
          stdout += d;
          const m = /web UI: (http\S+)/.exec(stdout);
          if (m) resolve(m[1]!);
        });
        void exited.then((code) => reject(new Error(`ui exited (${code}) before serving: ${stderr}`)));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/rolyplay-mmlu-demo$/);
      const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
      await page.goto(url);
      await page.getByText('rolyplay-mmlu-demo').first().waitFor({ timeout: 60_000 });
      await page.getByText(/^\s*Completed\s*$/i).first().waitFor({ timeout: 60_000 });
      await page.screenshot({ path: join(SHOTS, 'ui-finished-run.png') });
      await page.close();
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });
});
