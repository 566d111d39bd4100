// The output contract: every file pt2tflite returns or writes loads in LiteRT. Checked on the
// lowered module (each op's declared output shape against the one computed from its inputs,
// constant sizes against their shapes, pads and dims in range) and on the finished flatbuffer
// (the flatbuffers Verifier generated from src/tflite/schema.fbs).
#pragma once

#include <cstdint>
#include <span>

#include "ir/graph.h"

namespace pt2tflite::pipeline {

// Throws ConversionError naming the op and node whose declared shape differs from the computed
// one (an archive whose declared shapes contradict its ops), or whose constant does not fit.
void check_lowered_module(const ir::Module& module);

// Throws InternalError when the flatbuffer does not pass the Verifier (a writer bug).
void check_flatbuffer(std::span<const uint8_t> head);

// True when `bytes` start with a TFL3 flatbuffer that passes the Verifier.
bool flatbuffer_verifies(std::span<const uint8_t> bytes);

}  // namespace pt2tflite::pipeline
