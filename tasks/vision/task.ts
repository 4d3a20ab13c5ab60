/**
 * The vision-language task (issue 8) as an engine task: persona-written class descriptions (llm role) scored
 * zero-shot by CLIP (clip role). Stages describe → embed_text → embed_images → score (tasks/vision/runner.ts);
 * report: metrics.json (visionMetrics), results.csv (persona × image) and descriptions.csv.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { ResultStore } from '../../store/results.js';
import { InputError } from '../../experiment/errors.js';
import type { TaskDefinition } from '../types.js';
import { ciText, round } from '../numbers.js';
import { visionSections } from '../../report/vision.js';
import { compareVisionRuns, type ImageOutcome } from '../../report/compare.js';
import { pval } from '../../report/html.js';
import { resolveVision, VisionConfig, type VisionSpec } from './config.js';
import { cachedHfParquet, ensureHfParquet, hfCacheDir, HF_SETS, loadCub, loadImageFolder } from './data.js';
import { visionMetrics, type VisionMetrics } from './metrics.js';
import { countOf, loadDescriptions, loadPayloads, type ImageBatchRecord, type PredictionRecord } from './records.js';
import {
  datasetOf, planDescribe, planEmbedImages, planEmbedText, planScore,
  runDescribeBatch, runEmbedImagesBatch, runEmbedTextBatch, runScoreBatch,
} from './runner.js';

export const visionTask: TaskDefinition<VisionSpec> = {
  name: 'vision',
  config: VisionConfig,
  resolve(cfg, ctx) {
    const spec = resolveVision(cfg, ctx);
    // Local folders are checked now (missing folder, bad layout, a class without images): before the run starts.
    const data = spec.data;
    try {
      if (data.dataset === 'cub') loadCub(data.path, data.split ?? 'test');
      else if (data.dataset === 'folder') loadImageFolder(data.path);
      else if (data.path === undefined && data.download !== false) {
        // The hub's parquet files: `rolyplay run` downloads them before the run starts (progress, cache).
        const set = HF_SETS[data.dataset];
        const splits = (data.names_from ?? 'train') === 'train' ? [[set.test, 'test'], [set.train, 'train']] : [[set.test, 'test']];
        for (const [repo, split] of splits as [string, string][]) {
          if (cachedHfParquet(repo, split)) continue;
          const key = `vision-data:${repo}:${split}`;
          const failure = ctx.downloadFailure(key);
          if (failure !== undefined) throw new InputError('data.dataset', `downloading ${repo} (${split}) failed (${failure})`, `go online and run again (cached in ${hfCacheDir(repo, split)}), or set data.path to a folder with test/ and train/ parquet files`, ctx.file);
          ctx.needDownload({
            key,
            download: () => ensureHfParquet(repo, split),
            offline: new InputError('data.dataset', `${repo} (${split}) is not downloaded`, `\`rolyplay run\` downloads it when online (cached in ${hfCacheDir(repo, split)}); or set data.path to a folder with test/ and train/ parquet files`, ctx.file),
          });
        }
      }
    } catch (e) {
      if (e instanceof InputError && !e.file && ctx.file) throw new InputError(e.field, e.problem, e.fix, ctx.file);
      throw e;
    }
    return spec;
  },
  roles: { llm: ['Generator'], clip: ['TextEmbedder', 'ImageEmbedder'] },
  stages: [
    { name: 'describe', plan: planDescribe, runBatch: runDescribeBatch },
    { name: 'embed_text', plan: planEmbedText, runBatch: runEmbedTextBatch },
    { name: 'embed_images', plan: planEmbedImages, runBatch: runEmbedImagesBatch },
    { name: 'score', plan: planScore, runBatch: runScoreBatch },
  ],
  resultFiles: { csv: 'resultsCsv', json: 'metricsJson' },

  async report(spec, store, outDir) {
    const { metrics, predictions, labels, ids } = await computeMetrics(spec, store);
    const cells = (await visionTask.stored(spec, store)).cells;
    const files: Record<string, string> = {};
    if (outDir !== null && metrics) {
      mkdirSync(outDir, { recursive: true });
      files.metricsJson = join(outDir, 'metrics.json');
      files.resultsCsv = join(outDir, 'results.csv');
      files.descriptionsCsv = join(outDir, 'descriptions.csv');
      const images = await loadPayloads<ImageBatchRecord>(store, spec.run, 'image');
      const run = { run: spec.run, spec_hash: spec.specHash, truncation: spec.truncation, model_warning: spec.modelWarning ?? null,
        images_embedded: images.reduce((a, b) => a + b.embedded, 0), images_from_cache: images.reduce((a, b) => a + b.cached, 0) };
      writeFileSync(files.metricsJson, `${JSON.stringify({ ...metrics, run }, null, 2)}\n`);
      const rows = predictions.flatMap((p) => p.predictions.map((pred, i) => [p.persona, ids[i], labels[i], metrics.class_names[labels[i]!], pred, metrics.class_names[pred], pred === labels[i] ? 1 : 0]));
      writeFileSync(files.resultsCsv, stringify(rows, { header: true, columns: ['persona', 'image', 'label', 'class', 'prediction', 'predicted_class', 'correct'] }));
      const descs = await loadDescriptions(store, spec.run);
      writeFileSync(files.descriptionsCsv, stringify(descs.map((d) => [d.persona, d.className, d.replicate, d.raw ?? '', d.description]), { header: true, columns: ['persona', 'class', 'replicate', 'raw', 'description'] }));
    }
    const num = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? null : round(x, 3));
    return {
      cells,
      discarded: 0,
      files,
      table: {
        columns: ['persona', 'images', 'correct', 'accuracy', 'Wilson 95% CI', 'class bootstrap 95% CI', 'cut fraction'],
        rows: metrics ? Object.entries(metrics.personas).map(([persona, p]) => [persona, p.n, p.correct, num(p.accuracy), ciText(p.wilson95), ciText(p.bootstrap95_classes), num(p.cut_fraction)]) : [],
      },
    };
  },

  async stored(spec, store) {
    const kinds = ['description', 'text', 'prediction'] as const;
    const [d, t, p] = await Promise.all(kinds.map((k) => countOf(store, spec.run, k)));
    const images = (await loadPayloads<ImageBatchRecord>(store, spec.run, 'image')).reduce((a, b) => a + b.end - b.start, 0);
    const perPersona = p! > 0 ? (await datasetOf(spec)).items.length : 0;
    return { cells: d! + t! + images + p! * perPersona, discarded: 0 };
  },

  summary(spec) {
    return `vision · ${spec.run} · ${spec.personas.length} personas × ${spec.data.dataset}`;
  },

  details(spec) {
    return [
      `**Task** vision-language (${spec.data.dataset}${'path' in spec.data && spec.data.path ? ` at ${spec.data.path}` : ''}): persona descriptions scored zero-shot by CLIP`,
      `**Describe** T ${spec.describe.temperature}, ${spec.describe.maxTokens} tokens, seed ${spec.describe.seed}, ${spec.describe.replicates} replicate(s) · **format** ${spec.format} · **truncation** ${spec.truncation}`,
    ];
  },

  async page(_spec, metrics, { totalCells, modelLabel }) {
    const m = metrics as VisionMetrics & { run?: { model_warning?: string | null } };
    const warnings: string[] = [];
    if (m.run?.model_warning) warnings.push(`Model: ${m.run.model_warning}`);
    const n = Object.keys(m.personas).length;
    if (totalCells !== undefined && Object.values(m.personas).some((p) => p.n < m.n_images)) warnings.push(`The run is not finished (${totalCells} cells planned).`);
    const body = await visionSections(m);
    return { subtitle: `vision-language · ${modelLabel} · ${n} personas × ${m.n_classes} classes · ${m.n_images} test images`, warnings, ...body };
  },

  async compare(a, b) {
    const outcomes = async (x: typeof a): Promise<ImageOutcome[]> => {
      const { predictions, labels, ids } = await computeMetrics(x.spec, x.store, { metrics: false });
      const ds = await datasetOf(x.spec);
      return predictions.flatMap((p) => p.predictions.map((pred, i) => ({ persona: p.persona, image: ids[i]!, cls: ds.classNames[labels[i]!]!, correct: pred === labels[i] })));
    };
    const [A, B] = await Promise.all([outcomes(a), outcomes(b)]);
    if (A.length === 0 || B.length === 0) throw new InputError('run', `${A.length === 0 ? a.run : b.run} has no stored predictions yet (its score stage has not run)`, 'let the run finish (`rolyplay run` on its config continues it), then compare');
    return compareVisionRuns(A, B);
  },

  consoleSummary(metrics) {
    const m = metrics as VisionMetrics & { run?: { truncation?: string } };
    const f = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(3));
    const lines = Object.entries(m.personas).map(
      ([persona, p]) => `${persona}: accuracy ${f(p.accuracy)} ${ciText(p.wilson95) ?? ''} (Wilson 95%; ${ciText(p.bootstrap95_classes) ?? '–'} over classes), texts cut ${f(p.cut_fraction)}`,
    );
    const bias = m.contrasts.filter((c) => c.kind === 'bias');
    if (bias.length === 0) lines.push('bias contrasts: none (the run lacks both personas of every pair: man/woman, black/white person, ornithologist/car mechanic)');
    for (const c of bias) {
      lines.push(`bias ${c.a} − ${c.b}: ${c.diff >= 0 ? '+' : ''}${c.diff.toFixed(3)} ${ciText(c.ci95_classes) ?? ''} (95% over classes), permutation Holm p ${pval(c.permutation.p_holm)}, McNemar Holm p ${pval(c.mcnemar.p_holm)}`);
    }
    const sig = m.contrasts.filter((c) => c.kind !== 'bias' && c.permutation.p_holm < 0.05).length;
    lines.push(`${m.contrasts.length - bias.length} contrasts vs none/class_name: ${sig} with Holm p < 0.05 (all in report.html)${m.run?.truncation ? ` · truncation: ${m.run.truncation}` : ''}`);
    return lines;
  },
  unitName: 'cells',
};

/** The metrics of the stored predictions (null before the score stage has stored any). */
export async function computeMetrics(spec: VisionSpec, store: ResultStore, opts: { metrics?: boolean } = {}): Promise<{ metrics: VisionMetrics | null; predictions: PredictionRecord[]; labels: number[]; ids: string[] }> {
  const ds = await datasetOf(spec);
  const order = new Map(spec.personas.map((p, i) => [p, i]));
  const predictions = (await loadPayloads<PredictionRecord>(store, spec.run, 'prediction')).sort((a, b) => order.get(a.persona)! - order.get(b.persona)!);
  const labels = ds.items.map((i) => i.classIndex);
  const ids = ds.items.map((i) => i.id);
  if (predictions.length === 0 || opts.metrics === false) return { metrics: null, predictions, labels, ids };
  const metrics = visionMetrics(
    {
      classNames: ds.classNames,
      labels,
      predictions: Object.fromEntries(predictions.map((p) => [p.persona, p.predictions])),
      truncated: Object.fromEntries(predictions.map((p) => [p.persona, p.truncated])),
    },
    spec.statistics,
  );
  return { metrics, predictions, labels, ids };
}
