//===- Runtime.cpp - The slm runtime ----------------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Loads a model library with dlopen, reads its interface from the JSON in
// `slm_model_metadata`, checks inputs, passes memref descriptors to
// `slm_model_run` and hands the outputs back. The contract (entry points,
// descriptor layout, dtypes, metadata) is slm_model_abi.h. No MLIR or LLVM
// here.
//
//===----------------------------------------------------------------------===//

#include "slm/Runtime/slmrt.h"

#include "ModelMetadata.h"
#include "RuntimeInternal.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

void mlir::slm::runtime::setError(char *error, size_t size,
                                  const char *format, ...) {
  if (!error || size == 0)
    return;
  va_list args;
  va_start(args, format);
  std::vsnprintf(error, size, format, args);
  va_end(args);
}

namespace {

using mlir::slm::runtime::setError;
using mlir::slm::runtime::TensorInfo;

std::string shapeString(const int64_t *shape, int64_t rank) {
  std::string s = "[";
  for (int64_t i = 0; i < rank; ++i) {
    if (i)
      s += ", ";
    s += shape[i] < 0 ? std::string("?") : std::to_string(shape[i]);
  }
  return s + "]";
}

/// Extents as they are, negative ones included ("[2, -1]").
std::string extentsString(const int64_t *shape, int64_t rank) {
  std::string s = "[";
  for (int64_t i = 0; i < rank; ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// The pointer stored in descriptor word `word`.
void *pointerWord(const int64_t *descriptor, int64_t word) {
  void *pointer;
  std::memcpy(&pointer, descriptor + word, sizeof(void *));
  return pointer;
}

/// Stores `pointer` in descriptor word `word`.
void setPointerWord(int64_t *descriptor, int64_t word, const void *pointer) {
  descriptor[word] = 0;
  std::memcpy(descriptor + word, &pointer, sizeof(void *));
}

void fillInfo(const TensorInfo &in, slm_tensor_info *out) {
  out->name = in.name.c_str();
  out->dtype = in.dtype;
  out->rank = static_cast<int32_t>(in.shape.size());
  for (size_t i = 0; i < in.shape.size(); ++i) {
    out->shape[i] = in.shape[i];
    out->dims[i] = in.dims[i].c_str();
  }
}

} // namespace

struct slm_model {
  void *library = nullptr;
  slm_model_run_fn run = nullptr;
  /// The entry that reports failed run-time checks (null in models from
  /// before it).
  slm_model_run_checked_fn runChecked = nullptr;
  /// The OpenMP runtime's thread-count setter, when the model uses it.
  void (*setThreads)(int) = nullptr;
  /// Gives a buffer back to the model's buffer cache (models from before
  /// the cache lack it: then free()).
  slm_model_release_buffer_fn releaseBuffer = nullptr;
  int32_t numThreads = 0;
  std::vector<TensorInfo> inputs, outputs;
  /// The caller's handle and every output not yet released: the library
  /// stays loaded until the last one goes.
  mutable std::atomic<int64_t> references{1};
  ~slm_model() {
    if (library)
      dlclose(library);
  }
  void retain() const { references.fetch_add(1, std::memory_order_relaxed); }
  void releaseReference() const {
    if (references.fetch_sub(1, std::memory_order_acq_rel) == 1)
      delete this;
  }
  void freeBuffer(void *buffer) const {
    if (releaseBuffer)
      releaseBuffer(buffer);
    else
      std::free(buffer);
  }
};

/// Whether this CPU (and its OS) supports the x86 feature `name` (LLVM's
/// spelling, as SLM_MODEL_CPU_FEATURES_SYMBOL lists it): 1 or 0, or -1 for
/// a name this runtime cannot check.
static int cpuHasFeature(const std::string &name) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
#define SLM_CPU_FEATURE(feature)                                               \
  if (name == feature)                                                         \
    return __builtin_cpu_supports(feature) ? 1 : 0;
  SLM_CPU_FEATURE("sse4.2")
  SLM_CPU_FEATURE("avx")
  SLM_CPU_FEATURE("avx2")
  SLM_CPU_FEATURE("fma")
  SLM_CPU_FEATURE("f16c")
  SLM_CPU_FEATURE("bmi")
  SLM_CPU_FEATURE("bmi2")
  SLM_CPU_FEATURE("avx512f")
  SLM_CPU_FEATURE("avx512bw")
  SLM_CPU_FEATURE("avx512dq")
  SLM_CPU_FEATURE("avx512vl")
  SLM_CPU_FEATURE("avx512cd")
  SLM_CPU_FEATURE("avx512vnni")
  SLM_CPU_FEATURE("avx512bf16")
  SLM_CPU_FEATURE("avx512vbmi")
  SLM_CPU_FEATURE("avx512vbmi2")
  SLM_CPU_FEATURE("avx512ifma")
  SLM_CPU_FEATURE("avx512bitalg")
  SLM_CPU_FEATURE("avx512vpopcntdq")
  SLM_CPU_FEATURE("avx512fp16")
  SLM_CPU_FEATURE("avxvnni")
  SLM_CPU_FEATURE("gfni")
  SLM_CPU_FEATURE("vaes")
  SLM_CPU_FEATURE("vpclmulqdq")
  SLM_CPU_FEATURE("amx-tile")
  SLM_CPU_FEATURE("amx-int8")
  SLM_CPU_FEATURE("amx-bf16")
#undef SLM_CPU_FEATURE
#endif
  return -1;
}

namespace {
/// What slm_tensor::owner points to for an output the runtime allocated.
struct OutputOwner {
  const slm_model *model;
  void *buffer;
  /// A copy the runtime made with malloc (an output that shares its buffer
  /// with an earlier output), not the model's allocation.
  bool copy = false;
};
} // namespace

bool mlir::slm::runtime::adoptBuffer(const slm_model *model,
                                     slm_tensor *tensor, void *buffer) {
  auto *owner = new (std::nothrow) OutputOwner{model, buffer, /*copy=*/true};
  if (!owner) {
    std::free(buffer);
    return false;
  }
  model->retain();
  tensor->data = buffer;
  tensor->owner = owner;
  return true;
}

void mlir::slm::runtime::retainModel(const slm_model *model) {
  model->retain();
}

void mlir::slm::runtime::releaseModel(const slm_model *model) {
  model->releaseReference();
}

extern "C" {

size_t slm_dtype_size(slm_dtype dtype) { return slm_abi_dtype_size(dtype); }

const char *slm_dtype_name(slm_dtype dtype) {
  const char *name = slm_abi_dtype_name(dtype);
  return name ? name : "unknown";
}

const char *slm_status_string(slm_status status) {
  switch (status) {
  case SLM_OK:
    return "ok";
  case SLM_ERROR_INVALID_ARGUMENT:
    return "invalid argument";
  case SLM_ERROR_IO:
    return "cannot open the model";
  case SLM_ERROR_BAD_MODEL:
    return "not an slm model";
  case SLM_ERROR_DTYPE:
    return "wrong element type";
  case SLM_ERROR_SHAPE:
    return "wrong shape";
  case SLM_ERROR_OUT_OF_MEMORY:
    return "out of memory";
  case SLM_ERROR_RUN_CHECK:
    return "the model failed a run-time check";
  case SLM_ERROR_BAD_OUTPUT:
    return "the model produced a malformed output";
  }
  return "unknown status";
}

slm_status slm_model_open(const char *path, slm_model **model, char *error,
                          size_t errorSize) {
  if (!path || !model) {
    setError(error, errorSize, "slm_model_open: null %s",
             path ? "model pointer" : "path");
    return SLM_ERROR_INVALID_ARGUMENT;
  }
  *model = nullptr;
  std::unique_ptr<slm_model> m(new (std::nothrow) slm_model);
  if (!m)
    return SLM_ERROR_OUT_OF_MEMORY;
  // A path without a slash would be searched on the library path: keep it
  // relative to the working directory as the user means it.
  std::string file = path;
  if (file.find('/') == std::string::npos)
    file = "./" + file;
  m->library = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!m->library) {
    const char *why = dlerror();
    setError(error, errorSize, "cannot open '%s': %s", path,
             why ? why : "unknown error");
    return SLM_ERROR_IO;
  }
  auto *abi = static_cast<const int32_t *>(
      dlsym(m->library, SLM_MODEL_ABI_VERSION_SYMBOL));
  auto *metadata =
      static_cast<const char *>(dlsym(m->library, SLM_MODEL_METADATA_SYMBOL));
  m->run = reinterpret_cast<slm_model_run_fn>(
      dlsym(m->library, SLM_MODEL_RUN_SYMBOL));
  if (!abi || !metadata || !m->run) {
    setError(error, errorSize,
             "'%s' is not an slm model (no slm_model_* entry points)", path);
    return SLM_ERROR_BAD_MODEL;
  }
  if (*abi != SLM_MODEL_ABI_VERSION) {
    setError(error, errorSize,
             "'%s' was built for model ABI %d; this runtime reads %d", path,
             *abi, SLM_MODEL_ABI_VERSION);
    return SLM_ERROR_BAD_MODEL;
  }
  // Code for features this CPU lacks would stop the process on an illegal
  // instruction at the first run: refuse it now, saying which.
  if (const auto *features = static_cast<const char *>(
          dlsym(m->library, SLM_MODEL_CPU_FEATURES_SYMBOL))) {
    std::string missing, unknown;
    const char *begin = features;
    while (*begin) {
      const char *end = std::strchr(begin, ',');
      std::string name(begin, end ? end - begin : std::strlen(begin));
      begin = end ? end + 1 : begin + name.size();
      if (name.empty())
        continue;
      const int has = cpuHasFeature(name);
      std::string &list = has < 0 ? unknown : missing;
      if (has <= 0)
        list += (list.empty() ? "" : ", ") + name;
    }
    if (!missing.empty()) {
      setError(error, errorSize,
               "'%s' was compiled for CPU features this CPU lacks: %s "
               "(compile it on this machine, or with slmc --mcpu=<this CPU>)",
               path, missing.c_str());
      return SLM_ERROR_BAD_MODEL;
    }
    if (!unknown.empty()) {
      setError(error, errorSize,
               "'%s' needs CPU features this runtime cannot check: %s", path,
               unknown.c_str());
      return SLM_ERROR_BAD_MODEL;
    }
  }
  m->runChecked = reinterpret_cast<slm_model_run_checked_fn>(
      dlsym(m->library, SLM_MODEL_RUN_CHECKED_SYMBOL));
  // Models with slm's thread pool export its setter; earlier ones linked
  // libomp, whose setter the handle finds through the model's dependencies.
  m->setThreads = reinterpret_cast<void (*)(int)>(
      dlsym(m->library, SLM_MODEL_SET_THREADS_SYMBOL));
  if (!m->setThreads)
    m->setThreads = reinterpret_cast<void (*)(int)>(
        dlsym(m->library, "omp_set_num_threads"));
  m->releaseBuffer = reinterpret_cast<slm_model_release_buffer_fn>(
      dlsym(m->library, SLM_MODEL_RELEASE_BUFFER_SYMBOL));
  int64_t metadataAbi = 0;
  if (!mlir::slm::runtime::parseModelMetadata(metadata, m->inputs,
                                                m->outputs, metadataAbi) ||
      metadataAbi != SLM_MODEL_ABI_VERSION || m->outputs.empty()) {
    setError(error, errorSize, "'%s' has unreadable model metadata", path);
    return SLM_ERROR_BAD_MODEL;
  }
  *model = m.release();
  return SLM_OK;
}

void slm_model_close(slm_model *model) {
  if (model)
    model->releaseReference();
}

int32_t slm_model_num_inputs(const slm_model *model) {
  return model ? static_cast<int32_t>(model->inputs.size()) : 0;
}

int32_t slm_model_num_outputs(const slm_model *model) {
  return model ? static_cast<int32_t>(model->outputs.size()) : 0;
}

slm_status slm_model_input_info(const slm_model *model, int32_t index,
                                slm_tensor_info *info) {
  if (!model || !info || index < 0 ||
      index >= static_cast<int32_t>(model->inputs.size()))
    return SLM_ERROR_INVALID_ARGUMENT;
  fillInfo(model->inputs[index], info);
  return SLM_OK;
}

slm_status slm_model_output_info(const slm_model *model, int32_t index,
                                 slm_tensor_info *info) {
  if (!model || !info || index < 0 ||
      index >= static_cast<int32_t>(model->outputs.size()))
    return SLM_ERROR_INVALID_ARGUMENT;
  fillInfo(model->outputs[index], info);
  return SLM_OK;
}

slm_status slm_model_set_num_threads(slm_model *model, int32_t numThreads) {
  if (!model || numThreads < 0)
    return SLM_ERROR_INVALID_ARGUMENT;
  model->numThreads = numThreads;
  return SLM_OK;
}

void slm_tensor_release(slm_tensor *tensor) {
  if (!tensor || !tensor->owner)
    return;
  auto *owner = static_cast<OutputOwner *>(tensor->owner);
  if (owner->copy)
    std::free(owner->buffer);
  else
    owner->model->freeBuffer(owner->buffer);
  owner->model->releaseReference();
  delete owner;
  tensor->owner = nullptr;
  tensor->data = nullptr;
}

slm_status slm_model_run(const slm_model *model, const slm_tensor *inputs,
                         int32_t numInputs, slm_tensor *outputs,
                         int32_t numOutputs, char *error, size_t errorSize) {
  if (!model || (numInputs && !inputs) || !outputs) {
    setError(error, errorSize, "slm_model_run: null %s",
             !model     ? "model"
             : !outputs ? "outputs"
                        : "inputs");
    return SLM_ERROR_INVALID_ARGUMENT;
  }
  if (numInputs != static_cast<int32_t>(model->inputs.size()) ||
      numOutputs != static_cast<int32_t>(model->outputs.size())) {
    setError(error, errorSize,
             "the model takes %zu inputs and gives %zu outputs; got %d and %d",
             model->inputs.size(), model->outputs.size(), numInputs,
             numOutputs);
    return SLM_ERROR_INVALID_ARGUMENT;
  }
  // Check every input, and that extents with one name agree.
  std::map<std::string, std::pair<int64_t, std::string>> named;
  std::vector<std::vector<int64_t>> descriptors(numInputs);
  std::vector<void *> pointers(numInputs);
  for (int32_t i = 0; i < numInputs; ++i) {
    const TensorInfo &want = model->inputs[i];
    const slm_tensor &got = inputs[i];
    int64_t rank = static_cast<int64_t>(want.shape.size());
    if (got.dtype != want.dtype) {
      setError(error, errorSize, "input '%s' must be %s, got %s",
               want.name.c_str(), slm_dtype_name(want.dtype),
               slm_dtype_name(got.dtype));
      return SLM_ERROR_DTYPE;
    }
    if (got.rank != rank) {
      setError(error, errorSize, "input '%s' must have rank %lld, got %d",
               want.name.c_str(), static_cast<long long>(rank), got.rank);
      return SLM_ERROR_SHAPE;
    }
    int64_t count = 1;
    for (int64_t d = 0; d < rank; ++d) {
      int64_t extent = got.shape[d];
      if (extent < 0 ||
          (want.shape[d] != SLM_DYNAMIC_EXTENT && extent != want.shape[d])) {
        setError(error, errorSize, "input '%s' must have shape %s, got %s",
                 want.name.c_str(),
                 shapeString(want.shape.data(), rank).c_str(),
                 shapeString(got.shape, rank).c_str());
        return SLM_ERROR_SHAPE;
      }
      if (!want.dims[d].empty()) {
        auto [it, inserted] =
            named.emplace(want.dims[d], std::make_pair(extent, want.name));
        if (!inserted && it->second.first != extent) {
          setError(error, errorSize,
                   "dimension '%s' is %lld in input '%s' but %lld in '%s'",
                   want.dims[d].c_str(), static_cast<long long>(extent),
                   want.name.c_str(), static_cast<long long>(it->second.first),
                   it->second.second.c_str());
          return SLM_ERROR_SHAPE;
        }
      }
      count *= extent;
    }
    if (!got.data && count > 0) {
      setError(error, errorSize, "input '%s' has no data", want.name.c_str());
      return SLM_ERROR_INVALID_ARGUMENT;
    }
    // Row-major, offset 0, allocated == aligned (slm_model_abi.h).
    std::vector<int64_t> &desc = descriptors[i];
    desc.assign(SLM_MEMREF_NUM_WORDS(rank), 0);
    setPointerWord(desc.data(), SLM_MEMREF_ALLOCATED, got.data);
    setPointerWord(desc.data(), SLM_MEMREF_ALIGNED, got.data);
    desc[SLM_MEMREF_OFFSET] = 0;
    int64_t stride = 1;
    for (int64_t d = rank - 1; d >= 0; --d) {
      desc[SLM_MEMREF_SIZE(d)] = got.shape[d];
      desc[SLM_MEMREF_STRIDE(rank, d)] = stride;
      stride *= got.shape[d];
    }
    pointers[i] = desc.data();
  }
  for (int32_t o = 0; o < numOutputs; ++o)
    if (outputs[o].data && outputs[o].dtype != model->outputs[o].dtype) {
      setError(error, errorSize, "output '%s' is %s; the buffer given is %s",
               model->outputs[o].name.c_str(),
               slm_dtype_name(model->outputs[o].dtype),
               slm_dtype_name(outputs[o].dtype));
      return SLM_ERROR_DTYPE;
    }

  // One descriptor per output, back to back.
  std::vector<size_t> resultOffsets(numOutputs);
  size_t resultWords = 0;
  for (int32_t o = 0; o < numOutputs; ++o) {
    resultOffsets[o] = resultWords;
    resultWords += SLM_MEMREF_NUM_WORDS(model->outputs[o].shape.size());
  }
  std::vector<int64_t> results(resultWords, 0);
  // The thread count is per calling thread (as in OpenMP): set it for this
  // run.
  if (model->numThreads > 0 && model->setThreads)
    model->setThreads(model->numThreads);
  const char *failure = nullptr;
  if (model->runChecked)
    failure = model->runChecked(pointers.data(), results.data());
  else
    model->run(pointers.data(), results.data());

  std::vector<void *> allocations(numOutputs), handedOver;
  for (int32_t o = 0; o < numOutputs; ++o)
    allocations[o] =
        pointerWord(results.data() + resultOffsets[o], SLM_MEMREF_ALLOCATED);
  // Outputs a failed run produced, or that cannot be valid, are discarded:
  // each distinct allocation freed once.
  auto discardOutputs = [&] {
    for (int32_t o = 0; o < numOutputs; ++o)
      if (std::find(allocations.begin(), allocations.begin() + o,
                    allocations[o]) == allocations.begin() + o)
        model->freeBuffer(allocations[o]);
  };
  if (failure) {
    discardOutputs();
    setError(error, errorSize, "%s", failure);
    return SLM_ERROR_RUN_CHECK;
  }
  for (int32_t o = 0; o < numOutputs; ++o) {
    const int64_t *desc = results.data() + resultOffsets[o];
    int64_t rank = static_cast<int64_t>(model->outputs[o].shape.size());
    for (int64_t d = 0; d < rank; ++d) {
      int64_t extent = desc[SLM_MEMREF_SIZE(d)];
      int64_t want = model->outputs[o].shape[d];
      if (extent < 0 || (want != SLM_DYNAMIC_EXTENT && extent != want)) {
        setError(error, errorSize,
                 "output '%s' came out with shape %s, which its type %s "
                 "does not allow (a compiler bug: please report it)",
                 model->outputs[o].name.c_str(),
                 extentsString(desc + SLM_MEMREF_SIZE(0), rank).c_str(),
                 shapeString(model->outputs[o].shape.data(), rank).c_str());
        discardOutputs();
        return SLM_ERROR_BAD_OUTPUT;
      }
    }
  }

  // Hand the outputs over (or copy them into the caller's buffers). A
  // function may return one buffer twice (the same value, or views of
  // it): it is handed over once, later outputs get copies, and it is
  // freed once.
  slm_status status = SLM_OK;
  auto usedLater = [&](int32_t o) {
    for (int32_t p = o + 1; p < numOutputs; ++p)
      if (allocations[p] == allocations[o])
        return true;
    return false;
  };
  auto wasHandedOver = [&](void *allocation) {
    return std::find(handedOver.begin(), handedOver.end(), allocation) !=
           handedOver.end();
  };
  for (int32_t o = 0; o < numOutputs; ++o) {
    const TensorInfo &info = model->outputs[o];
    int64_t rank = static_cast<int64_t>(info.shape.size());
    const int64_t *desc = results.data() + resultOffsets[o];
    const int64_t *sizes = desc + SLM_MEMREF_SIZE(0);
    void *allocated = allocations[o];
    void *aligned = pointerWord(desc, SLM_MEMREF_ALIGNED);
    size_t elementSize = slm_dtype_size(info.dtype);
    char *data =
        static_cast<char *>(aligned) + desc[SLM_MEMREF_OFFSET] * elementSize;
    int64_t count = 1;
    for (int64_t d = 0; d < rank; ++d)
      count *= sizes[d];
    slm_tensor &out = outputs[o];
    if (out.data) {
      bool same = out.rank == rank;
      for (int64_t d = 0; same && d < rank; ++d)
        same = out.shape[d] == sizes[d];
      if (!same && status == SLM_OK) {
        setError(error, errorSize,
                 "output '%s' has shape %s; the buffer given is %s",
                 info.name.c_str(), shapeString(sizes, rank).c_str(),
                 shapeString(out.shape, out.rank).c_str());
        status = SLM_ERROR_SHAPE;
      } else if (same) {
        std::memcpy(out.data, data, count * elementSize);
      }
      if (!usedLater(o) && !wasHandedOver(allocated))
        model->freeBuffer(allocated);
      continue;
    }
    bool copy = wasHandedOver(allocated);
    void *buffer = allocated;
    if (copy) {
      buffer = std::malloc(std::max<size_t>(1, count * elementSize));
      if (buffer) {
        std::memcpy(buffer, data, count * elementSize);
        data = static_cast<char *>(buffer);
      }
    }
    auto *owner =
        buffer ? new (std::nothrow) OutputOwner{model, buffer, copy} : nullptr;
    if (!owner) {
      if (copy)
        std::free(buffer);
      else if (!usedLater(o))
        model->freeBuffer(allocated);
      if (status == SLM_OK) {
        setError(error, errorSize, "out of memory");
        status = SLM_ERROR_OUT_OF_MEMORY;
      }
      continue;
    }
    if (!copy)
      handedOver.push_back(allocated);
    model->retain();
    out.dtype = info.dtype;
    out.rank = static_cast<int32_t>(rank);
    for (int64_t d = 0; d < rank; ++d)
      out.shape[d] = sizes[d];
    out.data = data;
    out.owner = owner;
  }
  return status;
}

} // extern "C"
