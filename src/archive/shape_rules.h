// Shape and dtype checks of the validation boundary: for the ops pt2tflite lowers, the ranks, list lengths
// and integer arguments (dims, strides, kernel sizes, pads, permutations, view sizes) each op's
// lowering relies on, and the output shape the op computes from its inputs against the one the
// archive declares. An archive that fails them is inconsistent (edited or corrupt): torch.export
// never writes one. Lowering rules may then index dims and divide by strides without checking.
#pragma once

#include <string>

#include "ir/graph.h"

namespace pt2tflite::archive {

// PyTorch repeats a one-element stride, padding, dilation or kernel_size list of a convolution or
// pooling over every spatial dim (SigLIP's and EfficientNet's padding=[0]); this writes the
// repeated list, so that lowering reads one entry per dim. Call it before check_node_shapes.
void expand_one_element_lists(ir::Node& node);

// Empty when `node` (already checked against its op schema) is consistent; else what is wrong.
std::string check_node_shapes(const ir::Node& node);

}  // namespace pt2tflite::archive
