/**
 * Per-cell sampling seeds for the describe stage.
 *
 * **Deviation from the seed (VISION.md §3 "RNG", §6 last rows).** The seed seeds torch's global RNG once with 2016
 * and consumes it persona-major, then in class order, with every LLM cleaning call drawing from the same stream in
 * between. A cell's sample therefore depends on every cell before it, and no cell can be regenerated alone. Here
 * every LLM call gets its own seed, a pure function of (run seed, persona, class name, purpose, replicate), so a
 * durable run can retry, resume or regenerate any single cell and get the same sample from a deterministic backend.
 * The seed's exact samples are not reproducible either way (its Vicuna checkpoint and CUDA sampling are not here).
 *
 * Replicates (VISION.md §8.1): replicate 0 is the faithful run (R = 1, one sample per persona × class, as the seed);
 * R ≥ 3 is the optional variance estimate, replicates 1..R−1 drawing independent seeds.
 *
 * Purposes: `describe` for the description, `clean#i` for the LLM cleaning call of sentence i of that description
 * (each is its own durable unit). Seeds are 31-bit non-negative integers, accepted by every backend (llama.cpp,
 * OpenAI `seed`, onnxruntime sampling); the hash is the bandit's 64-bit FNV-1a over canonical JSON.
 */
import { fnv1a64, streamKeyText } from '../bandit/rng.js';

export type SeedPurpose = 'describe' | `clean#${number}`;

export interface CellKey {
  runSeed: number;
  persona: string;
  /** The class name (not its index), so the seed survives a reordering of the class list. */
  className: string;
  purpose: SeedPurpose;
  /** 0 = the faithful sample. */
  replicate: number;
}

export function cleanPurpose(sentenceIndex: number): SeedPurpose {
  if (!Number.isInteger(sentenceIndex) || sentenceIndex < 0) throw new RangeError(`sentence index must be a non-negative integer, got ${sentenceIndex}`);
  return `clean#${sentenceIndex}`;
}

function checkKey(k: CellKey): void {
  if (!Number.isSafeInteger(k.runSeed)) throw new RangeError(`run seed must be an integer, got ${k.runSeed}`);
  if (!Number.isInteger(k.replicate) || k.replicate < 0) throw new RangeError(`replicate must be a non-negative integer, got ${k.replicate}`);
  if (!/^(describe|clean#\d+)$/.test(k.purpose)) throw new RangeError(`purpose must be "describe" or "clean#<i>", got ${JSON.stringify(k.purpose)}`);
}

/** Stable id of an LLM call of the describe stage, e.g. `describe/man/Black footed Albatross/r0`. */
export function cellId(k: Omit<CellKey, 'runSeed'>): string {
  return `${k.purpose}/${k.persona}/${k.className}/r${k.replicate}`;
}

/** The sampling seed of one LLM call: deterministic, in [0, 2^31). */
export function cellSeed(k: CellKey): number {
  checkKey(k);
  const h = fnv1a64(streamKeyText(k.runSeed, ['vision', k.persona, k.className, k.purpose, k.replicate]));
  return Number(h >> 33n);
}

/** Replicate indices of a run with `replicates` samples per cell. */
export function replicateIndices(replicates: number): number[] {
  if (!Number.isInteger(replicates) || replicates < 1) throw new RangeError(`replicates must be a positive integer, got ${replicates}`);
  return Array.from({ length: replicates }, (_, r) => r);
}
