/**
 * Packed prefix reuse needs two tensors of a Hugging Face decoder export as inputs instead of computed in the graph:
 *
 * - the attention bias, [batch, 1, query, key]: the export builds it once from attention_mask and a causal
 *   triangle (0 where a query may look, float min elsewhere) and adds it to the scores before every layer's Softmax;
 * - the positions whose logits are returned: the export gathers them from the last hidden states with a Range over
 *   the last num_logits_to_keep positions, just before the LM head.
 *
 * With both as inputs, the suffixes of all personas of one question run as ONE sequence after the batch-1 cache of
 * the question: a block-diagonal causal bias keeps each suffix to the prefix and itself, and the logits of each
 * suffix's last token are gathered. The prefix cache is then never tiled (57 copies of it, and onnxruntime's repeat
 * of its KV heads and concat, cost more than its own matmuls on long questions), and nothing is padded.
 *
 * The patch works on the serialized model: the producing node's output of each tensor is renamed in place (a name
 * of the same length, so no length prefix changes), and a second `graph` field with the two new inputs is appended;
 * protobuf merges repeated occurrences of a message field, so onnxruntime sees one graph with two more inputs. The
 * weights are not decoded. A graph without the pattern is left as it is (the tiled path serves it).
 */
import protobuf from 'protobufjs/minimal.js';

const { Reader, Writer } = protobuf;

export interface PackedInputs {
  /** Float input, [batch, 1, query, past + query]: 0 where attention is allowed, float min where not. */
  bias: string;
  /** Int64 input, [n]: the positions of the (only) batch row whose logits are returned, in order. */
  logitsIndex: string;
}

/** `tail`: the bytes to append to the patched model (a few hundred; the caller keeps room for them). */
export type PatchResult = { tail: Uint8Array; inputs: PackedInputs } | { reason: string };

interface NodeInfo {
  op: string;
  inputs: string[];
  /** Output names with the byte offset of each name's first character in the model. */
  outputs: { name: string; at: number; length: number }[];
}

// ModelProto.graph = 7; GraphProto.node = 1, input = 11; NodeProto.input = 1, output = 2, op_type = 4;
// ValueInfoProto.name = 1, type = 2; TypeProto.tensor_type = 1; Tensor.elem_type = 1, shape = 2;
// TensorShapeProto.dim = 1; Dimension.dim_value = 1, dim_param = 2. TensorProto.DataType FLOAT = 1, INT64 = 7.
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INPUT = 11;
const LEN = 2; // wire type of length-delimited fields

function readNodes(bytes: Uint8Array): { nodes: NodeInfo[]; names: Set<string> } {
  const nodes: NodeInfo[] = [];
  const names = new Set<string>();
  const model = Reader.create(bytes);
  while (model.pos < model.len) {
    const tag = model.uint32();
    if (tag >>> 3 !== MODEL_GRAPH || (tag & 7) !== LEN) {
      model.skipType(tag & 7);
      continue;
    }
    const graphEnd = model.uint32() + model.pos;
    while (model.pos < graphEnd) {
      const gtag = model.uint32();
      if (gtag >>> 3 !== GRAPH_NODE || (gtag & 7) !== LEN) {
        model.skipType(gtag & 7);
        continue;
      }
      const nodeEnd = model.uint32() + model.pos;
      const node: NodeInfo = { op: '', inputs: [], outputs: [] };
      while (model.pos < nodeEnd) {
        const ntag = model.uint32();
        const field = ntag >>> 3;
        if ((ntag & 7) === LEN && (field === 1 || field === 2 || field === 4)) {
          const length = model.uint32();
          const at = model.pos;
          const name = Buffer.from(bytes.buffer, bytes.byteOffset + at, length).toString('utf8');
          model.skip(length);
          if (field === 1) node.inputs.push(name);
          else if (field === 2) node.outputs.push({ name, at, length });
          else node.op = name;
          names.add(name);
        } else model.skipType(ntag & 7);
      }
      nodes.push(node);
    }
  }
  return { nodes, names };
}

