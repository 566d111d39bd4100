// The native CLI: `pt2tflite convert MODEL.pt2 -o MODEL.tflite` and `pt2tflite inspect MODEL.tflite`.
// The debugging commands need PyTorch, so they run in Python (python/pt2tflite/debug/cli.py).
// Exit codes: 0 success, 2 bad input or unsupported model, 1 internal error.

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <new>
#include <string>
#include <vector>

#include "pt2tflite/convert.h"
#include "tflite/inspect.h"
#include "util/check.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitInternal = 1;
constexpr int kExitBadInput = 2;

std::string usage() {
  std::string text =
      "usage:\n"
      "  pt2tflite convert MODEL.pt2 -o MODEL.tflite [--dump-after=PASS]... [--verbose] [--external-buffers]\n"
      "                    [--quantized-io] [--float16-weights] [--weight-quant=int8|int4] [--block-size=32|64|128]\n"
      "  pt2tflite inspect MODEL.tflite [--ops]\n"
      "needing Python and PyTorch (run by `python -m pt2tflite.debug` / `python -m pt2tflite`):\n"
      "  pt2tflite compare MODEL.pt2 [--tolerance=T] [--out=DIR]          (docs/debugging.md)\n"
      "  pt2tflite find-culprits MODEL.pt2 [--out=DIR]\n"
      "  pt2tflite inspect MODEL.tflite --pt2=MODEL.pt2 [--profile]\n"
      "  pt2tflite export-llm MODEL_DIR -o MODEL.litertlm|MODEL.tflite [--prefill-lengths 8,32] [--cache-length 64]\n"
      "                      [--quantize int8|int4] [--block-size 32]                                 (docs/llm.md)\n"
      "\n"
      "--weight-quant: weights stored int8 per output channel (\"int8\"), or blockwise int4 with float16\n"
      "  scales for fully-connected weights and embeddings, int8 for the rest (\"int4\"); activations stay\n"
      "  float (docs/quantization.md). --block-size: int4 elements per scale.\n"
      "\n"
      "passes for --dump-after:";
  for (const std::string& p : pt2tflite::pass_names()) text += " " + p;
  return text + "\n";
}

int run_convert(const std::vector<std::string>& args) {
  std::string input, output;
  pt2tflite::ConvertOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-o" && i + 1 < args.size())
      output = args[++i];
    else if (a.rfind("--dump-after=", 0) == 0)
      options.dump_after.push_back(a.substr(13));
    else if (a == "--verbose" || a == "-v")
      options.verbose = true;
    else if (a == "--external-buffers")
      options.external_buffers = true;
    else if (a == "--quantized-io")
      options.quantized_io = true;
    else if (a == "--float16-weights")
      options.float16_weights = true;
    else if (a.rfind("--weight-quant=", 0) == 0)
      options.weight_quant = a.substr(15);
    else if (a == "--weight-quant" && i + 1 < args.size())
      options.weight_quant = args[++i];
    else if (a == "--block-size" || a.rfind("--block-size=", 0) == 0) {
      const std::string v = a.size() > 12 && a[12] == '=' ? a.substr(13) : (i + 1 < args.size() ? args[++i] : "");
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 4) {
        std::cerr << "pt2tflite: --block-size takes 32, 64 or 128\n" << usage();
        return kExitBadInput;
      }
      options.block_size = std::stoi(v);
    } else if (!a.empty() && a[0] == '-') {
      std::cerr << "pt2tflite: unknown option " << a << "\n" << usage();
      return kExitBadInput;
    } else
      input = a;
  }
  if (input.empty() || output.empty()) {
    std::cerr << usage();
    return kExitBadInput;
  }
  auto t0 = std::chrono::steady_clock::now();
  // Streams the weights to the file (no partial file on failure); see convert_file_to_file.
  uint64_t size = 0;
  try {
    size = pt2tflite::convert_file_to_file(input, output, options);
  } catch (const pt2tflite::ConversionError& e) {
    if (!options.verbose || e.diagnostics().size() <= 1) throw;
    // The message lists the first few unsupported nodes; --verbose lists every one.
    std::cerr << "pt2tflite: error: cannot convert the model: " << e.diagnostics().size() << " unsupported nodes";
    for (const pt2tflite::Diagnostic& d : e.diagnostics()) std::cerr << "\n  - " << d.to_string();
    std::cerr << "\n";
    return kExitBadInput;
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << "pt2tflite: wrote " << output << " (" << size << " bytes) in " << ms << " ms\n";
  return kExitOk;
}

