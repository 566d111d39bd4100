// One registration function per op family; lower/registry.cc calls them all.
#pragma once

#include "lower/registry.h"

namespace pt2tflite::lower {

void register_conv_rules(Registry& r);         // conv.cc
void register_pool_rules(Registry& r);         // pool.cc
void register_elementwise_rules(Registry& r);  // elementwise.cc
void register_activation_rules(Registry& r);   // activation.cc
void register_linear_rules(Registry& r);       // linear.cc
void register_shape_rules(Registry& r);        // shape.cc
void register_reduce_rules(Registry& r);       // reduce.cc
void register_norm_rules(Registry& r);         // norm.cc
void register_math_rules(Registry& r);         // math.cc
void register_compare_rules(Registry& r);      // compare.cc
void register_constant_rules(Registry& r);     // constant.cc
void register_index_rules(Registry& r);        // index.cc
void register_resize_rules(Registry& r);       // resize.cc
void register_pad_rules(Registry& r);          // pad.cc
void register_scatter_rules(Registry& r);      // scatter.cc
void register_cache_write_rules(Registry& r);  // cache_write.cc
void register_quantize_rules(Registry& r);     // quantize.cc
void register_sort_rules(Registry& r);         // sort.cc
void register_rearrange_rules(Registry& r);    // rearrange.cc
void register_sample_rules(Registry& r);       // sample.cc

}  // namespace pt2tflite::lower