/** Finds the two tensors; null with the reason when the graph is not the expected export. */
function findTensors(nodes: NodeInfo[]): { bias: string; index: string } | { reason: string } {
  const producer = new Map<string, NodeInfo>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o.name, n);
  const softmaxes = nodes.filter((n) => n.op === 'Softmax');
  if (softmaxes.length === 0) return { reason: 'no Softmax (a fused attention op?)' };
  let common: Set<string> | undefined;
  for (const s of softmaxes) {
    const add = producer.get(s.inputs[0] ?? '');
    if (add?.op !== 'Add') return { reason: 'a Softmax whose input is not an Add of scores and mask' };
    common = new Set(common ? add.inputs.filter((i) => common!.has(i)) : add.inputs);
  }
  const bias = [...(common ?? [])].find((name) => producer.has(name));
  if (!bias) return { reason: 'no mask tensor shared by every layer' };
  // From `logits` back through the LM head (and its quantization ops) to the Gather of the kept positions.
  let node = producer.get('logits');
  for (let step = 0; node && node.op !== 'Gather' && step < 8; step++) node = producer.get(node.inputs.find((i) => producer.has(i)) ?? '');
  const index = node?.op === 'Gather' ? node.inputs[1] : undefined;
  if (!index || !producer.has(index)) return { reason: 'no Gather of kept positions before the LM head (num_logits_to_keep)' };
  return { bias, index };
}

/** A name of the same byte length that no tensor of the graph has. */
function deadName(name: string, taken: Set<string>): string {
  for (const c of '~!#$%&^') {
    const candidate = name.slice(0, -1) + c;
    if (Buffer.byteLength(candidate) === Buffer.byteLength(name) && !taken.has(candidate)) return candidate;
  }
  throw new Error(`no free name for ${name}`);
}

function valueInfo(w: protobuf.Writer, name: string, elemType: number, dims: (string | number)[]): void {
  w.uint32((GRAPH_INPUT << 3) | LEN).fork();
  w.uint32((1 << 3) | LEN).string(name);
  w.uint32((2 << 3) | LEN).fork(); // TypeProto
  w.uint32((1 << 3) | LEN).fork(); // tensor_type
  w.uint32(1 << 3).int32(elemType);
  w.uint32((2 << 3) | LEN).fork(); // shape
  for (const d of dims) {
    w.uint32((1 << 3) | LEN).fork();
    if (typeof d === 'number') w.uint32(1 << 3).int64(d);
    else w.uint32((2 << 3) | LEN).string(d);
    w.ldelim();
  }
  w.ldelim().ldelim().ldelim().ldelim();
}

/**
 * Patches `model` in place (the caller's buffer, read for this: a model file is hundreds of MB) so that, followed
 * by the returned `tail`, it takes the attention bias and the kept logits positions as inputs; or says why not.
 */
export function patchForPacking(model: Buffer): PatchResult {
  let found;
  let parsed;
  try {
    parsed = readNodes(model);
    found = findTensors(parsed.nodes);
  } catch (e) {
    return { reason: `cannot read the graph: ${(e as Error).message}` };
  }
  if ('reason' in found) return found;
  for (const name of [found.bias, found.index]) {
    const producer = parsed.nodes.find((n) => n.outputs.some((o) => o.name === name))!;
    const o = producer.outputs.find((x) => x.name === name)!;
    model.write(deadName(name, parsed.names), o.at, o.length, 'utf8');
  }
  const graph = Writer.create();
  valueInfo(graph, found.bias, 1, ['batch_size', 1, 'sequence_length', 'total_sequence_length']);
  valueInfo(graph, found.index, 7, ['kept_positions']);
  const inputs = graph.finish();
  const tail = Writer.create().uint32((MODEL_GRAPH << 3) | LEN).bytes(inputs).finish();
  return { tail, inputs: { bias: found.bias, logitsIndex: found.index } };
}
