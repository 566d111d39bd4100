// The conversion pipeline: archive → ATen IR → passes → lowering → TFLite passes → flatbuffer.
// Passes run in this order, by name, so `--dump-after=NAME` can show the IR after any of them.
#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <sstream>
#include <unordered_map>

#include "archive/pt2_reader.h"
#include "archive/zip_archive.h"
#include "lower/lower.h"
#include "passes/passes.h"
#include "pipeline/atomic_file.h"
#include "pipeline/output_check.h"
#include "pt2tflite/convert.h"
#include "tflite/writer.h"
#include "util/check.h"
#include "util/rss.h"

namespace pt2tflite {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

std::string joined_pass_names() {
  std::string out;
  for (const std::string& p : pass_names()) out += (out.empty() ? "" : ", ") + p;
  return out;
}

bool is_pass_name(const std::string& name) {
  const auto& names = pass_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The weight_quant pass's options; a ConversionError for values the user may not give.
passes::WeightQuantOptions weight_quant_options(const ConvertOptions& o) {
  passes::WeightQuantOptions wq;
  if (o.weight_quant == "int8")
    wq.mode = passes::WeightQuantMode::kInt8;
  else if (o.weight_quant == "int4")
    wq.mode = passes::WeightQuantMode::kInt4;
  else
    throw ConversionError("weight_quant must be \"int8\" or \"int4\", not \"" + o.weight_quant + "\"");
  // XNNPACK takes blocks that are a multiple of 32; LiteRT's recipes use 32, 64 and 128.
  if (o.block_size != 32 && o.block_size != 64 && o.block_size != 128)
    throw ConversionError("block_size must be 32, 64 or 128, not " + std::to_string(o.block_size));
  wq.block_size = o.block_size;
  return wq;
}

class Stages {
 public:
  explicit Stages(const ConvertOptions& o) : options_(o), last_(std::chrono::steady_clock::now()) {
    for (const std::string& d : options_.dump_after)
      if (!is_pass_name(d))
        throw ConversionError("unknown pass '" + d + "' to dump after; the passes are: " + joined_pass_names());
    if (!options_.weight_quant.empty()) weight_quant_options(options_);  // refuses bad values before any work
  }

  // Runs a graph pass over every subgraph, then reports it like any other stage.
  void run(ir::Module& m, const std::string& name, const std::function<void(ir::Graph&)>& pass) {
    for (auto& g : m.subgraphs) pass(*g);
    done(name, &m);
  }

  // Called after each stage: prints its time and resident memory (now / peak so far) when
  // verbose, and the IR when asked for.
  void done(const std::string& name, const ir::Module* m) {
    // Every stage with an IR must be listed in pass_names(), so that users can ask for it.
    PT2_CHECK(!m || is_pass_name(name), "pipeline stage '" << name << "' is missing from pass_names()");
    auto now = std::chrono::steady_clock::now();
    if (options_.verbose)
      std::cerr << "pt2tflite: " << name << " " << std::chrono::duration<double, std::milli>(now - last_).count()
                << " ms, RSS " << util::current_rss_bytes() / kMiB << " MiB (peak " << util::peak_rss_bytes() / kMiB
                << " MiB)\n";
    last_ = now;
    for (const std::string& d : options_.dump_after) {
      if (d != name || !m) continue;
      std::string text = "// IR after " + name + "\n" + ir::dump(*m);
      if (options_.dump_sink)
        *options_.dump_sink += text;
      else
        std::cerr << text;
    }
  }

 private:
  const ConvertOptions& options_;
  std::chrono::steady_clock::time_point last_;
};

// The pipeline's passes, in order, each with the option that turns it on. Both the conversion
// and pass_names() (what --dump-after accepts) read these tables, so they cannot disagree.
struct PassRow {
  const char* name;
  void (*run)(ir::Graph&, const ConvertOptions&);
  bool (*enabled)(const ConvertOptions&);
};
bool always(const ConvertOptions&) { return true; }

// A pass that needs nothing but the graph.
template <void (*Pass)(ir::Graph&)>
void graph_only(ir::Graph& g, const ConvertOptions&) {
  Pass(g);
}

void run_weight_quant(ir::Graph& g, const ConvertOptions& o) { passes::weight_quant(g, weight_quant_options(o)); }

// On the ATen graph, between import and lowering.
constexpr PassRow kAtenPasses[] = {
    // First: the passes after it fold and evaluate float32 only.
    {"compute_in_float32", graph_only<passes::compute_in_float32>, always},
    {"view_0d_as_1d", graph_only<passes::view_0d_as_1d>, always},
    {"fold_batchnorm", graph_only<passes::fold_batchnorm>, always},
    {"evaluate_constants", graph_only<passes::evaluate_constants>, always},
};

// On the TFLite graph, between lowering and the writer.
constexpr PassRow kTflitePasses[] = {
    {"fold_constants", graph_only<passes::fold_constants>, always},
    // Before simplify_transposes, which merges the RESHAPEs that drop_broadcasts shrinks.
    {"drop_broadcasts", graph_only<passes::drop_broadcasts>, always},
    {"simplify_transposes", graph_only<passes::simplify_transposes>, always},
    // Before fold_channel_affine, which can then fold a bias add or scale into the new FC.
    {"matmul_to_fc", graph_only<passes::matmul_to_fc>, always},
    // Before fold_channel_affine too: it moves constant ADDs next to the FC that can absorb them.
    {"reassociate_broadcasts", graph_only<passes::reassociate_broadcasts>, always},
    // Before fuse_activation: an ADD folded into a bias may carry the activation to fuse.
    {"fold_channel_affine", graph_only<passes::fold_channel_affine>, always},
    {"fuse_activation", graph_only<passes::fuse_activation>, always},
    {"drop_fc_flatten", graph_only<passes::drop_fc_flatten>, always},
    {"fold_pad_into_same", graph_only<passes::fold_pad_into_same>, always},
    // After fuse_activation, so an int8 op clamps with its activation before its output QUANTIZE.
    {"fold_qdq", graph_only<passes::fold_qdq>, always},
    // After fold_qdq (a PT2E model's int8 weights are not float any more) and before
    // float16_weights, which then stores the weights left float (small ones) as float16.
    {"weight_quant", run_weight_quant, [](const ConvertOptions& o) { return !o.weight_quant.empty(); }},
    {"float16_weights", graph_only<passes::float16_weights>, [](const ConvertOptions& o) { return o.float16_weights; }},
    {"quantized_io", graph_only<passes::quantized_io>, [](const ConvertOptions& o) { return o.quantized_io; }},
    // Last: it guards the final graph's buffer sharing, which any earlier rewrite could change.
    {"guard_inplace_aliases", graph_only<passes::guard_inplace_aliases>, always},
};

// Reads one archive and lowers it to TFLite ops: import, the ATen passes, lower. Its constants
// still borrow the archive's bytes.
ir::Module import_and_lower(const archive::ZipArchive& zip, const ConvertOptions& options, Stages& stages) {
  archive::ImportResult imported = archive::read_pt2(zip);
  stages.done("import", &imported.module);
  for (const PassRow& p : kAtenPasses) {
    if (!p.enabled(options)) continue;
    stages.run(imported.module, p.name, [&](ir::Graph& g) { p.run(g, options); });
    // The weights a pass read may be replaced by its results (fold_batchnorm's); their mapped
    // pages need not stay resident (any still used are read back when needed).
    zip.drop_pages();
  }

  std::vector<Diagnostic> diagnostics = std::move(imported.diagnostics);
  ir::Module tfl = lower::lower(imported.module, diagnostics);
  if (!diagnostics.empty()) throw ConversionError(std::move(diagnostics));
  // The ATen module goes: weights the lowering permuted or copied exist only in `tfl` now.
  zip.drop_pages();
  stages.done("lower", &tfl);
  return tfl;
}

// Runs the TFLite-level passes and the writer. The returned flatbuffer holds the constants it still
// needs; the IR module is gone by then, so a constant that nothing else holds (a pass's result) is
// freed as soon as it has been written out.
tflite_writer::Flatbuffer optimize_and_write(ir::Module tfl, std::span<const archive::ZipArchive* const> zips,
                                             const ConvertOptions& options, Stages& stages) {
  for (const PassRow& p : kTflitePasses)
    if (p.enabled(options)) stages.run(tfl, p.name, [&](ir::Graph& g) { p.run(g, options); });
  for (const archive::ZipArchive* zip : zips) zip->drop_pages();

  // The output contract: nothing is returned or written unless LiteRT can load it.
  pipeline::check_lowered_module(tfl);
  tflite_writer::Flatbuffer fb = tflite_writer::write_model(tfl, options.external_buffers);
  pipeline::check_flatbuffer(fb.head());
  stages.done("write", nullptr);
  return fb;
}

// Runs every stage up to the writer for a single-signature model.
tflite_writer::Flatbuffer convert_archive(const archive::ZipArchive& zip, const ConvertOptions& options,
                                          Stages& stages) {
  const archive::ZipArchive* zips[] = {&zip};
  return optimize_and_write(import_and_lower(zip, options, stages), zips, options, stages);
}

// Moves the lowered subgraph of `part` into `into` as the entry point `source.key`.
void add_signature(ir::Module& into, ir::Module part, const SignatureSource& source) {
  PT2_CHECK(part.subgraphs.size() == 1 && part.signatures.size() == 1, "an archive lowers to one subgraph");
  ir::Signature sig = std::move(part.signatures.front());
  // The names are those of the user outputs, which come first; state outputs keep their names.
  if (source.output_names.size() > sig.output_names.size())
    throw ConversionError("signature '" + source.key + "' has " + std::to_string(sig.output_names.size()) +
                          " outputs but " + std::to_string(source.output_names.size()) + " output names were given");
  std::copy(source.output_names.begin(), source.output_names.end(), sig.output_names.begin());
  sig.key = source.key;
  sig.subgraph = static_cast<int>(into.subgraphs.size());
  part.subgraphs.front()->name = source.key;
  into.subgraphs.push_back(std::move(part.subgraphs.front()));
  into.signatures.push_back(std::move(sig));
}

void check_signature_keys(std::span<const SignatureSource> sources) {
  if (sources.empty()) throw ConversionError("no signatures to convert");
  for (size_t i = 0; i < sources.size(); ++i) {
    if (sources[i].key.empty()) throw ConversionError("a signature key must not be empty");
    for (size_t j = 0; j < i; ++j)
      if (sources[j].key == sources[i].key) throw ConversionError("two signatures are named '" + sources[i].key + "'");
  }
}

ConvertResult in_memory(tflite_writer::Flatbuffer fb, Stages& stages) {
  tflite_writer::Flatbuffer::Bytes b = fb.materialize();
  stages.done("assemble", nullptr);
  return ConvertResult{std::move(b.storage), b.bytes};
}

}  // namespace

const std::vector<std::string>& pass_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out{"import"};
    for (const PassRow& p : kAtenPasses) out.push_back(p.name);
    out.push_back("lower");
    for (const PassRow& p : kTflitePasses) out.push_back(p.name);
    return out;
  }();
  return names;
}

