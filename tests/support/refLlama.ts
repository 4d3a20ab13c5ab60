/**
 * Plain-TypeScript Llama forward pass (float64, one token at a time with its own KV cache), written from the HF
 * modeling code, not from the ONNX graph. Reads the fixture's weights via reference_weights.json, which maps
 * each tensor to its bytes in the external-data file the script wrote.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface RefConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  rms_norm_eps: number;
  rope_theta: number;
  tie_word_embeddings: boolean;
}

export interface RefModel {
  cfg: RefConfig;
  w: (name: string) => Float32Array;
}

export function loadRef(dir: string): RefModel {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'reference_weights.json'), 'utf8')) as {
    config: RefConfig;
    data_file: string;
    tensors: Record<string, { offset: number; shape: number[]; dtype: string }>;
  };
  const buf = readFileSync(path.join(dir, manifest.data_file));
  const cache = new Map<string, Float32Array>();
  return {
    cfg: manifest.config,
    w(name) {
      const t = manifest.tensors[name];
      if (!t || t.dtype !== 'float32') throw new Error(`no float32 tensor ${name}`);
      const n = t.shape.reduce((a, b) => a * b, 1);
      const start = buf.byteOffset + t.offset;
      let w = cache.get(name);
      if (!w) cache.set(name, (w = new Float32Array(buf.buffer.slice(start, start + 4 * n))));
      return w;
    },
  };
}

/** y = x @ W with W stored [in, out] row-major. */
function matvec(x: Float64Array, W: Float32Array, out: number): Float64Array {
  const y = new Float64Array(out);
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!;
    for (let j = 0; j < out; j++) y[j] += xi * W[i * out + j]!;
  }
  return y;
}

function rmsnorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * inv * w[i]!);
}

/** HF Llama RoPE: rotate_half over the two halves of each head. */
function rope(x: Float64Array, heads: number, dim: number, pos: number, theta: number): void {
  const half = dim / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const angle = pos / theta ** ((2 * i) / dim);
      const [c, s] = [Math.cos(angle), Math.sin(angle)];
      const a = x[h * dim + i]!;
      const b = x[h * dim + i + half]!;
      x[h * dim + i] = a * c - b * s;
      x[h * dim + i + half] = b * c + a * s;
    }
  }
}

/** Logits after every token of `ids` (positions 0..n-1, no padding). */
export function refLogits(m: RefModel, ids: number[]): Float64Array[] {
  const { cfg } = m;
  const H = cfg.hidden_size;
  const D = cfg.head_dim;
  const nq = cfg.num_attention_heads;
  const nkv = cfg.num_key_value_heads;
  const emb = m.w('model.embed_tokens.weight');
  const keys: Float64Array[][] = Array.from({ length: cfg.num_hidden_layers }, () => []);
  const values: Float64Array[][] = Array.from({ length: cfg.num_hidden_layers }, () => []);
  const out: Float64Array[] = [];
  ids.forEach((id, pos) => {
    let x = Float64Array.from(emb.subarray(id * H, (id + 1) * H));
    for (let l = 0; l < cfg.num_hidden_layers; l++) {
      const p = `model.layers.${l}.`;
      const h = rmsnorm(x, m.w(p + 'input_layernorm.weight'), cfg.rms_norm_eps);
      const q = matvec(h, m.w(p + 'self_attn.q_proj.weight'), nq * D);
      const k = matvec(h, m.w(p + 'self_attn.k_proj.weight'), nkv * D);
      const v = matvec(h, m.w(p + 'self_attn.v_proj.weight'), nkv * D);
      rope(q, nq, D, pos, cfg.rope_theta);
      rope(k, nkv, D, pos, cfg.rope_theta);
      keys[l]!.push(k);
      values[l]!.push(v);
      const attn = new Float64Array(nq * D);
      for (let hq = 0; hq < nq; hq++) {
        const kvh = Math.floor(hq / (nq / nkv)); // GQA: consecutive query heads share a KV head
        const scores = keys[l]!.map((kt) => {
          let s = 0;
          for (let d = 0; d < D; d++) s += q[hq * D + d]! * kt[kvh * D + d]!;
          return s / Math.sqrt(D);
        });
        const max = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - max));
        const z = e.reduce((a, b) => a + b, 0);
        e.forEach((wt, t) => {
          for (let d = 0; d < D; d++) attn[hq * D + d] += (wt / z) * values[l]![t]![kvh * D + d]!;
        });
      }
      const o = matvec(attn, m.w(p + 'self_attn.o_proj.weight'), H);
      x = x.map((v0, i) => v0 + o[i]!);
      const h2 = rmsnorm(x, m.w(p + 'post_attention_layernorm.weight'), cfg.rms_norm_eps);
      const gate = matvec(h2, m.w(p + 'mlp.gate_proj.weight'), cfg.intermediate_size);
      const up = matvec(h2, m.w(p + 'mlp.up_proj.weight'), cfg.intermediate_size);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
      const down = matvec(act, m.w(p + 'mlp.down_proj.weight'), H);
      x = x.map((v0, i) => v0 + down[i]!);
    }
    const hf = rmsnorm(x, m.w('model.norm.weight'), cfg.rms_norm_eps);
    if (cfg.tie_word_embeddings) {
      const logits = new Float64Array(cfg.vocab_size);
      for (let t = 0; t < cfg.vocab_size; t++) {
        let s = 0;
        for (let i = 0; i < H; i++) s += hf[i]! * emb[t * H + i]!;
        logits[t] = s;
      }
      out.push(logits);
    } else {
      out.push(matvec(hf, m.w('lm_head.weight'), cfg.vocab_size));
    }
  });
  return out;
}
