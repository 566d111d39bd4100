// BATCH_MATMUL of an activation by a constant that is the same matrix for every batch entry
// (batch dims of size 1, or a folded broadcast of one matrix) becomes FULLY_CONNECTED with
// keep_num_dims: XNNPACK packs an FC's weights once, and FC is what the delegate's dynamic
// quantization applies to. out[..., m, n] = Σk x[..., m, k] · W[n, k] with W = the matrix, transposed.
#include <cstring>

#include "ir/constants.h"
#include "passes/passes.h"

namespace pt2tflite::passes {

void matmul_to_fc(ir::Graph& g) {
  for (const auto& n : g.nodes()) {
    if (!n->is(ir::TflOp::BATCH_MATMUL)) continue;
    ir::Value* x = n->inputs[0];
    ir::Value* c = n->inputs[1];
    ir::Value* y = n->outputs[0];
    const bool adj_x = n->find("adj_x") && n->get_bool("adj_x");
    const bool adj_y = n->find("adj_y") && n->get_bool("adj_y");
    if (adj_x || x->is_const() || !c->is_const() || c->dtype != ir::DType::kFloat32 || c->quant || x->quant) continue;
    if (c->rank() < 2 || c->rank() > y->rank() || y->rank() != x->rank() || !ir::is_fully_static(y->shape)) continue;
    // Every batch entry of c must hold the same matrix.
    const int64_t rows = c->shape[c->rank() - 2].size, cols = c->shape[c->rank() - 1].size;
    const auto bytes = c->data->bytes();
    const size_t matrix = static_cast<size_t>(rows * cols) * sizeof(float);
    bool same = true;
    for (size_t at = matrix; same && at < bytes.size(); at += matrix)
      same = std::memcmp(bytes.data(), bytes.data() + at, matrix) == 0;
    if (!same) continue;
    // FC weights are [units, inputs]: c as [K, N] transposed, or as is when adj_y already gives [N, K].
    const std::vector<float> all = ir::to_float_vector(*c);
    std::vector<float> w(all.begin(), all.begin() + rows * cols);
    const int64_t units = adj_y ? rows : cols, inputs = adj_y ? cols : rows;
    if (!adj_y)
      for (int64_t k = 0; k < rows; ++k)
        for (int64_t j = 0; j < cols; ++j) w[j * rows + k] = all[k * cols + j];
    ir::Value* weights = g.add_const(g.unique_name(n->name + "_weights"), ir::DType::kFloat32,
                                     ir::static_shape(std::vector<int64_t>{units, inputs}),
                                     ir::ConstData::own(ir::to_bytes(std::span<const float>(w))));
    n->set_op(ir::TflOp::FULLY_CONNECTED);
    n->inputs = {x, weights, nullptr};
    n->args.clear();
    ir::set_fused_activation(*n, ir::Activation::NONE);
    n->set("keep_num_dims", true);
  }
  g.remove_dead();
}

}  // namespace pt2tflite::passes
