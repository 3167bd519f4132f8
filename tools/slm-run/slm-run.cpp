//===- slm-run.cpp - Run a compiled slm model -------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Runs a model compiled by slmc on inputs from .npy files or ONNX
// TensorProto (.pb) files (the ONNX test-data format), writes the outputs
// as .npy, and compares them with expected outputs within a tolerance.
// Uses only the slm runtime's C API.
//
//===----------------------------------------------------------------------===//

#include "slm/Support/TensorFiles.h"
#include "slm/Support/Version.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <vector>

using mlir::slm::HostTensor;
using mlir::slm::readTensorFile;
using mlir::slm::writeNpy;

static const char *kUsage = R"(usage: slm-run MODEL.so [options] [INPUT...]

Runs a model compiled by slmc. Inputs are .npy files or ONNX TensorProto
(.pb) files, given in the model's input order or by name.

options:
  --input NAME=FILE   the input called NAME
  --test-data DIR     inputs DIR/input_<i>.pb, expected outputs DIR/output_<i>.pb
                      (the ONNX backend test-data layout)
  --expect FILE       an expected output, in output order (repeatable)
  --rtol R, --atol A  tolerance: |got - want| <= A + R * |want|
                      (defaults 1e-4 and 1e-5; integers must match exactly;
                      the expected dtype and shape must be the output's;
                      bfloat16 is read from and written as uint16 bits)
  --output-dir DIR    write each output to DIR/<name>.npy (DIR is created;
                      characters of <name> other than letters, digits, '.',
                      '-' and '_' become '_')
  --repeat N          run N times and print the median latency

generation (a causal LM: input_ids [, attention_mask, position_ids] in,
logits out; see slm_model_generate in slmrt.h):
  --generate N        add N tokens to each prompt; prints each step's tokens
                      as they come, then the sequences
  --prompt-ids FILE   the prompts, int64 (or int32) [batch, sequence] .npy
  --attention-mask FILE  1 for tokens, 0 for left padding (default all 1)
  --do-sample         sample (default greedy); with --temperature T (1),
                      --top-k K (0: off), --top-p P (1: off), --seed S (0)
  --eos-token-id ID   a token that ends its row (repeatable)
  --pad-token-id ID   written after a row ended (default the first end token)
  --expect FILE       the expected sequences (int64), compared exactly
  --output-dir DIR    write DIR/sequences.npy
  --info              print the model's inputs and outputs, then exit
  --version           print slm's version and commit, then exit

exit status: 0 ok, 1 outputs differ from the expected ones, 2 error (a
failed run-time check of the model, such as an index out of range, is an
error: its message is printed and no output is written)
)";

/// IEEE half and bfloat16 bits to double.
static double halfToDouble(uint16_t h) {
  int sign = h >> 15, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  double v;
  if (exponent == 0)
    v = std::ldexp(mantissa, -24);
  else if (exponent == 31)
    v = mantissa ? NAN : INFINITY;
  else
    v = std::ldexp(mantissa + 1024, exponent - 25);
  return sign ? -v : v;
}

