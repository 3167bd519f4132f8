//===- Generate.cpp - Autoregressive generation -----------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// slm_generator: the decoding loop of a causal language model on top of
// slm_model_run. It finds the model's inputs by role (input_ids,
// attention_mask, position_ids) and its logits, keeps the left-padded
// sequences, and picks each row's next token from the last position's
// logits: greedy, or sampled with temperature, top-k and top-p from a
// seeded stream (Hugging Face's order: temperature, top-k, top-p).
//
// A model exported with a KV cache (inputs past_key_values.<i>.key/value,
// outputs present.<i>.key/value, as Hugging Face and Optimum name them)
// gets an empty cache on the first step (the whole prompt) and its last
// outputs after (one token per step); the generator owns the cache. A model
// without one runs the whole sequence so far each step. A cache that
// slmc --kv-cache derives for a model exported without one has the same
// inputs and outputs.
//
//===----------------------------------------------------------------------===//

#include "slm/Runtime/slmrt.h"

#include "RuntimeInternal.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <numeric>
#include <string>
#include <vector>

using mlir::slm::runtime::setError;

namespace {

/// The input roles generation knows how to fill.
enum class Role { InputIds, AttentionMask, PositionIds, Cache };

/// A KV-cache input (past_key_values.<i>.key ...) and the output that gives
/// its next value (present.<i>.key ...), extended along `axis`.
struct CacheSlot {
  int32_t input, output, axis;
  slm_tensor value{}; ///< the current cache: an output of the last run
};

/// splitmix64: a small, well-mixed 64-bit stream; reproducible from the seed
/// on every platform.
struct Random {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

bool isInteger(slm_dtype d) { return d == SLM_INT64 || d == SLM_INT32; }

std::string tensorName(const slm_tensor_info &info) {
  return info.name ? info.name : "";
}

} // namespace

struct slm_generator {
  slm_model *model = nullptr;
  slm_generate_options options;
  std::vector<int64_t> eos;
  int64_t pad = 0;

  /// Model input index -> role; the logits output and its vocabulary.
  std::vector<Role> roles;
  std::vector<slm_tensor_info> inputInfo;
  int32_t numOutputs = 0;
  int32_t logitsIndex = -1;
  int64_t vocab = 0;

  /// The model's KV cache, when it takes one; `cached` positions are in it.
  std::vector<CacheSlot> cache;
  int64_t cached = 0;

  int64_t batch = 0, promptLength = 0, length = 0, capacity = 0;
  /// Row-major [batch, capacity]: ids and mask of the sequences so far.
  std::vector<int64_t> ids, mask;
  std::vector<char> stopped;
  int32_t steps = 0;
  bool finished = false;
  Random random{0};
  /// The sampler's scratch: scaled logits, ids by likelihood, weights.
  std::vector<float> scores;
  std::vector<int32_t> order;
  std::vector<double> weights;

  ~slm_generator() {
    for (CacheSlot &slot : cache)
      slm_tensor_release(&slot.value);
    if (model)
      mlir::slm::runtime::releaseModel(model);
  }

