/**
 * The model backends a config can name (`model: {backend: <name>, ...}`), registered by name: each backend lives in
 * backends/<name>/ and registers one definition (backends/index.ts imports the built-in ones). The config's model
 * union is built from this catalog, and a task's model roles are checked against the capabilities listed here.
 * Plain TypeScript: no Temporal here.
 */
import { z } from 'zod';
import type { ImageEmbedder, OptionScorer, Generator, TextEmbedder } from './capabilities.js';
import type { PromptFormat } from '../prompts/formats.js';

/** What a backend can do (the interfaces of backends/capabilities.ts). */
export const CAPABILITIES = ['OptionScorer', 'Generator', 'TextEmbedder', 'ImageEmbedder'] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** A built backend: its id, what it can do, and its lifecycle. */
export type ModelBackend = { readonly id: string; preflight?(signal?: AbortSignal): Promise<void>; close?(): Promise<void> } & Partial<
  OptionScorer & Generator & TextEmbedder & ImageEmbedder
>;

export interface BackendContext {
  /** The worker's environment (API keys are read from it, never from workflow inputs). */
  env: NodeJS.ProcessEnv;
  /** The run's prompt format (local LLMs need it for stop tokens); other backends ignore it. */
  format: PromptFormat;
}

export interface BackendDefinition<O extends { backend: string } = { backend: string }> {
  name: string;
  /** The options block: a strict zod object with `backend: z.literal(name)`; its defaults are the only ones. */
  options: z.ZodObject;
  capabilities: readonly Capability[];
  /** Computes in the worker process (a local model): runs go to the local task queue by default. */
  local: boolean;
  /** How reports and search attributes name a model, e.g. "openai:gpt-4o-mini". */
  label(options: O): string;
  /** Build the backend from parsed options (called once per options × format per worker process). */
  create(options: O, ctx: BackendContext): Promise<ModelBackend>;
  /**
   * A local backend whose `path` may be a hub id other than the onnx layout (default: the onnx backend's cache check
   * and download): whether it is complete in the cache (no network), and how to download it (with progress).
   */
  hub?: { cached(options: O): boolean; download(options: O): Promise<void> };
  /** Cheap checks before a run fans out (default: create it and call its preflight). */
  preflight?(options: O, ctx: BackendContext): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const backends = new Map<string, BackendDefinition<any>>();
let union: z.ZodType | undefined;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function registerBackend(def: BackendDefinition<any>): void {
  const had = backends.get(def.name);
  if (had && had !== def) throw new Error(`a different backend named "${def.name}" is already registered`);
  // The config schema takes the union once (z.lazy keeps what it first got): a later backend would never parse.
  if (union && !had) throw new Error(`backend "${def.name}" registered after the first config was parsed: register backends at import time (backends/index.ts)`);
  backends.set(def.name, def);
  union = undefined;
}

export function backendNamed(name: string): BackendDefinition {
  const b = backends.get(name);
  if (!b) throw new Error(`no backend "${name}" is registered (registered: ${[...backends.keys()].join(', ')})`);
  return b;
}

export function registeredBackendNames(): string[] {
  return [...backends.keys()];
}

/** The model options union, by `backend` (built from the registered backends when first parsed). */
export function modelOptionsSchema(): z.ZodType {
  if (!union) {
    const options = [...backends.values()].map((b) => b.options);
    union = z.discriminatedUnion('backend', options as [z.ZodObject, ...z.ZodObject[]]);
  }
  return union;
}

/** The same union with extra keys on every option block (model candidates add `warning` and `format`). */
export function extendedModelOptionsSchema(extra: z.ZodRawShape): z.ZodType {
  const options = [...backends.values()].map((b) => b.options.extend(extra));
  return z.discriminatedUnion('backend', options as [z.ZodObject, ...z.ZodObject[]]);
}
