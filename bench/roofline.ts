/**
 * The machine's measured matrix-multiply rate through onnxruntime itself, i.e. the roofline the benchmark compares
 * the models against. A one-node ONNX graph is built here byte by byte (ONNX is protobuf; no python, no model file):
 * the op the optimised model graph really runs for its weight matmuls, with the weight as a constant initializer (so
 * onnxruntime pre-packs it, as it does the model's weights), at the model's own matmul shapes with 512 and 2,048 rows
 * (a batch's token positions), on the same execution provider and thread settings as the model. The roofline is the
 * best rate over those shapes.
 *   fp32, w8: MatMul (float32 x float32)
 *   int8:     com.microsoft DynamicQuantizeMatMul (float32 activations quantized per tensor at run time x int8 weights),
 *             what onnxruntime fuses DynamicQuantizeLinear + MatMulInteger into
 */
import * as ort from 'onnxruntime-node';

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const field = (f: number, wire: number) => varint((f << 3) | wire);
const int = (f: number, v: number) => [...field(f, 0), ...varint(v)];
const bytes = (f: number, b: number[] | Uint8Array) => [...field(f, 2), ...varint(b.length), ...b];
const str = (f: number, s: string) => bytes(f, new TextEncoder().encode(s));

/** ValueInfoProto of a tensor: name, TypeProto.tensor_type {elem_type, shape}. */
function tensorInfo(name: string, elemType: number, dims: number[]): number[] {
  const shape = dims.flatMap((d) => bytes(1, int(1, d)));
  return [...str(1, name), ...bytes(2, bytes(1, [...int(1, elemType), ...bytes(2, shape)]))];
}

/** TensorProto with raw data: dims, data_type, name, raw_data. */
function initializer(name: string, elemType: number, dims: number[], raw: Uint8Array): number[] {
  return [...dims.flatMap((d) => int(1, d)), ...int(2, elemType), ...str(8, name), ...bytes(9, raw)];
}

const FLOAT = 1;
const INT8 = 3;

export type RooflineOp = 'MatMul' | 'DynamicQuantizeMatMul';

/** ModelProto bytes of C = op(A, B) with A [m, k] an input and B [k, n] a random constant weight. */
export function matmulModel(op: RooflineOp, m: number, k: number, n: number): Uint8Array {
  const weights =
    op === 'MatMul'
      ? new Uint8Array(Float32Array.from({ length: k * n }, () => Math.random() - 0.5).buffer)
      : Uint8Array.from({ length: k * n }, () => (Math.random() * 255) | 0);
  const inits = [initializer('B', op === 'MatMul' ? FLOAT : INT8, [k, n], weights)];
  const inputs = ['A', 'B'];
  if (op === 'DynamicQuantizeMatMul') {
    inits.push(initializer('B_scale', FLOAT, [], new Uint8Array(Float32Array.of(0.01).buffer)));
    inputs.push('B_scale');
  }
  const domain = op === 'MatMul' ? [] : str(7, 'com.microsoft');
  const node = [...inputs.flatMap((i) => str(1, i)), ...str(2, 'C'), ...str(3, 'mm'), ...str(4, op), ...domain];
  const graph = [
    ...bytes(1, node),
    ...str(2, 'roofline'),
    ...inits.flatMap((t) => bytes(5, t)),
    ...bytes(11, tensorInfo('A', FLOAT, [m, k])),
    ...bytes(12, tensorInfo('C', FLOAT, [m, n])),
  ];
  const opsets = [...bytes(8, [...str(1, ''), ...int(2, 17)]), ...bytes(8, [...str(1, 'com.microsoft'), ...int(2, 1)])];
  return Uint8Array.from([...int(1, 8), ...bytes(7, graph), ...opsets]);
}

export interface Roofline {
  op: RooflineOp;
  /** The [m, k, n] that gave the best rate. */
  shape: [number, number, number];
  /** Best of `reps` runs at that shape: 2·m·k·n operations per run. */
  gflops: number;
  /** Best rate of every shape tried, "m x k x n": GFLOP/s. */
  shapes: Record<string, number>;
}

/** The weight matmuls [k, n] of a Llama-style decoder layer, one entry per matmul: q, k, v, o, gate, up, down. */
export function layerMatmuls(c: Record<string, number>): [number, number][] {
  const h = c.hidden_size!;
  const q = c.num_attention_heads! * (c.head_dim ?? h / c.num_attention_heads!);
  const kv = (c.num_key_value_heads ?? c.num_attention_heads!) * (q / c.num_attention_heads!);
  const i = c.intermediate_size!;
  return [[h, q], [h, kv], [h, kv], [q, h], [h, i], [h, i], [i, h]];
}

/** The distinct shapes among them: what the roofline probe measures. */
export function layerShapes(c: Record<string, number>): [number, number][] {
  const seen = new Map(layerMatmuls(c).map((s) => [s.join('x'), s] as const));
  return [...seen.values()];
}

export async function measureMatmul(
  op: RooflineOp,
  options: ort.InferenceSession.SessionOptions,
  shapes: [number, number][] = [[1024, 1024]],
  rows: number[] = [512, 2048],
  reps = 6,
): Promise<Roofline> {
  let best: Roofline | undefined;
  const all: Record<string, number> = {};
  for (const m of rows) for (const [k, n] of shapes) {
    const session = await ort.InferenceSession.create(matmulModel(op, m, k, n), options);
    const a = new ort.Tensor('float32', Float32Array.from({ length: m * k }, () => Math.random() - 0.5), [m, k]);
    let ms = Infinity;
    await session.run({ A: a }); // first run: allocations
    for (let r = 0; r < reps; r++) {
      const start = performance.now();
      await session.run({ A: a });
      ms = Math.min(ms, performance.now() - start);
    }
    await session.release();
    const gflops = (2 * m * k * n) / (ms / 1000) / 1e9;
    all[`${m}x${k}x${n}`] = gflops;
    if (!best || gflops > best.gflops) best = { op, shape: [m, k, n], gflops, shapes: all };
  }
  return best!;
}
