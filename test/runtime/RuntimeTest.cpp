//===- RuntimeTest.cpp - Tests of the slm runtime's C API -------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Runs against the model in $SLM_TEST_MODEL (Inputs/linear.mlir compiled by
// slmc): y = relu(x W^T + b) + z.
//
//===----------------------------------------------------------------------===//

#include "slm/Runtime/slmrt.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

const char *modelPath() {
  const char *path = std::getenv("SLM_TEST_MODEL");
  return path ? path : "";
}

/// The reference computation of the test model.
std::vector<float> reference(const std::vector<float> &x,
                             const std::vector<float> &z, int64_t batch) {
  const float w[2][4] = {{1, 2, 3, 4}, {0.5f, 0.5f, 0.5f, 0.5f}};
  const float b[2] = {0.25f, -1.0f};
  std::vector<float> y(batch * 2);
  for (int64_t r = 0; r < batch; ++r)
    for (int n = 0; n < 2; ++n) {
      float acc = b[n];
      for (int k = 0; k < 4; ++k)
        acc += x[r * 4 + k] * w[n][k];
      y[r * 2 + n] = std::max(acc, 0.0f) + z[r * 2 + n];
    }
  return y;
}

slm_tensor tensor(slm_dtype dtype, std::vector<int64_t> shape, void *data) {
  slm_tensor t{};
  t.dtype = dtype;
  t.rank = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i)
    t.shape[i] = shape[i];
  t.data = data;
  return t;
}

class Runtime : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_EQ(slm_model_open(modelPath(), &model, error, sizeof error), SLM_OK)
        << error;
  }
  void TearDown() override { slm_model_close(model); }

  /// Runs on `batch` rows of inputs derived from `seed`.
  std::vector<float> run(int64_t batch, int seed) {
    std::vector<float> x(batch * 4), z(batch * 2);
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = static_cast<float>((i * 7 + seed) % 11) - 5.0f;
    for (size_t i = 0; i < z.size(); ++i)
      z[i] = static_cast<float>((i + seed) % 3);
    slm_tensor inputs[2] = {tensor(SLM_FLOAT32, {batch, 4}, x.data()),
                            tensor(SLM_FLOAT32, {batch, 2}, z.data())};
    slm_tensor out{};
    char localError[256];
    EXPECT_EQ(
        slm_model_run(model, inputs, 2, &out, 1, localError, sizeof localError),
        SLM_OK)
        << localError;
    std::vector<float> y(static_cast<float *>(out.data),
                         static_cast<float *>(out.data) + batch * 2);
    EXPECT_EQ(out.rank, 2);
    EXPECT_EQ(out.shape[0], batch);
    slm_tensor_release(&out);
    EXPECT_EQ(out.data, nullptr);
    EXPECT_EQ(y, reference(x, z, batch));
    return y;
  }

  slm_model *model = nullptr;
  char error[512] = "";
};

