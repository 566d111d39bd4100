// The `pt2tflite._core` extension module: the C++ converter as Python functions.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <tuple>

#include "ir/tfl_op.h"
#include "lower/registry.h"
#include "passes/aten_eval.h"
#include "pt2tflite/convert.h"
#include "tflite/inspect.h"
#include "util/check.h"

namespace py = pybind11;

namespace {

// Raises pt2tflite.errors.ConversionError with the structured diagnostics attached.
void raise_conversion_error(const pt2tflite::ConversionError& e) {
  py::list diags;
  for (const auto& d : e.diagnostics()) {
    py::dict item;
    item["op"] = d.op;
    item["node"] = d.node;
    item["module_path"] = d.module_path;
    item["source"] = d.source;
    item["message"] = d.message;
    diags.append(item);
  }
  py::object cls = py::module_::import("pt2tflite.errors").attr("ConversionError");
  py::object exc = cls(e.what(), diags);
  PyErr_SetObject(cls.ptr(), exc.ptr());
}

pt2tflite::ConvertOptions make_options(std::vector<std::string> dump_after, std::string* dumps, bool verbose,
                                       bool external_buffers, bool quantized_io, bool float16_weights,
                                       std::string weight_quant, int block_size) {
  pt2tflite::ConvertOptions options;
  options.dump_after = std::move(dump_after);
  options.dump_sink = dumps;
  options.verbose = verbose;
  options.external_buffers = external_buffers;
  options.quantized_io = quantized_io;
  options.float16_weights = float16_weights;
  options.weight_quant = std::move(weight_quant);
  options.block_size = block_size;
  return options;
}

std::span<const uint8_t> bytes_of(std::string_view view) {
  return {reinterpret_cast<const uint8_t*>(view.data()), view.size()};
}

// Converts the archive file at `path` (memory-mapped, not read into Python).
py::tuple convert_file(const std::string& path, std::vector<std::string> dump_after, bool verbose,
                       bool external_buffers, bool quantized_io, bool float16_weights, std::string weight_quant,
                       int block_size) {
  std::string dumps;
  pt2tflite::ConvertOptions options = make_options(std::move(dump_after), &dumps, verbose, external_buffers,
                                                   quantized_io, float16_weights, std::move(weight_quant), block_size);
  pt2tflite::ConvertResult result;
  {
    py::gil_scoped_release release;
    result = pt2tflite::convert_file(path, options);
  }
  py::bytes out(reinterpret_cast<const char*>(result.tflite.data()), result.tflite.size());
  return py::make_tuple(out, dumps);
}

py::tuple convert(py::bytes archive, std::vector<std::string> dump_after, bool verbose, bool external_buffers,
                  bool quantized_io, bool float16_weights, std::string weight_quant, int block_size) {
  std::string_view view = archive;
  std::string dumps;
  auto options = make_options(std::move(dump_after), &dumps, verbose, external_buffers, quantized_io, float16_weights,
                              std::move(weight_quant), block_size);
  pt2tflite::ConvertResult result;
  {
    py::gil_scoped_release release;
    result = pt2tflite::convert_bytes(bytes_of(view), options);
  }
  py::bytes out(reinterpret_cast<const char*>(result.tflite.data()), result.tflite.size());
  return py::make_tuple(out, dumps);
}

// signatures: [(key, archive bytes, output names)], one subgraph each, weights shared.
py::tuple convert_signatures(
    const std::vector<std::tuple<std::string, py::bytes, std::vector<std::string>>>& signatures,
    std::vector<std::string> dump_after, bool verbose, bool external_buffers, bool quantized_io, bool float16_weights,
    std::string weight_quant, int block_size) {
  std::string dumps;
  auto options = make_options(std::move(dump_after), &dumps, verbose, external_buffers, quantized_io, float16_weights,
                              std::move(weight_quant), block_size);
  std::vector<pt2tflite::SignatureSource> sources;
  for (const auto& [key, archive, output_names] : signatures) {
    std::string_view view = archive;  // the bytes objects live in `signatures` for the whole call
    sources.push_back(pt2tflite::SignatureSource{key, bytes_of(view), output_names});
  }
  pt2tflite::ConvertResult result;
  {
    py::gil_scoped_release release;
    result = pt2tflite::convert_signatures(sources, options);
  }
  py::bytes out(reinterpret_cast<const char*>(result.tflite.data()), result.tflite.size());
  return py::make_tuple(out, dumps);
}

// signatures: [(key, archive path, output names)]; writes the .tflite to `output` (streamed from the
// archive mappings). Returns (bytes written, dumps).
py::tuple convert_signature_files(
    const std::vector<std::tuple<std::string, std::string, std::vector<std::string>>>& signatures,
    const std::string& output, std::vector<std::string> dump_after, bool verbose, bool external_buffers,
    bool quantized_io, bool float16_weights, std::string weight_quant, int block_size) {
  std::string dumps;
  auto options = make_options(std::move(dump_after), &dumps, verbose, external_buffers, quantized_io, float16_weights,
                              std::move(weight_quant), block_size);
  std::vector<pt2tflite::SignatureFile> files;
  for (const auto& [key, path, output_names] : signatures)
    files.push_back(pt2tflite::SignatureFile{key, path, output_names});
  uint64_t size = 0;
  {
    py::gil_scoped_release release;
    size = pt2tflite::convert_signature_files_to_file(files, output, options);
  }
  return py::make_tuple(size, dumps);
}

py::dict inspect(py::bytes model) {
  std::string_view view = model;
  auto s = pt2tflite::tflite_writer::summarize_model({reinterpret_cast<const uint8_t*>(view.data()), view.size()});
  py::dict d;
  d["file_bytes"] = s.file_bytes;
  d["constant_bytes"] = s.constant_bytes;
  d["op_histogram"] = s.op_histogram;
  d["op_count"] = s.op_count;
  py::dict xnnpack;
  for (const auto& [name, x] : s.xnnpack) {
    py::dict entry;
    entry["delegated"] = x.delegated;
    entry["refused"] = x.refused;
    xnnpack[py::str(name)] = entry;
  }
  d["xnnpack"] = xnnpack;
  d["signatures"] = s.signatures;
  py::list ops;
  for (const auto& o : s.ops) {
    py::dict entry;
    entry["subgraph"] = o.subgraph;
    entry["index"] = o.index;
    entry["op"] = o.name;
    entry["inputs"] = o.inputs;
    entry["outputs"] = o.outputs;
    entry["xnnpack_refusal"] = o.xnnpack_refusal;
    ops.append(entry);
  }
  d["ops"] = ops;
  py::list io;
  for (const auto& sig : s.signature_io) io.append(py::make_tuple(sig.inputs, sig.outputs));
  d["signature_io"] = io;
  return d;
}

py::list supported_ops() {
  py::list out;
  for (const auto& r : pt2tflite::lower::registry().rules()) out.append(py::make_tuple(r.op, r.emits, r.notes));
  return out;
}

py::list keep_whole_ops() {
  py::list out;
  for (const auto& r : pt2tflite::lower::registry().rules())
    if (r.keep_whole) out.append(r.op);
  return out;
}

py::list evaluable_ops() {
  py::list out;
  for (std::string_view op : pt2tflite::passes::evaluable_ops()) out.append(py::str(op));
  return out;
}

py::list fused_activation_ops() {
  py::list out;
  for (pt2tflite::ir::TflOp op : pt2tflite::ir::all_tfl_ops())
    if (pt2tflite::ir::accepts_fused_activation(op)) out.append(py::str(pt2tflite::ir::builtin_name(op)));
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "pt2tflite's C++ core: .pt2 archive bytes → .tflite bytes";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const pt2tflite::ConversionError& e) {
      raise_conversion_error(e);
    } catch (const pt2tflite::InternalError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
  m.def("convert", &convert, py::arg("archive"), py::arg("dump_after") = std::vector<std::string>{},
        py::arg("verbose") = false, py::arg("external_buffers") = false, py::arg("quantized_io") = false,
        py::arg("float16_weights") = false, py::arg("weight_quant") = "", py::arg("block_size") = 32,
        "Converts torch.export archive bytes; returns (tflite_bytes, ir_dumps).");
  m.def("convert_file", &convert_file, py::arg("path"), py::arg("dump_after") = std::vector<std::string>{},
        py::arg("verbose") = false, py::arg("external_buffers") = false, py::arg("quantized_io") = false,
        py::arg("float16_weights") = false, py::arg("weight_quant") = "", py::arg("block_size") = 32,
        "Converts the torch.export archive at `path`; returns (tflite_bytes, ir_dumps).");
  m.def("convert_signatures", &convert_signatures, py::arg("signatures"),
        py::arg("dump_after") = std::vector<std::string>{}, py::arg("verbose") = false,
        py::arg("external_buffers") = false, py::arg("quantized_io") = false, py::arg("float16_weights") = false,
        py::arg("weight_quant") = "", py::arg("block_size") = 32,
        "Converts [(key, archive bytes, output names)] into one multi-signature model; returns (tflite_bytes, "
        "ir_dumps).");
  m.def("convert_signature_files", &convert_signature_files, py::arg("signatures"), py::arg("output"),
        py::arg("dump_after") = std::vector<std::string>{}, py::arg("verbose") = false,
        py::arg("external_buffers") = false, py::arg("quantized_io") = false, py::arg("float16_weights") = false,
        py::arg("weight_quant") = "", py::arg("block_size") = 32,
        "Converts [(key, archive path, output names)] into one multi-signature .tflite written to `output` (weights "
        "streamed from the archive mappings); returns (bytes written, ir_dumps).");
  m.def("inspect", &inspect, py::arg("model"),
        "Op histogram, XNNPACK delegation per op type, sizes and signatures of .tflite bytes.");
  m.def("pass_names", &pt2tflite::pass_names, "Stages whose IR dump_after can print, in pipeline order.");
  m.def("fused_activation_ops", &fused_activation_ops,
        "TFLite ops that may carry a fused activation (both the builtin kernel and XNNPACK apply it).");
  m.def("supported_ops", &supported_ops, "(aten overload, TFLite ops, notes) for every lowering rule.");
  m.def("keep_whole_ops", &keep_whole_ops,
        "ATen overloads pt2tflite.convert keeps out of torch.export's decomposition table (lowered whole).");
  m.def("evaluable_ops", &evaluable_ops, "ATen overloads evaluate_constants computes at convert time.");
}