static double bfloat16ToDouble(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

static double toDouble(const char *p, slm_dtype dtype) {
  switch (dtype) {
  case SLM_FLOAT16: {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return halfToDouble(v);
  }
  case SLM_BFLOAT16: {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return bfloat16ToDouble(v);
  }
  case SLM_FLOAT32: {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case SLM_FLOAT64: {
    double v;
    std::memcpy(&v, p, 8);
    return v;
  }
  case SLM_INT64: {
    int64_t v;
    std::memcpy(&v, p, 8);
    return double(v);
  }
  case SLM_INT32: {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case SLM_INT16: {
    int16_t v;
    std::memcpy(&v, p, 2);
    return v;
  }
  case SLM_INT8:
    return static_cast<int8_t>(*p);
  case SLM_UINT8:
    return static_cast<uint8_t>(*p);
  case SLM_UINT16: {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
  }
  case SLM_UINT32: {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case SLM_UINT64: {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return double(v);
  }
  case SLM_BOOL:
    return *p != 0;
  default:
    break;
  }
  return std::nan("");
}

/// Whether a file of dtype `file` holds tensors of dtype `model`: the same
/// dtype, or bfloat16 bits in a uint16 file (NumPy and the ONNX test data
/// have no bfloat16 type; slm-run writes bfloat16 outputs so too).
static bool holds(slm_dtype file, slm_dtype model) {
  return file == model || (model == SLM_BFLOAT16 && file == SLM_UINT16);
}

static std::string shapeString(const int64_t *shape, int32_t rank) {
  std::string s = "[";
  for (int32_t i = 0; i < rank; ++i)
    s += (i ? ", " : "") +
         (shape[i] < 0 ? std::string("?") : std::to_string(shape[i]));
  return s + "]";
}

/// Compares `got` with `want`; prints one line; returns true when they agree.
static bool compare(const char *name, const slm_tensor &got, HostTensor &want,
                    double rtol, double atol) {
  // The expected output's dtype is the model's: a model that returns int8
  // where uint8 is expected is wrong even when the bits agree.
  if (!holds(want.dtype, got.dtype)) {
    std::printf("output '%s': dtype %s, expected %s: MISMATCH\n", name,
                slm_dtype_name(got.dtype), slm_dtype_name(want.dtype));
    return false;
  }
  want.dtype = got.dtype;
  if (got.rank != static_cast<int32_t>(want.shape.size()) ||
      !std::equal(want.shape.begin(), want.shape.end(), got.shape)) {
    std::printf("output '%s': shape %s, expected %s: MISMATCH\n", name,
                shapeString(got.shape, got.rank).c_str(),
                shapeString(want.shape.data(), want.shape.size()).c_str());
    return false;
  }
  bool floating = got.dtype == SLM_FLOAT32 || got.dtype == SLM_FLOAT64 ||
                  got.dtype == SLM_FLOAT16 || got.dtype == SLM_BFLOAT16;
  double maxAbs = 0, maxRel = 0;
  int64_t bad = 0, count = want.numElements();
  size_t size = slm_dtype_size(got.dtype);
  for (int64_t i = 0; i < count; ++i) {
    const char *gotElement = static_cast<const char *>(got.data) + i * size;
    const char *wantElement = want.bytes.data() + i * size;
    double a = toDouble(gotElement, got.dtype);
    double b = toDouble(wantElement, want.dtype);
    // Integers are equal bit for bit (64-bit ones do not fit a double).
    if (!floating && got.dtype != SLM_BOOL &&
        std::memcmp(gotElement, wantElement, size) != 0) {
      maxAbs = std::max(maxAbs, std::fabs(a - b));
      ++bad;
      continue;
    }
    if ((std::isnan(a) && std::isnan(b)) || a == b)
      continue; // equal infinities too
    double diff = std::fabs(a - b);
    if (std::isnan(diff))
      diff = INFINITY;
    maxAbs = std::max(maxAbs, diff);
    if (b != 0)
      maxRel = std::max(maxRel, diff / std::fabs(b));
    if (floating ? !(diff <= atol + rtol * std::fabs(b)) : diff != 0)
      ++bad;
  }
  std::printf("output '%s': %s, max abs diff %.3g, max rel diff %.3g: %s\n",
              name, shapeString(got.shape, got.rank).c_str(), maxAbs, maxRel,
              bad ? "MISMATCH" : "ok");
  if (bad)
    std::printf("  %lld of %lld elements outside atol %g + rtol %g\n",
                static_cast<long long>(bad), static_cast<long long>(count),
                atol, rtol);
  return bad == 0;
}

/// Creates --output-dir (and its parents), or says why not.
static bool createOutputDir(const std::string &dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error)
    std::fprintf(stderr, "slm-run: error: cannot create '%s': %s\n",
                 dir.c_str(), error.message().c_str());
  return !error;
}

/// A whole-string decimal integer in [lo, hi], or exit 2 naming the option.
static long long integerOption(const std::string &option,
                               const std::string &text, long long lo,
                               long long hi) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end || errno || v < lo || v > hi) {
    std::fprintf(stderr,
                 "slm-run: error: %s wants an integer in [%lld, %lld], got "
                 "'%s'\n",
                 option.c_str(), lo, hi, text.c_str());
    std::exit(2);
  }
  return v;
}

static double numberOption(const std::string &option,
                           const std::string &text) {
  char *end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || !std::isfinite(v)) {
    std::fprintf(stderr, "slm-run: error: %s wants a number, got '%s'\n",
                 option.c_str(), text.c_str());
    std::exit(2);
  }
  return v;
}

struct GenerateArgs {
  long long newTokens = -1; ///< -1: no generation
  std::string promptFile, maskFile;
  bool doSample = false;
  double temperature = 1, topP = 1;
  long long topK = 0, padTokenId = -1;
  unsigned long long seed = 0;
  std::vector<int64_t> eos;
};

