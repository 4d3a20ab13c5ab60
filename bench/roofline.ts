/**
 * The machine's measured matrix-multiply rate through onnxruntime itself: a one-node ONNX graph (MatMul in float32,
 * MatMulInteger in uint8 x int8) built here byte by byte (ONNX is protobuf; no python, no model file), run on the
 * same execution provider and thread settings as the models. This is the roofline the benchmark compares against.
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

const FLOAT = 1;
const UINT8 = 2;
const INT8 = 3;
const INT32 = 6;

/** ModelProto bytes of C = op(A, B) with A [m, k], B [k, n]. */
export function matmulModel(op: 'MatMul' | 'MatMulInteger', m: number, k: number, n: number): Uint8Array {
  const [ta, tb, tc] = op === 'MatMul' ? [FLOAT, FLOAT, FLOAT] : [UINT8, INT8, INT32];
  const node = [...str(1, 'A'), ...str(1, 'B'), ...str(2, 'C'), ...str(3, 'mm'), ...str(4, op)];
  const graph = [
    ...bytes(1, node),
    ...str(2, 'roofline'),
    ...bytes(11, tensorInfo('A', ta, [m, k])),
    ...bytes(11, tensorInfo('B', tb, [k, n])),
    ...bytes(12, tensorInfo('C', tc, [m, n])),
  ];
  return Uint8Array.from([...int(1, 8), ...bytes(7, graph), ...bytes(8, [...str(1, ''), ...int(2, 17)])]);
}

export interface Roofline {
  op: string;
  shape: [number, number, number];
  /** Best of `reps` runs: 2·m·k·n operations per run. */
  gflops: number;
}

export async function measureMatmul(
  op: 'MatMul' | 'MatMulInteger',
  options: ort.InferenceSession.SessionOptions,
  [m, k, n]: [number, number, number] = [512, 1024, 1024],
  reps = 8,
): Promise<Roofline> {
  const session = await ort.InferenceSession.create(matmulModel(op, m, k, n), options);
  const a = op === 'MatMul' ? new ort.Tensor('float32', Float32Array.from({ length: m * k }, () => Math.random()), [m, k]) : new ort.Tensor('uint8', Uint8Array.from({ length: m * k }, () => (Math.random() * 255) | 0), [m, k]);
  const b = op === 'MatMul' ? new ort.Tensor('float32', Float32Array.from({ length: k * n }, () => Math.random()), [k, n]) : new ort.Tensor('int8', Int8Array.from({ length: k * n }, () => ((Math.random() * 255) | 0) - 128), [k, n]);
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const start = performance.now();
    await session.run({ A: a, B: b });
    best = Math.min(best, performance.now() - start);
  }
  await session.release();
  return { op, shape: [m, k, n], gflops: (2 * m * k * n) / (best / 1000) / 1e9 };
}
