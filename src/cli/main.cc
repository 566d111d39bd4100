// The native CLI: `pt2tflite convert MODEL.pt2 -o MODEL.tflite` and `pt2tflite inspect MODEL.tflite`.
// Exit codes: 0 success, 2 bad input or unsupported model, 1 internal error.

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
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
      "                    [--quantized-io] [--float16-weights]\n"
      "  pt2tflite inspect MODEL.tflite\n"
      "  pt2tflite export-llm MODEL_DIR -o MODEL.tflite [--prefill-lengths 8,32] [--cache-length 64]\n"
      "                    (runs `python3 -m pt2tflite export-llm`: exporting a Hugging Face model needs PyTorch)\n"
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
    if (a == "-o" && i + 1 < args.size()) output = args[++i];
    else if (a.rfind("--dump-after=", 0) == 0) options.dump_after.push_back(a.substr(13));
    else if (a == "--verbose" || a == "-v") options.verbose = true;
    else if (a == "--external-buffers") options.external_buffers = true;
    else if (a == "--quantized-io") options.quantized_io = true;
    else if (a == "--float16-weights") options.float16_weights = true;
    else if (!a.empty() && a[0] == '-') {
      std::cerr << "pt2tflite: unknown option " << a << "\n" << usage();
      return kExitBadInput;
    } else input = a;
  }
  if (input.empty() || output.empty()) {
    std::cerr << usage();
    return kExitBadInput;
  }
  auto t0 = std::chrono::steady_clock::now();
  // Streams the weights to the file (no partial file on failure); see convert_file_to_file.
  uint64_t size = pt2tflite::convert_file_to_file(input, output, options);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << "pt2tflite: wrote " << output << " (" << size << " bytes) in " << ms << " ms\n";
  return kExitOk;
}

// Hands `export-llm` to the Python package (torch.export runs in Python); $PT2TFLITE_PYTHON picks
// the interpreter (default python3). Returns only if it cannot be started.
int run_export_llm(const std::vector<std::string>& args) {
  const char* env = std::getenv("PT2TFLITE_PYTHON");
  std::string python = env && *env ? env : "python3";
  std::vector<std::string> argv = {python, "-m", "pt2tflite", "export-llm"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> c_argv;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  execvp(python.c_str(), c_argv.data());
  std::cerr << "pt2tflite: export-llm needs Python with PyTorch; cannot run '" << python << "'\n";
  return kExitBadInput;
}

int run_inspect(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    std::cerr << usage();
    return kExitBadInput;
  }
  std::ifstream f(args[0], std::ios::binary);
  if (!f) throw pt2tflite::ConversionError("cannot open '" + args[0] + "'");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto s = pt2tflite::tflite_writer::summarize_model(bytes);
  auto shape = [](const std::vector<int32_t>& v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
    return out + "]";
  };
  std::cout << args[0] << ": " << s.file_bytes << " bytes (" << s.constant_bytes << " in constants), " << s.op_count
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
    if (cmd == "export-llm") return run_export_llm(args);
    std::cerr << "pt2tflite: unknown command '" << cmd << "'\n" << usage();
    return kExitBadInput;
  } catch (const pt2tflite::ConversionError& e) {
    std::cerr << "pt2tflite: error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "pt2tflite: " << e.what() << "\n";
    return kExitInternal;
  }
}