/// Reads an int64 [batch, sequence] file (int32 widened).
static bool readIds(const std::string &path, const char *what,
                    HostTensor &out) {
  std::string why;
  if (!readTensorFile(path, out, why)) {
    std::fprintf(stderr, "slm-run: error: %s\n", why.c_str());
    return false;
  }
  if (out.dtype == SLM_INT32) {
    std::vector<char> wide(out.numElements() * sizeof(int64_t));
    for (int64_t i = 0; i < out.numElements(); ++i) {
      int32_t v;
      std::memcpy(&v, out.bytes.data() + i * sizeof v, sizeof v);
      int64_t w = v;
      std::memcpy(wide.data() + i * sizeof w, &w, sizeof w);
    }
    out.bytes = std::move(wide);
    out.dtype = SLM_INT64;
  }
  if (out.dtype != SLM_INT64 || out.shape.size() != 2) {
    std::fprintf(stderr,
                 "slm-run: error: %s '%s' must be int64 [batch, sequence], "
                 "got %s of rank %zu\n",
                 what, path.c_str(), slm_dtype_name(out.dtype),
                 out.shape.size());
    return false;
  }
  return true;
}

struct StepPrinter {
  int32_t steps = 0;
};

static int32_t printStep(void *user, int32_t step, const int64_t *tokens,
                         int32_t batch) {
  std::printf("step %d:", step);
  for (int32_t b = 0; b < batch; ++b)
    std::printf(" %lld", static_cast<long long>(tokens[b]));
  std::printf("\n");
  std::fflush(stdout);
  static_cast<StepPrinter *>(user)->steps = step + 1;
  return 0;
}

static int generate(slm_model *model, const GenerateArgs &args,
                    const std::vector<std::string> &expectFiles,
                    const std::string &outputDir) {
  if (args.promptFile.empty()) {
    std::fprintf(stderr, "slm-run: error: --generate needs --prompt-ids\n");
    return 2;
  }
  HostTensor prompt, mask;
  if (!readIds(args.promptFile, "--prompt-ids", prompt) ||
      (!args.maskFile.empty() &&
       !readIds(args.maskFile, "--attention-mask", mask)))
    return 2;
  slm_generate_options options;
  slm_generate_options_init(&options);
  options.max_new_tokens = static_cast<int32_t>(args.newTokens);
  options.do_sample = args.doSample;
  options.temperature = static_cast<float>(args.temperature);
  options.top_k = static_cast<int32_t>(args.topK);
  options.top_p = static_cast<float>(args.topP);
  options.seed = args.seed;
  options.eos_token_ids = args.eos.data();
  options.num_eos_token_ids = static_cast<int32_t>(args.eos.size());
  options.pad_token_id = args.padTokenId;
  StepPrinter printer;
  options.on_tokens = printStep;
  options.user_data = &printer;
  slm_tensor promptView = prompt.view(), maskView = mask.view();
  slm_tensor sequences{};
  char error[1024] = "";
  auto start = std::chrono::steady_clock::now();
  if (slm_model_generate(model, &promptView,
                         args.maskFile.empty() ? nullptr : &maskView,
                         &options, &sequences, error,
                         sizeof error) != SLM_OK) {
    std::fprintf(stderr, "slm-run: error: %s\n", error);
    return 2;
  }
  double ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  const auto *ids = static_cast<const int64_t *>(sequences.data);
  for (int64_t b = 0; b < sequences.shape[0]; ++b) {
    std::printf("sequence %lld:", static_cast<long long>(b));
    for (int64_t t = 0; t < sequences.shape[1]; ++t)
      std::printf(" %lld", static_cast<long long>(ids[b * sequences.shape[1] + t]));
    std::printf("\n");
  }
  std::printf("%d steps in %.1f ms\n", printer.steps, ms);
  int status = 0;
  if (!outputDir.empty()) {
    std::string why;
    if (!createOutputDir(outputDir)) {
      status = 2;
    } else if (!writeNpy(outputDir + "/sequences.npy", sequences, why)) {
      std::fprintf(stderr, "slm-run: error: %s\n", why.c_str());
      status = 2;
    }
  }
  if (!expectFiles.empty()) {
    HostTensor want;
    std::string why;
    if (!readTensorFile(expectFiles[0], want, why)) {
      std::fprintf(stderr, "slm-run: error: %s\n", why.c_str());
      status = 2;
    } else if (!compare("sequences", sequences, want, 0, 0) && status == 0) {
      status = 1;
    }
  }
  slm_tensor_release(&sequences);
  return status;
}