std::string Diagnostic::to_string() const {
  std::ostringstream os;
  os << op;
  if (!node.empty()) os << " (node '" << node << "'";
  if (!module_path.empty()) os << ", module '" << module_path << "'";
  if (!node.empty()) os << ")";
  if (!source.empty()) os << " at " << source;
  os << ": " << message;
  return os.str();
}

// The message stays a few hundred characters however many nodes fail (issue 11: a hostile archive
// with thousands of renamed ops must not produce megabytes of text): a count per op, the first
// few nodes, and where to find the rest. ConversionError::diagnostics() keeps every one.
static std::string summarize(const std::vector<Diagnostic>& diagnostics) {
  // At most ~1,000 characters: 3 ops of at most 48 characters named, and 600 characters of node
  // lines (one node gets them all, so its whole message shows; three get 200 each).
  constexpr size_t kListed = 3, kOpsNamed = 3, kOpChars = 48, kLinesChars = 600;
  const size_t kLineChars = kLinesChars / std::clamp<size_t>(diagnostics.size(), 1, kListed);
  auto cut = [](const std::string& s, size_t n) { return s.size() > n ? s.substr(0, n) + "..." : s; };
  // Count per op in order of first appearance; a map, since a hostile archive may name a new op
  // on every one of its nodes.
  std::vector<std::pair<std::string, size_t>> per_op;
  std::unordered_map<std::string, size_t> slot;  // op -> index in per_op
  for (const Diagnostic& d : diagnostics) {
    auto [it, fresh] = slot.emplace(d.op, per_op.size());
    if (fresh) per_op.emplace_back(d.op, 0);
    ++per_op[it->second].second;
  }
  std::ostringstream os;
  os << "cannot convert the model: " << diagnostics.size() << " unsupported node"
     << (diagnostics.size() == 1 ? "" : "s");
  if (diagnostics.size() > kListed) {
    os << " (";
    for (size_t i = 0; i < per_op.size() && i < kOpsNamed; ++i)
      os << (i ? ", " : "") << cut(per_op[i].first, kOpChars) << " x" << per_op[i].second;
    if (per_op.size() > kOpsNamed) os << ", and " << per_op.size() - kOpsNamed << " more ops";
    os << ")";
  }
  for (size_t i = 0; i < diagnostics.size() && i < kListed; ++i)
    os << "\n  - " << cut(diagnostics[i].to_string(), kLineChars);
  if (diagnostics.size() > kListed)
    os << "\n  ... and " << diagnostics.size() - kListed
       << " more (`pt2tflite convert --verbose` lists every one; in Python, ConversionError.diagnostics)";
  return os.str();
}

