// Graph passes. Each takes a graph and rewrites it in place; the pipeline (pipeline/convert.cc) runs
// them in order by name. The comment above each one is its entry in docs/passes.md
// (tools/gen_passes_doc.py).
#pragma once

#include "ir/graph.h"

namespace pt2tflite::passes {

// ATen level: computes a float16, bfloat16 or float64 model in float32 (LiteRT's builtin kernels
// have float32 arithmetic only); its inputs and outputs keep their dtypes through a CAST at each
// end. A model whose state buffers (a KV cache) are in such a dtype is left as it is.
void compute_in_float32(ir::Graph& aten);

// ATen level: an op that takes a dim (softmax, cumsum, flip, sort, a reduction) over a 0-d tensor
// runs on it viewed as [1] (PyTorch reads dim 0 or -1 of a 0-d tensor as its one element, TFLite's
// kernels have no such rule), and its results are viewed back as 0-d.
void view_0d_as_1d(ir::Graph& aten);

// ATen level: folds eval-mode batch norm into the convolution that feeds it (weights and bias
// rescaled at convert time) when the convolution output has no other reader.
void fold_batchnorm(ir::Graph& aten);

// ATen level: computes at convert time every node whose operands are all constants and whose
// shapes are static (rotary tables, position buckets, masks, biases built from parameters), in
// float64 rounded to each node's dtype, and stores the values run-time nodes read as constants.
// A result bigger than 1 MiB and than its operands is not stored (its node stays), nor is one of
// an op that only moves or broadcasts elements: the lowering folds those into its layouts.
void evaluate_constants(ir::Graph& aten);

// TFLite level: fuses RELU / RELU6 / RELU_N1_TO_1 into the op that produces their input when
// that op supports a fused activation and nothing else reads its output.
void fuse_activation(ir::Graph& tfl);

// TFLite level: evaluates ops whose inputs are all constants (reshape, transpose, cast, gather,
// gather_nd, broadcast, slice, pad, concatenation, binary arithmetic, compares and selects, float
// unary math, reductions, batch matmul, fully connected) at convert time, unless the result is
// over 1 MiB and bigger than its operands. A BROADCAST_TO of a constant stays a run-time broadcast.
void fold_constants(ir::Graph& tfl);

// TFLite level: merges TRANSPOSE∘TRANSPOSE and RESHAPE∘RESHAPE chains, turns TRANSPOSEs that move
// only size-1 dims into RESHAPEs, drops identity TRANSPOSEs and RESHAPEs, and gathers the data
// movement of chains, splits (q, k, v), residual ADDs and multi-reader values into as few
// TRANSPOSEs as the graph needs (BATCH_MATMUL's adj_y absorbing a swap), exactly.
void simplify_transposes(ir::Graph& tfl);

// TFLite level: removes BROADCAST_TOs whose readers broadcast by themselves (elementwise ops,
// BATCH_MATMUL batch dims), shrinking the RESHAPEs and scalar ops in between.
void drop_broadcasts(ir::Graph& tfl);

// TFLite level: regroups elementwise chains so that small broadcast operands combine before they
// meet the full-size activation: (x·v)·c → x·(v·c), (z+b)+w → (z+w)+b, (x·s)+x → x·(s+1).
void reassociate_broadcasts(ir::Graph& tfl);

// TFLite level: folds ADD / SUB / MUL by a per-channel constant into the filter and bias of the
// CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED that produces the other operand, or of the
// FULLY_CONNECTED ops that are the only readers of its result.
void fold_channel_affine(ir::Graph& tfl);

// TFLite level: turns a zero PAD + VALID convolution into a SAME convolution when the PAD is
// exactly SAME's padding.
void fold_pad_into_same(ir::Graph& tfl);

// TFLite level: turns BATCH_MATMUL by a constant that is one matrix for every batch entry into
// FULLY_CONNECTED (keep_num_dims).
void matmul_to_fc(ir::Graph& tfl);

// TFLite level: drops the RESHAPE to [M, K] in front of a FULLY_CONNECTED that flattens anyway.
void drop_fc_flatten(ir::Graph& tfl);

// TFLite level: runs PT2E quantized islands (DEQUANTIZE → op → QUANTIZE) as native int8 ops with
// int8 weights and int32 biases; int8 weights of ops left in float get a DEQUANTIZE.
void fold_qdq(ir::Graph& tfl);

// TFLite level: stores the float32 weights of convolutions and FULLY_CONNECTED as FLOAT16
// constants read through a DEQUANTIZE, for ConvertOptions::float16_weights.
void float16_weights(ir::Graph& tfl);

enum class WeightQuantMode { kNone, kInt8, kInt4 };
struct WeightQuantOptions {
  WeightQuantMode mode = WeightQuantMode::kNone;
  int block_size = 32;  // int4: elements of a row per float16 scale
};

// TFLite level: stores the float32 weights of FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D,
// TRANSPOSE_CONV and embedding GATHERs (then EMBEDDING_LOOKUP) as int8 with one scale per output
// channel (or row), for ConvertOptions::weight_quant; activations stay float. FULLY_CONNECTED and
// ungrouped CONV_2D read the int8 weights directly (dynamic-range kernels), the other convolutions
// through a DEQUANTIZE. With int4, FULLY_CONNECTED weights and embedding tables whose rows split
// into blocks are blockwise int4 with a float16 scale per block; weights under 1024 elements stay
// float.
void weight_quant(ir::Graph& tfl, const WeightQuantOptions& options);

// TFLite level: makes quantized model inputs and outputs int8 (no QUANTIZE / DEQUANTIZE at the
// boundary), for ConvertOptions::quantized_io.
void quantized_io(ir::Graph& tfl);

// Copies a RESHAPE/SQUEEZE/EXPAND_DIMS result that shares the buffer of a tensor with other
// readers before an in-place kernel (ADD, MUL, SOFTMAX, ...) can write over it: LiteRT's arena
// planner misses those other readers (a silent wrong answer on the builtin kernels). Runs last.
void guard_inplace_aliases(ir::Graph& tfl);

}  // namespace pt2tflite::passes