  slm_status init(const slm_tensor *inputIds, const slm_tensor *attention,
                  char *error, size_t errorSize);
  slm_status step(int64_t *tokens, int32_t *done, char *error,
                  size_t errorSize);
  slm_status addCacheSlot(int32_t input, char *error, size_t errorSize);
  int64_t pick(const float *logits);
};

namespace {

/// Copies `given` over the defaults, as far as the caller's struct goes.
slm_generate_options readOptions(const slm_generate_options *given) {
  slm_generate_options options;
  slm_generate_options_init(&options);
  if (given) {
    size_t size = std::min(given->struct_size, sizeof(options));
    if (size > sizeof(size_t))
      std::memcpy(reinterpret_cast<char *>(&options) + sizeof(size_t),
                  reinterpret_cast<const char *>(given) + sizeof(size_t),
                  size - sizeof(size_t));
  }
  options.struct_size = sizeof(options);
  return options;
}

} // namespace

/// Pairs cache input `input` with its output: past_key_values<rest> ->
/// present<rest>, past<rest> -> present<rest>; the cache axis is the one
/// dynamic extent besides the batch (axis 0), the others must be static.
slm_status slm_generator::addCacheSlot(int32_t input, char *error,
                                       size_t errorSize) {
  const slm_tensor_info &in = inputInfo[input];
  std::string name = tensorName(in);
  std::string rest = name.rfind("past_key_values", 0) == 0
                         ? name.substr(std::strlen("past_key_values"))
                         : name.substr(std::strlen("past"));
  std::string want = "present" + rest;
  int32_t output = -1;
  for (int32_t o = 0; o < numOutputs; ++o) {
    slm_tensor_info out;
    slm_model_output_info(model, o, &out);
    if (tensorName(out) == want)
      output = o;
  }
  if (output < 0) {
    setError(error, errorSize,
             "cache input '%s' has no output '%s' that gives its next value",
             name.c_str(), want.c_str());
    return SLM_ERROR_BAD_MODEL;
  }
  slm_tensor_info out;
  slm_model_output_info(model, output, &out);
  int32_t axis = -1, dynamic = 0;
  for (int32_t d = 1; d < in.rank; ++d)
    if (in.shape[d] == SLM_DYNAMIC_EXTENT) {
      axis = d;
      ++dynamic;
    }
  if (in.rank < 2 || dynamic != 1 || out.rank != in.rank ||
      out.dtype != in.dtype) {
    setError(error, errorSize,
             "cache input '%s' must have one dynamic extent besides the "
             "batch (the cached positions) and match output '%s' in rank "
             "and dtype",
             name.c_str(), want.c_str());
    return SLM_ERROR_BAD_MODEL;
  }
  cache.push_back(CacheSlot{input, output, axis});
  return SLM_OK;
}

slm_status slm_generator::init(const slm_tensor *inputIds,
                               const slm_tensor *attention, char *error,
                               size_t errorSize) {
  // The options.
  if (options.max_new_tokens < 0) {
    setError(error, errorSize, "max_new_tokens must be >= 0, got %d",
             options.max_new_tokens);
    return SLM_ERROR_INVALID_ARGUMENT;
  }
  if (options.do_sample) {
    if (!(options.temperature > 0) || !std::isfinite(options.temperature)) {
      setError(error, errorSize,
               "temperature must be a positive number, got %g",
               static_cast<double>(options.temperature));
      return SLM_ERROR_INVALID_ARGUMENT;
    }
    if (options.top_k < 0) {
      setError(error, errorSize, "top_k must be >= 0 (0: off), got %d",
               options.top_k);
      return SLM_ERROR_INVALID_ARGUMENT;
    }
    if (!(options.top_p > 0 && options.top_p <= 1)) {
      setError(error, errorSize, "top_p must be in (0, 1], got %g",
               static_cast<double>(options.top_p));
      return SLM_ERROR_INVALID_ARGUMENT;
    }
  }
  if (options.num_eos_token_ids < 0 ||
      (options.num_eos_token_ids > 0 && !options.eos_token_ids)) {
    setError(error, errorSize, "eos_token_ids: %d ids from a null pointer",
             options.num_eos_token_ids);
    return SLM_ERROR_INVALID_ARGUMENT;
  }
  eos.assign(options.eos_token_ids,
             options.eos_token_ids + options.num_eos_token_ids);
  options.eos_token_ids = nullptr; // the copy above is what is used
  random.state = options.seed;

  // The model's roles.
  int32_t numInputs = slm_model_num_inputs(model);
  numOutputs = slm_model_num_outputs(model);
  inputInfo.resize(numInputs);
  roles.resize(numInputs);
  // input_ids by name, else the only rank-2 integer input.
  int32_t idsIndex = -1, onlyInteger = -1, integers = 0;
  for (int32_t i = 0; i < numInputs; ++i) {
    slm_model_input_info(model, i, &inputInfo[i]);
    const slm_tensor_info &in = inputInfo[i];
    if (tensorName(in) == "input_ids")
      idsIndex = i;
    if (in.rank == 2 && isInteger(in.dtype)) {
      ++integers;
      onlyInteger = i;
    }
  }
  if (idsIndex < 0 && integers == 1)
    idsIndex = onlyInteger;
  for (int32_t i = 0; i < numInputs; ++i) {
    const slm_tensor_info &in = inputInfo[i];
    std::string name = tensorName(in);
    Role role;
    if (i == idsIndex)
      role = Role::InputIds;
    else if (name == "attention_mask")
      role = Role::AttentionMask;
    else if (name == "position_ids")
      role = Role::PositionIds;
    else if (name.rfind("past", 0) == 0) {
      roles[i] = Role::Cache;
      slm_status status = addCacheSlot(i, error, errorSize);
      if (status != SLM_OK)
        return status;
      continue;
    } else {
      setError(error, errorSize,
               "input '%s' has no role in generation (the model may take "
               "input_ids, attention_mask, position_ids and a KV cache "
               "past_key_values.<i>.key/value with outputs present.<i>.*)",
               name.c_str());
      return SLM_ERROR_BAD_MODEL;
    }
    if (in.rank != 2 || !isInteger(in.dtype)) {
      setError(error, errorSize,
               "input '%s' must be an int64 or int32 [batch, sequence] "
               "tensor to generate; it is %s of rank %d",
               name.c_str(), slm_dtype_name(in.dtype), in.rank);
      return SLM_ERROR_BAD_MODEL;
    }
    if (in.shape[1] != SLM_DYNAMIC_EXTENT) {
      setError(error, errorSize,
               "input '%s' has a fixed sequence length %lld: generation "
               "needs a dynamic one (export with a dynamic sequence axis)",
               name.c_str(), static_cast<long long>(in.shape[1]));
      return SLM_ERROR_BAD_MODEL;
    }
    roles[i] = role;
  }
  if (idsIndex < 0) {
    setError(error, errorSize,
             "the model has no 'input_ids' input (nor a single rank-2 "
             "integer input) to generate from");
    return SLM_ERROR_BAD_MODEL;
  }
  int32_t floatOutputs = 0, onlyFloat = -1;
  for (int32_t o = 0; o < numOutputs; ++o) {
    slm_tensor_info out;
    slm_model_output_info(model, o, &out);
    if (tensorName(out) == "logits")
      logitsIndex = o;
    if (out.dtype == SLM_FLOAT32 && out.rank == 3 &&
        tensorName(out).rfind("present", 0) != 0) {
      ++floatOutputs;
      onlyFloat = o;
    }
  }
  if (logitsIndex < 0 && floatOutputs == 1)
    logitsIndex = onlyFloat;
  if (logitsIndex < 0) {
    setError(error, errorSize,
             "the model has no 'logits' output (nor a single float32 "
             "[batch, sequence, vocab] output)");
    return SLM_ERROR_BAD_MODEL;
  }
  {
    slm_tensor_info out;
    slm_model_output_info(model, logitsIndex, &out);
    if (out.dtype != SLM_FLOAT32 || out.rank != 3) {
      setError(error, errorSize,
               "output '%s' must be float32 [batch, sequence, vocab] logits; "
               "it is %s of rank %d",
               tensorName(out).c_str(), slm_dtype_name(out.dtype), out.rank);
      return SLM_ERROR_BAD_MODEL;
    }
    vocab = out.shape[2];
    if (vocab <= 0) {
      setError(error, errorSize,
               "output '%s' has a dynamic vocabulary extent: generation "
               "needs a static one",
               tensorName(out).c_str());
      return SLM_ERROR_BAD_MODEL;
    }
  }

  // The prompt.
  if (!inputIds || inputIds->dtype != SLM_INT64 || inputIds->rank != 2 ||
      (!inputIds->data && inputIds->shape[0] * inputIds->shape[1] > 0)) {
    setError(error, errorSize,
             "input_ids must be an int64 [batch, sequence] tensor");
    return SLM_ERROR_INVALID_ARGUMENT;
  }
  batch = inputIds->shape[0];
  promptLength = inputIds->shape[1];
  if (batch <= 0 || promptLength <= 0) {
    setError(error, errorSize, "the prompt is empty (input_ids is [%lld, %lld])",
             static_cast<long long>(batch),
             static_cast<long long>(promptLength));
    return SLM_ERROR_SHAPE;
  }
  if (batch > std::numeric_limits<int32_t>::max()) {
    setError(error, errorSize, "a batch of %lld prompts is too large",
             static_cast<long long>(batch));
    return SLM_ERROR_SHAPE;
  }
  if (inputInfo[idsIndex].shape[0] != SLM_DYNAMIC_EXTENT &&
      inputInfo[idsIndex].shape[0] != batch) {
    setError(error, errorSize, "the model takes a batch of %lld, got %lld",
             static_cast<long long>(inputInfo[idsIndex].shape[0]),
             static_cast<long long>(batch));
    return SLM_ERROR_SHAPE;
  }
  if (attention &&
      (attention->dtype != SLM_INT64 || attention->rank != 2 ||
       attention->shape[0] != batch || attention->shape[1] != promptLength ||
       !attention->data)) {
    setError(error, errorSize,
             "attention_mask must be an int64 tensor shaped like input_ids "
             "[%lld, %lld]",
             static_cast<long long>(batch),
             static_cast<long long>(promptLength));
    return SLM_ERROR_SHAPE;
  }
  capacity = promptLength + options.max_new_tokens;
  try {
    ids.assign(batch * capacity, 0);
    mask.assign(batch * capacity, 0);
    stopped.assign(batch, 0);
    scores.resize(vocab);
    order.resize(vocab);
  } catch (const std::bad_alloc &) {
    setError(error, errorSize, "out of memory");
    return SLM_ERROR_OUT_OF_MEMORY;
  }
  bool hasMaskInput = std::count(roles.begin(), roles.end(),
                                 Role::AttentionMask) > 0;
  const auto *given = static_cast<const int64_t *>(inputIds->data);
  const auto *givenMask =
      attention ? static_cast<const int64_t *>(attention->data) : nullptr;
  for (int64_t b = 0; b < batch; ++b) {
    bool seenToken = false;
    for (int64_t t = 0; t < promptLength; ++t) {
      int64_t id = given[b * promptLength + t];
      int64_t m = givenMask ? givenMask[b * promptLength + t] : 1;
      if (m != 0 && m != 1) {
        setError(error, errorSize,
                 "attention_mask[%lld, %lld] is %lld: it must be 0 or 1",
                 static_cast<long long>(b), static_cast<long long>(t),
                 static_cast<long long>(m));
        return SLM_ERROR_INVALID_ARGUMENT;
      }
      if (m == 0 && seenToken) {
        setError(error, errorSize,
                 "prompt %lld is not left-padded (attention_mask has a 0 "
                 "after a 1 at position %lld): pad batches on the left",
                 static_cast<long long>(b), static_cast<long long>(t));
        return SLM_ERROR_INVALID_ARGUMENT;
      }
      seenToken |= m == 1;
      if (id < 0 || id >= vocab) {
        setError(error, errorSize,
                 "input_ids[%lld, %lld] is %lld, outside the vocabulary "
                 "[0, %lld)",
                 static_cast<long long>(b), static_cast<long long>(t),
                 static_cast<long long>(id), static_cast<long long>(vocab));
        return SLM_ERROR_INVALID_ARGUMENT;
      }
      ids[b * capacity + t] = id;
      mask[b * capacity + t] = m;
    }
    if (!seenToken) {
      setError(error, errorSize,
               "prompt %lld is empty (its attention_mask is all 0)",
               static_cast<long long>(b));
      return SLM_ERROR_INVALID_ARGUMENT;
    }
    if (!hasMaskInput && mask[b * capacity] == 0) {
      setError(error, errorSize,
               "the model takes no attention_mask, so its prompts cannot be "
               "padded: give prompts of one length");
      return SLM_ERROR_INVALID_ARGUMENT;
    }
  }
  for (int64_t id : eos)
    if (id < 0 || id >= vocab) {
      setError(error, errorSize,
               "end token %lld is outside the vocabulary [0, %lld)",
               static_cast<long long>(id), static_cast<long long>(vocab));
      return SLM_ERROR_INVALID_ARGUMENT;
    }
  pad = options.pad_token_id >= 0 ? options.pad_token_id
        : eos.empty()             ? 0
                                  : eos.front();
  if (pad >= vocab) {
    setError(error, errorSize,
             "pad_token_id %lld is outside the vocabulary [0, %lld)",
             static_cast<long long>(pad), static_cast<long long>(vocab));
    return SLM_ERROR_INVALID_ARGUMENT;
  }
  length = promptLength;
  return SLM_OK;
}

int64_t slm_generator::pick(const float *logits) {
  int64_t n = vocab;
  if (!options.do_sample) {
    // argmax, the lowest id on ties (NaN never wins).
    int64_t best = 0;
    for (int64_t v = 1; v < n; ++v)
      if (logits[v] > logits[best] || std::isnan(logits[best]))
        best = v;
    return best;
  }
  float invT = 1.0f / options.temperature;
  for (int64_t v = 0; v < n; ++v)
    scores[v] = std::isnan(logits[v]) ? -INFINITY : logits[v] * invT;
  if (!(options.top_k > 0 && options.top_k < n) && options.top_p >= 1) {
    // The whole distribution: no ordering needed.
    float top = *std::max_element(scores.begin(), scores.end());
    if (std::isinf(top) && top < 0)
      return 0;
    weights.resize(n);
    double total = 0;
    for (int64_t v = 0; v < n; ++v)
      total += weights[v] = std::exp(static_cast<double>(scores[v]) - top);
    double u = random.uniform() * total;
    for (int64_t v = 0; v < n; ++v) {
      u -= weights[v];
      if (u < 0)
        return v;
    }
    return n - 1;
  }
  std::iota(order.begin(), order.end(), 0);
  // Most likely first; ties by id, so the order is reproducible.
  auto before = [&](int32_t a, int32_t b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  };
  int64_t keep = n;
  if (options.top_k > 0 && options.top_k < n) {
    std::partial_sort(order.begin(), order.begin() + options.top_k,
                      order.end(), before);
    // Tokens tied with the k-th stay, as in Hugging Face's TopKLogitsWarper.
    float kth = scores[order[options.top_k - 1]];
    keep = options.top_k;
    std::sort(order.begin() + keep, order.end(), before);
    while (keep < n && scores[order[keep]] == kth)
      ++keep;
  } else {
    std::sort(order.begin(), order.end(), before);
  }
  double top = scores[order[0]];
  if (std::isinf(top) && top < 0)
    return order[0]; // every logit is -inf (or NaN): nothing to weigh
  weights.resize(keep);
  double total = 0;
  for (int64_t i = 0; i < keep; ++i)
    total += weights[i] = std::exp(scores[order[i]] - top);
  if (options.top_p < 1) {
    // The smallest most-likely prefix whose mass reaches top_p (at least
    // one token), as in Hugging Face's TopPLogitsWarper.
    double mass = 0;
    int64_t prefix = 0;
    while (prefix < keep) {
      mass += weights[prefix++] / total;
      if (mass >= options.top_p)
        break;
    }
    keep = prefix;
    total = 0;
    for (int64_t i = 0; i < keep; ++i)
      total += weights[i];
  }
  double u = random.uniform() * total;
  for (int64_t i = 0; i < keep; ++i) {
    u -= weights[i];
    if (u < 0)
      return order[i];
  }
  return order[keep - 1];
}

slm_status slm_generator::step(int64_t *tokens, int32_t *done, char *error,
                               size_t errorSize) {
  if (finished || steps >= options.max_new_tokens) {
    finished = true;
    *done = 1;
    return SLM_OK;
  }
  // With a KV cache, the positions not in it yet (the prompt, then one
  // token); without, the whole sequence. The mask always covers all.
  int64_t start = cache.empty() ? 0 : cached;
  int64_t fresh = length - start;
  size_t numInputs = inputInfo.size();
  std::vector<std::vector<int64_t>> wide(numInputs);
  std::vector<std::vector<int32_t>> narrow(numInputs);
  std::vector<slm_tensor> inputs(numInputs);
  try {
    for (size_t i = 0; i < numInputs; ++i) {
      slm_tensor &in = inputs[i];
      in = slm_tensor{};
      in.dtype = inputInfo[i].dtype;
      if (roles[i] == Role::Cache)
        continue; // below
      int64_t from = roles[i] == Role::AttentionMask ? 0 : start;
      int64_t width = length - from;
      std::vector<int64_t> &values = wide[i];
      values.resize(batch * width);
      for (int64_t b = 0; b < batch; ++b) {
        const int64_t *rowIds = &ids[b * capacity];
        const int64_t *rowMask = &mask[b * capacity];
        int64_t position = 0;
        for (int64_t t = 0; t < length; ++t) {
          // cumsum(mask) - 1, and 1 for padding: Hugging Face's
          // prepare_inputs_for_generation.
          position += rowMask[t];
          if (t < from)
            continue;
          int64_t &v = values[b * width + t - from];
          switch (roles[i]) {
          case Role::InputIds:
            v = rowIds[t];
            break;
          case Role::AttentionMask:
            v = rowMask[t];
            break;
          case Role::PositionIds:
            v = rowMask[t] ? position - 1 : 1;
            break;
          case Role::Cache:
            break;
          }
        }
      }
      in.rank = 2;
      in.shape[0] = batch;
      in.shape[1] = width;
      if (in.dtype == SLM_INT32) {
        narrow[i].assign(values.begin(), values.end());
        in.data = narrow[i].data();
      } else {
        in.data = values.data();
      }
    }
  } catch (const std::bad_alloc &) {
    setError(error, errorSize, "out of memory");
    return SLM_ERROR_OUT_OF_MEMORY;
  }
  for (CacheSlot &slot : cache) {
    slm_tensor &in = inputs[slot.input];
    if (cached) {
      in = slot.value;
      in.owner = nullptr; // the runtime only reads it
      continue;
    }
    // The first run: an empty cache, [batch, ..., 0 positions, ...].
    const slm_tensor_info &info = inputInfo[slot.input];
    in.rank = info.rank;
    for (int32_t d = 0; d < info.rank; ++d)
      in.shape[d] = d == 0 ? batch : d == slot.axis ? 0 : info.shape[d];
    in.data = nullptr;
  }
  std::vector<slm_tensor> outputs(numOutputs, slm_tensor{});
  slm_status status = slm_model_run(model, inputs.data(),
                                    static_cast<int32_t>(numInputs),
                                    outputs.data(), numOutputs, error,
                                    errorSize);
  if (status != SLM_OK)
    return status;
  const slm_tensor &logits = outputs[logitsIndex];
  if (logits.rank != 3 || logits.shape[0] != batch ||
      logits.shape[1] != fresh || logits.shape[2] != vocab) {
    setError(error, errorSize,
             "the logits are [%lld, %lld, %lld]; expected [%lld, %lld, %lld]",
             static_cast<long long>(logits.shape[0]),
             static_cast<long long>(logits.shape[1]),
             static_cast<long long>(logits.shape[2]),
             static_cast<long long>(batch), static_cast<long long>(fresh),
             static_cast<long long>(vocab));
    status = SLM_ERROR_BAD_OUTPUT;
  }
  for (const CacheSlot &slot : cache) {
    const slm_tensor &next = outputs[slot.output];
    if (status == SLM_OK &&
        (next.shape[0] != batch || next.shape[slot.axis] != length)) {
      setError(error, errorSize,
               "cache output %d holds %lld positions of %lld rows; expected "
               "%lld of %lld",
               slot.output, static_cast<long long>(next.shape[slot.axis]),
               static_cast<long long>(next.shape[0]),
               static_cast<long long>(length), static_cast<long long>(batch));
      status = SLM_ERROR_BAD_OUTPUT;
    }
  }
  if (status == SLM_OK) {
    // The new cache replaces the old (whose buffers go back to the model).
    for (CacheSlot &slot : cache) {
      slm_tensor_release(&slot.value);
      slot.value = outputs[slot.output];
      outputs[slot.output] = slm_tensor{};
    }
    cached = length;
    const auto *data = static_cast<const float *>(logits.data);
    bool anyRunning = false;
    for (int64_t b = 0; b < batch; ++b) {
      int64_t token = pad;
      if (!stopped[b]) {
        token = pick(data + (b * fresh + fresh - 1) * vocab);
        stopped[b] = std::find(eos.begin(), eos.end(), token) != eos.end();
      }
      anyRunning |= !stopped[b];
      ids[b * capacity + length] = token;
      mask[b * capacity + length] = 1;
      tokens[b] = token;
    }
    ++length;
    ++steps;
    finished = !anyRunning;
    *done = 0;
  }
  for (slm_tensor &out : outputs)
    slm_tensor_release(&out);
  return status;
}

extern "C" {

void slm_generate_options_init(slm_generate_options *options) {
  if (!options)
    return;
  *options = slm_generate_options{};
  options->struct_size = sizeof(slm_generate_options);
  options->max_new_tokens = 20;
  options->temperature = 1.0f;
  options->top_p = 1.0f;
  options->pad_token_id = -1;
}

slm_status slm_generator_create(slm_model *model, const slm_tensor *inputIds,
                                const slm_tensor *attentionMask,
                                const slm_generate_options *options,
                                slm_generator **generator, char *error,
                                size_t errorSize) {
  if (!model || !generator) {
    setError(error, errorSize, "slm_generator_create: null %s",
             model ? "generator" : "model");
    return SLM_ERROR_INVALID_ARGUMENT;
  }
  *generator = nullptr;
  if (options && options->struct_size < sizeof(size_t) + sizeof(int32_t)) {
    setError(error, errorSize,
             "the generate options are not initialized (struct_size %zu): "
             "call slm_generate_options_init first",
             options->struct_size);
    return SLM_ERROR_INVALID_ARGUMENT;
  }
  auto *g = new (std::nothrow) slm_generator;
  if (!g) {
    setError(error, errorSize, "out of memory");
    return SLM_ERROR_OUT_OF_MEMORY;
  }
  mlir::slm::runtime::retainModel(model);
  g->model = model;
  g->options = readOptions(options);
  slm_status status = g->init(inputIds, attentionMask, error, errorSize);
  if (status != SLM_OK) {
    delete g;
    return status;
  }
  *generator = g;
  return SLM_OK;
}

slm_status slm_generator_step(slm_generator *generator, int64_t *tokens,
                              int32_t *done, char *error, size_t errorSize) {
  if (!generator || !tokens || !done) {
    setError(error, errorSize, "slm_generator_step: null %s",
             !generator ? "generator"
             : !tokens  ? "tokens"
                        : "done");
    return SLM_ERROR_INVALID_ARGUMENT;
  }
  return generator->step(tokens, done, error, errorSize);
}

slm_status slm_generator_sequences(const slm_generator *generator,
                                   slm_tensor *sequences, char *error,
                                   size_t errorSize) {
  if (!generator || !sequences) {
    setError(error, errorSize, "slm_generator_sequences: null %s",
             generator ? "sequences" : "generator");
    return SLM_ERROR_INVALID_ARGUMENT;
  }
  const slm_generator &g = *generator;
  *sequences = slm_tensor{};
  size_t count = static_cast<size_t>(g.batch * g.length);
  auto *data = static_cast<int64_t *>(
      std::malloc(std::max<size_t>(1, count * sizeof(int64_t))));
  if (!data) {
    setError(error, errorSize, "out of memory");
    return SLM_ERROR_OUT_OF_MEMORY;
  }
  for (int64_t b = 0; b < g.batch; ++b)
    std::memcpy(data + b * g.length, &g.ids[b * g.capacity],
                g.length * sizeof(int64_t));
  sequences->dtype = SLM_INT64;
  sequences->rank = 2;
  sequences->shape[0] = g.batch;
  sequences->shape[1] = g.length;
  if (!mlir::slm::runtime::adoptBuffer(g.model, sequences, data)) {
    *sequences = slm_tensor{};
    setError(error, errorSize, "out of memory");
    return SLM_ERROR_OUT_OF_MEMORY;
  }
  return SLM_OK;
}

void slm_generator_destroy(slm_generator *generator) { delete generator; }

slm_status slm_model_generate(slm_model *model, const slm_tensor *inputIds,
                              const slm_tensor *attentionMask,
                              const slm_generate_options *options,
                              slm_tensor *outputIds, char *error,
                              size_t errorSize) {
  if (!outputIds) {
    setError(error, errorSize, "slm_model_generate: null output_ids");
    return SLM_ERROR_INVALID_ARGUMENT;
  }
  *outputIds = slm_tensor{};
  slm_generator *g = nullptr;
  slm_status status = slm_generator_create(model, inputIds, attentionMask,
                                           options, &g, error, errorSize);
  if (status != SLM_OK)
    return status;
  std::vector<int64_t> tokens(g->batch);
  for (;;) {
    int32_t done = 0;
    status = g->step(tokens.data(), &done, error, errorSize);
    if (status != SLM_OK || done)
      break;
    if (g->options.on_tokens &&
        g->options.on_tokens(g->options.user_data, g->steps - 1,
                             tokens.data(), static_cast<int32_t>(g->batch)))
      break;
  }
  if (status == SLM_OK)
    status = slm_generator_sequences(g, outputIds, error, errorSize);
  slm_generator_destroy(g);
  return status;
}

} // extern "C"