ConversionError::ConversionError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(summarize(diagnostics)), diagnostics_(std::move(diagnostics)) {}

ConversionError::ConversionError(const std::string& message) : std::runtime_error(message) {}

ConvertResult convert_file(const std::string& path, const ConvertOptions& options) {
  Stages stages(options);
  return in_memory(convert_archive(archive::ZipArchive::open_file(path), options, stages), stages);
}

uint64_t convert_file_to_file(const std::string& path, const std::string& output, const ConvertOptions& options) {
  Stages stages(options);
  tflite_writer::Flatbuffer fb = convert_archive(archive::ZipArchive::open_file(path), options, stages);
  // Only now, once the conversion has succeeded, does the (temporary) output file exist.
  pipeline::AtomicFile file(output);
  fb.stream([&](std::span<const uint8_t> bytes) { file.write(bytes); });
  file.commit();
  stages.done("output", nullptr);
  return fb.size();
}

ConvertResult convert_bytes(std::span<const uint8_t> bytes, const ConvertOptions& options) {
  // The caller's bytes outlive the call; constants borrow them only until they are copied out.
  Stages stages(options);
  return in_memory(convert_archive(archive::ZipArchive::open_bytes(nullptr, bytes), options, stages), stages);
}

ConvertResult convert_signatures(std::span<const SignatureSource> sources, const ConvertOptions& options) {
  check_signature_keys(sources);
  Stages stages(options);
  // Every archive stays open until the writer has placed the constants borrowed from it.
  std::vector<archive::ZipArchive> zips;
  zips.reserve(sources.size());
  ir::Module merged;
  for (const SignatureSource& source : sources) {
    zips.push_back(archive::ZipArchive::open_bytes(nullptr, source.archive));
    add_signature(merged, import_and_lower(zips.back(), options, stages), source);
  }
  std::vector<const archive::ZipArchive*> zip_ptrs;
  for (const auto& z : zips) zip_ptrs.push_back(&z);
  return in_memory(optimize_and_write(std::move(merged), zip_ptrs, options, stages), stages);
}

