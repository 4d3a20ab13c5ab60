#!/usr/bin/env python3
"""Derives a batch-invariant model from an onnxruntime dynamic-int8 export (tooling only, never at runtime).

onnxruntime's dynamic quantization rewrites each MatMul as
    DynamicQuantizeLinear(x) -> MatMulInteger(x_q, W_q, x_zp, W_zp) -> Cast -> Mul(., x_scale * W_scale)
and x_scale/x_zp are computed per *tensor*, i.e. over the whole batch: a prompt's scores depend on what else is in its
batch (measured ~2 nats on SmolLM2-135M int8), so batched or prefix-reused scoring cannot equal one-at-a-time scoring.
This script replaces every such pattern by
    --mode weights (default): DequantizeLinear(W_q, W_scale, W_zp) -> MatMul(x, .)   (weights stay int8 in the file)
    --mode fp32:              MatMul(x, W) with W = (W_q - W_zp) * W_scale as a float32 initializer
Activations stay float32, so every row is computed independently of the others. The int8 weights are the same ones,
so the model is the int8 model without the activation rounding.

    python scripts/make-weight-only-int8.py SRC_DIR OUT_DIR [--mode weights|fp32]

SRC_DIR is a Hugging Face ONNX folder with onnx/model_int8.onnx (or model_quantized.onnx); OUT_DIR gets the same
json/tokenizer files and onnx/model_w8.onnx (weights) or onnx/model.onnx (fp32).
"""
import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper


def rewrite(model: onnx.ModelProto, mode: str) -> int:
    g = model.graph
    prod = {o: n for n in g.node for o in n.output}
    cons: dict[str, list[onnx.NodeProto]] = {}
    for n in g.node:
        for i in n.input:
            cons.setdefault(i, []).append(n)
    inits = {i.name: i for i in g.initializer}
    drop: set[int] = set()
    replace: dict[int, list[onnx.NodeProto]] = {}
    new_inits: list[onnx.TensorProto] = []
    count = 0
    for n in g.node:
        if n.op_type != 'MatMulInteger':
            continue
        xq, wq, _xzp, wzp = n.input
        dql = prod.get(xq)
        if dql is None or dql.op_type != 'DynamicQuantizeLinear' or wq not in inits:
            raise SystemExit(f'{n.name}: not the dynamic-quantization pattern (activation from {dql and dql.op_type})')
        (cast,) = cons[n.output[0]]
        (mul,) = cons[cast.output[0]]
        if cast.op_type != 'Cast' or mul.op_type != 'Mul':
            raise SystemExit(f'{n.name}: expected MatMulInteger -> Cast -> Mul, found {cast.op_type} -> {mul.op_type}')
        scales = prod[next(i for i in mul.input if i != cast.output[0])]
        w_scale = next(i for i in scales.input if i != dql.output[1])
        x = dql.input[0]
        out = mul.output[0]
        if mode == 'fp32':
            w = numpy_helper.to_array(inits[wq]).astype(np.float32)
            zp = numpy_helper.to_array(inits[wzp]).astype(np.float32)
            s = numpy_helper.to_array(inits[w_scale]).astype(np.float32)
            name = f'{wq}_fp32'
            new_inits.append(numpy_helper.from_array(((w - zp) * s).astype(np.float32), name))
            nodes = [helper.make_node('MatMul', [x, name], [out], name=f'{n.name}_fp32')]
        else:
            wf = f'{wq}_dequantized'
            nodes = [
                helper.make_node('DequantizeLinear', [wq, w_scale, wzp], [wf], name=f'{n.name}_dq'),
                helper.make_node('MatMul', [x, wf], [out], name=f'{n.name}_w8'),
            ]
        replace[id(n)] = nodes
        drop.update({id(cast), id(mul), id(scales)})
        count += 1
    kept: list[onnx.NodeProto] = []
    for n in g.node:
        if id(n) in replace:
            kept.extend(replace[id(n)])
        elif id(n) not in drop:
            kept.append(n)
    # DynamicQuantizeLinear nodes (and weights) nobody reads any more.
    used = {i for n in kept for i in n.input} | {o.name for o in g.output}
    kept = [n for n in kept if not (n.op_type == 'DynamicQuantizeLinear' and not any(o in used for o in n.output))]
    del g.node[:]
    g.node.extend(kept)
    used = {i for n in kept for i in n.input}
    keep_inits = [i for i in g.initializer if i.name in used] + new_inits
    del g.initializer[:]
    g.initializer.extend(keep_inits)
    left = [n.op_type for n in g.node if n.op_type in ('DynamicQuantizeLinear', 'MatMulInteger')]
    if left:
        raise SystemExit(f'{len(left)} quantized-activation nodes left: {sorted(set(left))}')
    return count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('src', type=Path)
    ap.add_argument('out', type=Path)
    ap.add_argument('--mode', choices=['weights', 'fp32'], default='weights')
    a = ap.parse_args()
    src = next((a.src / 'onnx' / f for f in ('model_int8.onnx', 'model_quantized.onnx') if (a.src / 'onnx' / f).exists()), None)
    if src is None:
        sys.exit(f'{a.src}/onnx has no model_int8.onnx or model_quantized.onnx')
    model = onnx.load(str(src))
    n = rewrite(model, a.mode)
    (a.out / 'onnx').mkdir(parents=True, exist_ok=True)
    for f in a.src.iterdir():
        if f.is_file() and f.suffix in ('.json', '.md', '.txt', '.jinja'):
            shutil.copyfile(f, a.out / f.name)
    dest = a.out / 'onnx' / ('model_w8.onnx' if a.mode == 'weights' else 'model.onnx')
    tmp = dest.with_suffix('.partial')
    onnx.save(model, str(tmp))
    onnx.checker.check_model(str(tmp))
    tmp.replace(dest)
    (a.out / 'DERIVED.md').write_text(
        f'Derived from {src} by scripts/make-weight-only-int8.py --mode {a.mode}: {n} dynamically quantized MatMuls\n'
        'replaced by float32-activation MatMuls on the same int8 weights (batch-invariant).\n'
    )
    print(f'{dest}: {n} MatMulInteger patterns rewritten ({a.mode})')


if __name__ == '__main__':
    main()