TEST_F(Runtime, DescribesInputsAndOutputs) {
  ASSERT_EQ(slm_model_num_inputs(model), 2);
  ASSERT_EQ(slm_model_num_outputs(model), 1);
  slm_tensor_info info;
  ASSERT_EQ(slm_model_input_info(model, 0, &info), SLM_OK);
  EXPECT_STREQ(info.name, "x");
  EXPECT_EQ(info.dtype, SLM_FLOAT32);
  EXPECT_EQ(info.rank, 2);
  EXPECT_EQ(info.shape[0], -1);
  EXPECT_EQ(info.shape[1], 4);
  EXPECT_STREQ(info.dims[0], "batch");
  ASSERT_EQ(slm_model_output_info(model, 0, &info), SLM_OK);
  EXPECT_STREQ(info.name, "y");
  EXPECT_EQ(slm_model_input_info(model, 2, &info), SLM_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(slm_model_output_info(model, -1, &info),
            SLM_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(slm_model_input_info(nullptr, 0, &info),
            SLM_ERROR_INVALID_ARGUMENT);
}

TEST_F(Runtime, RunsAnyBatchFromOneLibrary) {
  for (int64_t batch : {1, 3, 17, 64})
    run(batch, static_cast<int>(batch));
}

TEST_F(Runtime, WritesIntoCallerBuffers) {
  std::vector<float> x(8, 1.0f), z(4, 0.0f), y(4, -7.0f);
  slm_tensor inputs[2] = {tensor(SLM_FLOAT32, {2, 4}, x.data()),
                          tensor(SLM_FLOAT32, {2, 2}, z.data())};
  slm_tensor out = tensor(SLM_FLOAT32, {2, 2}, y.data());
  ASSERT_EQ(slm_model_run(model, inputs, 2, &out, 1, error, sizeof error),
            SLM_OK)
      << error;
  EXPECT_EQ(y, reference(x, z, 2));
  EXPECT_EQ(out.owner, nullptr);
  // A buffer of the wrong shape is refused, with the shapes in the message.
  slm_tensor wrong = tensor(SLM_FLOAT32, {3, 2}, y.data());
  EXPECT_EQ(slm_model_run(model, inputs, 2, &wrong, 1, error, sizeof error),
            SLM_ERROR_SHAPE);
  EXPECT_STREQ(error,
               "output 'y' has shape [2, 2]; the buffer given is [3, 2]");
}

TEST_F(Runtime, OutputsOutliveTheModelHandle) {
  // Outputs released after slm_model_close still go back to their model
  // (the library stays loaded until the last one): nothing dangles.
  std::vector<float> x(64 * 1024 * 4, 1.0f), z(64 * 1024 * 2, 0.5f);
  slm_tensor inputs[2] = {tensor(SLM_FLOAT32, {64 * 1024, 4}, x.data()),
                          tensor(SLM_FLOAT32, {64 * 1024, 2}, z.data())};
  slm_tensor first{}, second{};
  ASSERT_EQ(slm_model_run(model, inputs, 2, &first, 1, error, sizeof error),
            SLM_OK)
      << error;
  ASSERT_EQ(slm_model_run(model, inputs, 2, &second, 1, error, sizeof error),
            SLM_OK)
      << error;
  EXPECT_NE(first.data, second.data);
  slm_model_close(model);
  model = nullptr;
  std::vector<float> expected = reference(x, z, 64 * 1024);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(),
                         static_cast<float *>(first.data)));
  slm_tensor_release(&first);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(),
                         static_cast<float *>(second.data)));
  slm_tensor_release(&second);
  EXPECT_EQ(second.owner, nullptr);
}

TEST_F(Runtime, ReusesReleasedOutputBuffers) {
  // A released output (512 KiB: cached) is handed out again by the next
  // run instead of fresh pages.
  std::vector<float> x(64 * 1024 * 4, 1.0f), z(64 * 1024 * 2, 0.5f);
  slm_tensor inputs[2] = {tensor(SLM_FLOAT32, {64 * 1024, 4}, x.data()),
                          tensor(SLM_FLOAT32, {64 * 1024, 2}, z.data())};
  slm_tensor out{};
  ASSERT_EQ(slm_model_run(model, inputs, 2, &out, 1, error, sizeof error),
            SLM_OK)
      << error;
  void *before = out.data;
  slm_tensor_release(&out);
  ASSERT_EQ(slm_model_run(model, inputs, 2, &out, 1, error, sizeof error),
            SLM_OK)
      << error;
  EXPECT_EQ(out.data, before);
  slm_tensor_release(&out);
}