uint64_t convert_signature_files_to_file(std::span<const SignatureFile> files, const std::string& output,
                                         const ConvertOptions& options) {
  std::vector<SignatureSource> sources;
  for (const SignatureFile& f : files) sources.push_back(SignatureSource{f.key, {}, f.output_names});
  check_signature_keys(sources);
  Stages stages(options);
  // Every archive stays mapped until the writer has streamed the constants borrowed from it.
  std::vector<archive::ZipArchive> zips;
  zips.reserve(files.size());
  ir::Module merged;
  for (size_t i = 0; i < files.size(); ++i) {
    zips.push_back(archive::ZipArchive::open_file(files[i].path));
    add_signature(merged, import_and_lower(zips.back(), options, stages), sources[i]);
  }
  std::vector<const archive::ZipArchive*> zip_ptrs;
  for (const auto& z : zips) zip_ptrs.push_back(&z);
  tflite_writer::Flatbuffer fb = optimize_and_write(std::move(merged), zip_ptrs, options, stages);
  // Only now, once the conversion has succeeded, does the (temporary) output file exist.
  pipeline::AtomicFile file(output);
  fb.stream([&](std::span<const uint8_t> bytes) { file.write(bytes); });
  file.commit();
  stages.done("output", nullptr);
  return fb.size();
}

}  // namespace pt2tflite