// Replaces this process by `python -m MODULE ARGS...` for the commands that need PyTorch: the
// Python next to this executable (a venv's bin/), else $PT2TFLITE_PYTHON, else python3 on the PATH.
// Returns only if it cannot be started.
int run_in_python(const std::string& module, const std::string& cmd, const std::vector<std::string>& args) {
  std::string python = "python3";
  std::error_code ec;
  auto beside = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "python3";
  if (const char* env = std::getenv("PT2TFLITE_PYTHON"); env && *env)
    python = env;
  else if (!ec && std::filesystem::exists(beside))
    python = beside.string();
  std::vector<std::string> argv_s = {python, "-m", module, cmd};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  std::cerr << "pt2tflite: " << cmd << " needs Python with the pt2tflite package and PyTorch; could not run " << python
            << "\n";
  return kExitBadInput;
}

int run_inspect(const std::vector<std::string>& args) {
  bool per_op = false;
  std::vector<std::string> files;
  for (const std::string& a : args) {
    if (a == "--ops")
      per_op = true;
    else if (a.rfind("--pt2", 0) == 0 || a == "--profile")
      return run_in_python("pt2tflite.debug", "inspect", args);
    else
      files.push_back(a);
  }
  if (files.size() != 1) {
    std::cerr << usage();
    return kExitBadInput;
  }
  std::ifstream f(files[0], std::ios::binary);
  if (!f) throw pt2tflite::ConversionError("cannot open '" + files[0] + "'");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto s = pt2tflite::tflite_writer::summarize_model(bytes);
  auto shape = [](const std::vector<int32_t>& v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
    return out + "]";
  };
  std::cout << files[0] << ": " << s.file_bytes << " bytes (" << s.constant_bytes << " in constants), " << s.op_count
            << " ops\n";
  for (const auto& t : s.inputs) std::cout << "  input  " << t.name << " " << t.dtype << shape(t.shape) << "\n";
  for (const auto& t : s.outputs) std::cout << "  output " << t.name << " " << t.dtype << shape(t.shape) << "\n";
  for (const auto& sig : s.signatures) std::cout << "  signature " << sig << "\n";
  // Per op type: how many XNNPACK takes, and why it refuses the others (by its published rules).
  std::cout << "  ops (count, taken by XNNPACK):\n";
  for (const auto& [name, count] : s.op_histogram) {
    const auto& x = s.xnnpack.at(name);
    std::cout << "    " << name << " " << count << "  xnnpack " << x.delegated << "/" << count << "\n";
    for (const auto& [why, n] : x.refused) std::cout << "      not delegated (" << n << "): " << why << "\n";
  }
  if (!per_op) return kExitOk;
  // Per op: its output tensors (named after the FX nodes they come from) and XNNPACK's verdict.
  std::cout << "  per op (subgraph:index op -> outputs, XNNPACK):\n";
  for (const auto& o : s.ops) {
    std::cout << "    " << o.subgraph << ":" << o.index << " " << o.name << " ->";
    for (const std::string& t : o.outputs) std::cout << " " << t;
    std::cout << (o.xnnpack_refusal.empty() ? "  xnnpack" : "  NOT xnnpack: " + o.xnnpack_refusal) << "\n";
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::cerr << usage();
    return args.empty() ? kExitBadInput : kExitOk;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "convert") return run_convert(args);
    if (cmd == "inspect") return run_inspect(args);
    if (cmd == "compare" || cmd == "find-culprits") return run_in_python("pt2tflite.debug", cmd, args);
    if (cmd == "export-llm") return run_in_python("pt2tflite", cmd, args);
    std::cerr << "pt2tflite: unknown command '" << cmd << "'\n" << usage();
    return kExitBadInput;
  } catch (const pt2tflite::ConversionError& e) {
    std::cerr << "pt2tflite: error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const pt2tflite::InternalError& e) {
    std::cerr << "pt2tflite: " << e.what() << "\n";
    return kExitInternal;
  } catch (const std::bad_alloc&) {
    std::cerr << "pt2tflite: out of memory while converting (the reader bounds what an archive may "
                 "declare; please report this as a pt2tflite bug with the archive)\n";
    return kExitInternal;
  } catch (const std::exception& e) {
    // A standard-library exception is never meant to escape: it is a bug, reported with context.
    std::cerr << "pt2tflite: internal error (" << e.what() << "); please report this as a pt2tflite bug\n";
    return kExitInternal;
  }
}
