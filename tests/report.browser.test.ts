/**
 * The reports of the two demo runs, opened in a real browser: Debian's Chromium (`/usr/bin/chromium`, installed by
 * .ci/run) driven by playwright-core. The demos run through the CLI as a user runs them (own dev server, the
 * shipped random-weight model), smaller via overrides; the report is the one the end of the run wrote. Checked: no
 * console error, no request beyond the file itself, every figure present with one mark per persona / cell / age as
 * the run's config implies. Screenshots go to tests/.tmp/screenshots (or $REPORT_SCREENSHOTS).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PACKAGE_ROOT } from '../experiment/load.js';
import { tmpDir } from './support/harness.js';

const CLI = join(PACKAGE_ROOT, 'dist', 'cli', 'main.js');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = process.env.REPORT_SCREENSHOTS ?? join(PACKAGE_ROOT, 'tests', '.tmp', 'screenshots');
const MMLU_LIMIT = 4;
const BANDIT_GAMES = 4;

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

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium), as .ci/run does`);
  mkdirSync(SHOTS, { recursive: true });
  [mmlu, bandit] = await Promise.all([
    runCli(['run', join(PACKAGE_ROOT, 'configs', 'mmlu-demo.yaml'), '--headless', `output.dir=${out}`, `data.limit=${MMLU_LIMIT}`], out),
    runCli(['run', join(PACKAGE_ROOT, 'configs', 'bandit-demo.yaml'), '--headless', `output.dir=${out}`, `games=${BANDIT_GAMES}`], out),
  ]);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 600_000);

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
    expect(mmlu.stderr).toContain(`report: ${join(runDir, 'report.html')}`);
    expect(mmlu.stderr).toContain('WARNING: This model has random weights');
    expect(mmlu.stderr).toMatch(/expert analysis over 3 subjects: task expert/);
    const personas = personasOf(runDir);
    // mmlu_experts (57) + neutral set + none: the config, not the results, says how many marks there must be.
    expect(personas.length).toBeGreaterThan(57);
    const { page, errors, requests } = await open(join(runDir, 'report.html'));
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(join(runDir, 'report.html')).href]);
    expect(await page.locator('figure[data-figure]').count()).toBe(4);
    expect(await marks(page, 'persona-accuracy', 'acc')).toBe(personas.length);
    expect(await marks(page, 'persona-accuracy', 'acc_ci')).toBe(personas.length);
    expect(await marks(page, 'persona-subject-heatmap', 'cell')).toBe(personas.length * 3);
    expect(await marks(page, 'persona-vs-none', 'diff')).toBe(personas.length - 1);
    // Three subjects in three categories (STEM, other, humanities) plus "all", four groups each: every expert of the
    // 57 is in the run, so each subject has domain and non-domain experts.
    expect(await marks(page, 'expert-analysis', 'group_mean')).toBe(4 * 4);
    expect(await marks(page, 'expert-analysis', 'group_ci')).toBe(4);
    // Every figure draws what its own data-marks says.
    for (const fig of await page.locator('figure[data-figure]').all()) {
      const id = (await fig.getAttribute('data-figure'))!;
      const expected = JSON.parse((await fig.getAttribute('data-marks'))!) as Record<string, number>;
      for (const [name, n] of Object.entries(expected)) expect(await marks(page, id, name), `${id}/${name}`).toBe(n);
    }
    await expect(page.locator('.warning').first().textContent()).resolves.toContain('random weights');
    await expect(page.locator('#provenance').textContent()).resolves.toMatch(/git commit.*model.*onnx:tiny-random-llama/s);
    await page.screenshot({ path: join(SHOTS, 'mmlu-report.png'), fullPage: true });
    await page.locator('#expert-analysis').screenshot({ path: join(SHOTS, 'mmlu-expert-analysis.png') });
    await page.locator('#subjects').screenshot({ path: join(SHOTS, 'mmlu-heatmap.png') });
    await page.close();
  });

  it('bandit: regret, accuracy and the three probit coefficients per age with their trends, no error, no network', async () => {
    expect(bandit.code, bandit.stderr).toBe(0);
    const runDir = join(out, 'bandit-demo');
    expect(bandit.stderr).toContain(`report: ${join(runDir, 'report.html')}`);
    expect(bandit.stderr).toMatch(/regret over age: slope [+-]\d/);
    const ages = personasOf(runDir).filter((p) => /^\d+ years? old$/.test(p)).length;
    expect(ages).toBe(31);
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