static bool exists(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

int main(int argc, char **argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("slm-run %s\n", SLM_VERSION_STRING);
    return 0;
  }
  std::string modelPath = argv[1], testData, outputDir;
  std::vector<std::string> positional, expectFiles;
  std::vector<std::pair<std::string, std::string>> named;
  double rtol = 1e-4, atol = 1e-5;
  int repeat = 1;
  bool info = false;
  GenerateArgs gen;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "slm-run: error: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--input") {
      std::string v = value();
      size_t eq = v.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr,
                     "slm-run: error: --input wants NAME=FILE, got '%s'\n",
                     v.c_str());
        return 2;
      }
      named.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else if (arg == "--test-data") {
      testData = value();
    } else if (arg == "--expect") {
      expectFiles.push_back(value());
    } else if (arg == "--rtol") {
      rtol = std::atof(value().c_str());
    } else if (arg == "--atol") {
      atol = std::atof(value().c_str());
    } else if (arg == "--output-dir") {
      outputDir = value();
    } else if (arg == "--repeat") {
      repeat = std::max(1, std::atoi(value().c_str()));
    } else if (arg == "--info") {
      info = true;
    } else if (arg == "--generate") {
      gen.newTokens = integerOption(arg, value(), 0, INT32_MAX);
    } else if (arg == "--prompt-ids") {
      gen.promptFile = value();
    } else if (arg == "--attention-mask") {
      gen.maskFile = value();
    } else if (arg == "--do-sample") {
      gen.doSample = true;
    } else if (arg == "--temperature") {
      gen.temperature = numberOption(arg, value());
    } else if (arg == "--top-k") {
      gen.topK = integerOption(arg, value(), 0, INT32_MAX);
    } else if (arg == "--top-p") {
      gen.topP = numberOption(arg, value());
    } else if (arg == "--seed") {
      gen.seed = static_cast<unsigned long long>(
          integerOption(arg, value(), 0, LLONG_MAX));
    } else if (arg == "--eos-token-id") {
      gen.eos.push_back(integerOption(arg, value(), 0, LLONG_MAX));
    } else if (arg == "--pad-token-id") {
      gen.padTokenId = integerOption(arg, value(), 0, LLONG_MAX);
    } else if (arg.rfind("--", 0) == 0) {
      std::fprintf(stderr, "slm-run: error: unknown option '%s' (see --help)\n",
                   arg.c_str());
      return 2;
    } else {
      positional.push_back(arg);
    }
  }

  char error[1024] = "";
  slm_model *model = nullptr;
  if (slm_model_open(modelPath.c_str(), &model, error, sizeof error) !=
      SLM_OK) {
    std::fprintf(stderr, "slm-run: error: %s\n", error);
    return 2;
  }
  int32_t numInputs = slm_model_num_inputs(model);
  int32_t numOutputs = slm_model_num_outputs(model);
  if (info) {
    for (int32_t i = 0; i < numInputs + numOutputs; ++i) {
      slm_tensor_info t;
      if (i < numInputs)
        slm_model_input_info(model, i, &t);
      else
        slm_model_output_info(model, i - numInputs, &t);
      std::printf("%s '%s': %s %s\n", i < numInputs ? "input" : "output",
                  t.name, slm_dtype_name(t.dtype),
                  shapeString(t.shape, t.rank).c_str());
    }
    slm_model_close(model);
    return 0;
  }

  if (gen.newTokens >= 0 || !gen.promptFile.empty()) {
    if (gen.newTokens < 0) {
      std::fprintf(stderr, "slm-run: error: --prompt-ids needs --generate N\n");
      slm_model_close(model);
      return 2;
    }
    if (!positional.empty() || !named.empty() || !testData.empty()) {
      std::fprintf(stderr, "slm-run: error: --generate takes its inputs from "
                           "--prompt-ids and --attention-mask\n");
      slm_model_close(model);
      return 2;
    }
    int status = generate(model, gen, expectFiles, outputDir);
    slm_model_close(model);
    return status;
  }

  // Gather input files in the model's order.
  std::vector<std::string> inputFiles(numInputs);
  if (!testData.empty()) {
    for (int32_t i = 0; i < numInputs; ++i)
      inputFiles[i] = testData + "/input_" + std::to_string(i) + ".pb";
    for (int32_t o = 0; o < numOutputs; ++o) {
      std::string f = testData + "/output_" + std::to_string(o) + ".pb";
      if (exists(f))
        expectFiles.push_back(f);
    }
  }
  for (size_t i = 0; i < positional.size() && i < inputFiles.size(); ++i)
    inputFiles[i] = positional[i];
  if (positional.size() > inputFiles.size()) {
    std::fprintf(stderr,
                 "slm-run: error: the model takes %d inputs; %zu given\n",
                 numInputs, positional.size());
    return 2;
  }
  for (auto &[name, file] : named) {
    int32_t found = -1;
    for (int32_t i = 0; i < numInputs; ++i) {
      slm_tensor_info t;
      slm_model_input_info(model, i, &t);
      if (name == t.name)
        found = i;
    }
    if (found < 0) {
      std::fprintf(stderr, "slm-run: error: the model has no input '%s'\n",
                   name.c_str());
      return 2;
    }
    inputFiles[found] = file;
  }
  std::vector<HostTensor> inputs(numInputs);
  std::vector<slm_tensor> views(numInputs);
  for (int32_t i = 0; i < numInputs; ++i) {
    slm_tensor_info t;
    slm_model_input_info(model, i, &t);
    std::string why;
    if (inputFiles[i].empty()) {
      std::fprintf(stderr, "slm-run: error: no file for input '%s'\n", t.name);
      return 2;
    }
    if (!readTensorFile(inputFiles[i], inputs[i], why)) {
      std::fprintf(stderr, "slm-run: error: %s\n", why.c_str());
      return 2;
    }
    if (holds(inputs[i].dtype, t.dtype))
      inputs[i].dtype = t.dtype;
    views[i] = inputs[i].view();
  }

  std::vector<slm_tensor> outputs(numOutputs);
  std::vector<double> times;
  for (int r = 0; r < repeat; ++r) {
    for (slm_tensor &o : outputs) {
      slm_tensor_release(&o);
      o = slm_tensor{};
    }
    auto start = std::chrono::steady_clock::now();
    slm_status status =
        slm_model_run(model, views.data(), numInputs, outputs.data(),
                      numOutputs, error, sizeof error);
    auto end = std::chrono::steady_clock::now();
    if (status != SLM_OK) {
      // A failed run returns no outputs: nothing is written.
      std::fprintf(stderr, "slm-run: error: %s\n", error);
      slm_model_close(model);
      return 2;
    }
    times.push_back(
        std::chrono::duration<double, std::milli>(end - start).count());
  }
  if (repeat > 1) {
    std::sort(times.begin(), times.end());
    std::printf("median latency %.3f ms over %d runs\n",
                times[times.size() / 2], repeat);
  }

  int status = 0;
  std::vector<std::string> files;
  if (!outputDir.empty()) {
    if (!createOutputDir(outputDir))
      return 2;
    // One file per output, named after it; characters that cannot be part
    // of a file name (ONNX names like "scale_0/out:0") become '_'.
    for (int32_t o = 0; o < numOutputs; ++o) {
      slm_tensor_info t;
      slm_model_output_info(model, o, &t);
      std::string file = t.name;
      for (char &c : file)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' &&
            c != '-' && c != '_')
          c = '_';
      if (file.empty() || file[0] == '.')
        file = "_" + file;
      if (std::find(files.begin(), files.end(), file) != files.end()) {
        std::fprintf(stderr,
                     "slm-run: error: outputs '%s' and another share the file "
                     "name '%s.npy'\n",
                     t.name, file.c_str());
        return 2;
      }
      files.push_back(file);
    }
  }
  for (int32_t o = 0; o < numOutputs; ++o) {
    slm_tensor_info t;
    slm_model_output_info(model, o, &t);
    if (!outputDir.empty()) {
      std::string why;
      if (!writeNpy(outputDir + "/" + files[o] + ".npy", outputs[o], why)) {
        std::fprintf(stderr, "slm-run: error: %s\n", why.c_str());
        status = 2;
      }
    }
    if (o < static_cast<int32_t>(expectFiles.size())) {
      HostTensor want;
      std::string why;
      if (!readTensorFile(expectFiles[o], want, why)) {
        std::fprintf(stderr, "slm-run: error: %s\n", why.c_str());
        status = 2;
      } else if (!compare(t.name, outputs[o], want, rtol, atol) &&
                 status == 0) {
        status = 1;
      }
    } else if (expectFiles.empty() && outputDir.empty()) {
      std::printf("output '%s': %s %s\n", t.name,
                  slm_dtype_name(outputs[o].dtype),
                  shapeString(outputs[o].shape, outputs[o].rank).c_str());
    }
    slm_tensor_release(&outputs[o]);
  }
  slm_model_close(model);
  return status;
}