TEST_F(Runtime, RejectsBadInputsWithAMessage) {
  std::vector<float> x(8), z(4);
  std::vector<int64_t> ids(8);
  slm_tensor out{};
  slm_tensor good[2] = {tensor(SLM_FLOAT32, {2, 4}, x.data()),
                        tensor(SLM_FLOAT32, {2, 2}, z.data())};

  slm_tensor dtype[2] = {tensor(SLM_INT64, {2, 4}, ids.data()), good[1]};
  EXPECT_EQ(slm_model_run(model, dtype, 2, &out, 1, error, sizeof error),
            SLM_ERROR_DTYPE);
  EXPECT_STREQ(error, "input 'x' must be float32, got int64");

  slm_tensor rank[2] = {tensor(SLM_FLOAT32, {8}, x.data()), good[1]};
  EXPECT_EQ(slm_model_run(model, rank, 2, &out, 1, error, sizeof error),
            SLM_ERROR_SHAPE);
  EXPECT_STREQ(error, "input 'x' must have rank 2, got 1");

  slm_tensor extent[2] = {tensor(SLM_FLOAT32, {4, 2}, x.data()), good[1]};
  EXPECT_EQ(slm_model_run(model, extent, 2, &out, 1, error, sizeof error),
            SLM_ERROR_SHAPE);
  EXPECT_STREQ(error, "input 'x' must have shape [?, 4], got [4, 2]");

  slm_tensor negative[2] = {tensor(SLM_FLOAT32, {-2, 4}, x.data()), good[1]};
  EXPECT_EQ(slm_model_run(model, negative, 2, &out, 1, error, sizeof error),
            SLM_ERROR_SHAPE);

  slm_tensor batch[2] = {good[0], tensor(SLM_FLOAT32, {1, 2}, z.data())};
  EXPECT_EQ(slm_model_run(model, batch, 2, &out, 1, error, sizeof error),
            SLM_ERROR_SHAPE);
  EXPECT_STREQ(error, "dimension 'batch' is 1 in input 'z' but 2 in 'x'");

  slm_tensor noData[2] = {tensor(SLM_FLOAT32, {2, 4}, nullptr), good[1]};
  EXPECT_EQ(slm_model_run(model, noData, 2, &out, 1, error, sizeof error),
            SLM_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(error, "input 'x' has no data");

  EXPECT_EQ(slm_model_run(model, good, 1, &out, 1, error, sizeof error),
            SLM_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(slm_model_run(nullptr, good, 2, &out, 1, error, sizeof error),
            SLM_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(slm_model_run(model, good, 2, nullptr, 1, error, sizeof error),
            SLM_ERROR_INVALID_ARGUMENT);
  // A null error buffer is fine.
  EXPECT_EQ(slm_model_run(model, dtype, 2, &out, 1, nullptr, 0),
            SLM_ERROR_DTYPE);
}

TEST(RuntimeDtypes, NamesSizesAndValuesAreFixed) {
  // slm_model_abi.h: values never change (models and Python rely on them).
  struct Expected {
    slm_dtype dtype;
    int value;
    const char *name;
    size_t size;
  };
  const Expected expected[] = {
      {SLM_FLOAT32, 0, "float32", 4}, {SLM_FLOAT64, 1, "float64", 8},
      {SLM_FLOAT16, 2, "float16", 2}, {SLM_BFLOAT16, 3, "bfloat16", 2},
      {SLM_INT8, 4, "int8", 1},       {SLM_INT16, 5, "int16", 2},
      {SLM_INT32, 6, "int32", 4},     {SLM_INT64, 7, "int64", 8},
      {SLM_BOOL, 8, "bool", 1},       {SLM_UINT8, 9, "uint8", 1},
      {SLM_UINT16, 10, "uint16", 2},  {SLM_UINT32, 11, "uint32", 4},
      {SLM_UINT64, 12, "uint64", 8}};
  for (const Expected &e : expected) {
    EXPECT_EQ(static_cast<int>(e.dtype), e.value);
    EXPECT_STREQ(slm_dtype_name(e.dtype), e.name);
    EXPECT_EQ(slm_dtype_size(e.dtype), e.size);
  }
  EXPECT_STREQ(slm_dtype_name(static_cast<slm_dtype>(-1)), "unknown");
  EXPECT_EQ(slm_dtype_size(static_cast<slm_dtype>(99)), 0u);
}

TEST(RuntimeOpen, RejectsFilesThatAreNotModels) {
  slm_model *model = nullptr;
  char error[512];
  EXPECT_EQ(slm_model_open(nullptr, &model, error, sizeof error),
            SLM_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(
      slm_model_open("/nonexistent/model.so", &model, error, sizeof error),
      SLM_ERROR_IO);
  EXPECT_NE(std::strstr(error, "/nonexistent/model.so"), nullptr);
  // A shared library that is not a model.
  EXPECT_EQ(slm_model_open("/lib/x86_64-linux-gnu/libm.so.6", &model, error,
                           sizeof error),
            SLM_ERROR_BAD_MODEL);
  EXPECT_NE(std::strstr(error, "is not an slm model"), nullptr);
  // Garbage with a .so name.
  std::string junk =
      std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
      "/slm-runtime-test-junk.so";
  std::ofstream(junk) << "not an ELF file";
  EXPECT_EQ(slm_model_open(junk.c_str(), &model, error, sizeof error),
            SLM_ERROR_IO);
  std::remove(junk.c_str());
  EXPECT_EQ(model, nullptr);
}

TEST_F(Runtime, ConcurrentRunsFromFourThreadsAgree) {
  // Each thread runs different batches and checks against the reference.
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        int64_t batch = 1 + (i * 5 + t) % 9;
        std::vector<float> x(batch * 4), z(batch * 2);
        for (size_t j = 0; j < x.size(); ++j)
          x[j] = static_cast<float>((j * 3 + i + t) % 13) - 6.0f;
        for (size_t j = 0; j < z.size(); ++j)
          z[j] = static_cast<float>(j % 5);
        slm_tensor inputs[2] = {tensor(SLM_FLOAT32, {batch, 4}, x.data()),
                                tensor(SLM_FLOAT32, {batch, 2}, z.data())};
        slm_tensor out{};
        if (slm_model_run(model, inputs, 2, &out, 1, nullptr, 0) != SLM_OK) {
          ++failures[t];
          continue;
        }
        std::vector<float> y(static_cast<float *>(out.data),
                             static_cast<float *>(out.data) + batch * 2);
        failures[t] += y != reference(x, z, batch);
        slm_tensor_release(&out);
      }
    });
  for (std::thread &th : threads)
    th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

TEST_F(Runtime, ThreadCountDoesNotChangeResults) {
  ASSERT_EQ(slm_model_set_num_threads(model, 1), SLM_OK);
  std::vector<float> one = run(33, 4);
  ASSERT_EQ(slm_model_set_num_threads(model, 2), SLM_OK);
  EXPECT_EQ(run(33, 4), one);
  EXPECT_EQ(slm_model_set_num_threads(model, -1), SLM_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(slm_model_set_num_threads(nullptr, 2), SLM_ERROR_INVALID_ARGUMENT);
}

/// Runs the embedding lookup of $SLM_TEST_CHECK_MODEL
/// (test/e2e/Inputs/run_time_checks.py: emb[i, j] = 10 * ids[i] + j, a
/// vocabulary of 10, node 'embed_lookup'); `out` gets the output.
slm_status lookup(const slm_model *model, std::vector<int64_t> ids,
                  slm_tensor &out, char *error, size_t errorSize) {
  slm_tensor input =
      tensor(SLM_INT64, {static_cast<int64_t>(ids.size())}, ids.data());
  return slm_model_run(model, &input, 1, &out, 1, error, errorSize);
}

class RuntimeChecks : public ::testing::Test {
protected:
  void SetUp() override {
    const char *path = std::getenv("SLM_TEST_CHECK_MODEL");
    if (!path)
      GTEST_SKIP() << "SLM_TEST_CHECK_MODEL is not set";
    ASSERT_EQ(slm_model_open(path, &model, error, sizeof error), SLM_OK)
        << error;
  }
  void TearDown() override { slm_model_close(model); }
  slm_model *model = nullptr;
  char error[512] = "";
};

TEST_F(RuntimeChecks, AnIndexOutOfRangeIsAnErrorWithNoOutput) {
  slm_tensor out{};
  ASSERT_EQ(lookup(model, {3, -1}, out, error, sizeof error), SLM_OK) << error;
  const float *emb = static_cast<const float *>(out.data);
  EXPECT_EQ(out.shape[0], 2);
  EXPECT_EQ(emb[1], 31.0f);
  EXPECT_EQ(emb[4 + 2], 92.0f);
  slm_tensor_release(&out);
  for (std::vector<int64_t> bad : {std::vector<int64_t>{0, 10},
                                   std::vector<int64_t>{-11, 2},
                                   std::vector<int64_t>{1LL << 40}}) {
    slm_tensor failed{};
    std::strcpy(error, "");
    EXPECT_EQ(lookup(model, bad, failed, error, sizeof error),
              SLM_ERROR_RUN_CHECK);
    EXPECT_STREQ(error, "'embed_lookup' (Gather): index out of range");
    EXPECT_EQ(failed.data, nullptr);
    EXPECT_EQ(failed.owner, nullptr);
  }
  EXPECT_STREQ(slm_status_string(SLM_ERROR_RUN_CHECK),
               "the model failed a run-time check");
}

TEST_F(RuntimeChecks, CallerBuffersAreNotTakenOver) {
  std::vector<float> buffer(2 * 4, -1.0f);
  slm_tensor out = tensor(SLM_FLOAT32, {2, 4}, buffer.data());
  EXPECT_EQ(lookup(model, {0, 99}, out, error, sizeof error),
            SLM_ERROR_RUN_CHECK);
  EXPECT_EQ(out.data, buffer.data());
  EXPECT_EQ(out.owner, nullptr);
  ASSERT_EQ(lookup(model, {0, 9}, out, error, sizeof error), SLM_OK) << error;
  EXPECT_EQ(buffer[4 + 3], 93.0f);
}

TEST_F(RuntimeChecks, EachRunOfManyThreadsHasItsOwnFailure) {
  // Failing and passing runs interleave on four threads: each run reports
  // its own outcome.
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        bool bad = (i + t) % 3 == 0;
        std::vector<int64_t> ids(64);
        for (size_t j = 0; j < ids.size(); ++j)
          ids[j] = static_cast<int64_t>((j + i) % 10);
        if (bad)
          ids[(i * 7) % ids.size()] = 10 + i;
        slm_tensor out{};
        char message[256] = "";
        slm_status status = lookup(model, ids, out, message, sizeof message);
        if (bad) {
          wrong[t] += status != SLM_ERROR_RUN_CHECK || out.data != nullptr;
          continue;
        }
        if (status != SLM_OK) {
          ++wrong[t];
          continue;
        }
        const float *emb = static_cast<const float *>(out.data);
        for (size_t j = 0; j < ids.size(); ++j)
          wrong[t] += emb[j * 4 + 1] != 10.0f * ids[j] + 1;
        slm_tensor_release(&out);
      }
    });
  for (std::thread &th : threads)
    th.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

TEST(RuntimeDtypes, SizesAndNames) {
  EXPECT_EQ(slm_dtype_size(SLM_FLOAT32), 4u);
  EXPECT_EQ(slm_dtype_size(SLM_INT64), 8u);
  EXPECT_EQ(slm_dtype_size(SLM_BOOL), 1u);
  EXPECT_STREQ(slm_dtype_name(SLM_BFLOAT16), "bfloat16");
  EXPECT_STREQ(slm_status_string(SLM_ERROR_SHAPE), "wrong shape");
}
} // namespace
