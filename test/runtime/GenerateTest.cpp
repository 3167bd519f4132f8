//===- GenerateTest.cpp - Tests of the runtime's generation API -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Runs against the model in $SLM_TEST_LM (Inputs/bigram_lm.mlir compiled by
// slmc): the logits of each position are a fixed row per token, so every
// greedy continuation is known here. (Position-dependent models are checked
// against ONNX Runtime in test/e2e/generate.test.)
//
//===----------------------------------------------------------------------===//

#include "slm/Runtime/slmrt.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

namespace {

constexpr int64_t kVocab = 8;

/// The bigram model's greedy next token.
int64_t next(int64_t id) { return id == 7 ? 2 : (3 * id + 1) % kVocab; }

slm_tensor ids(std::vector<int64_t> &data, int64_t batch, int64_t length) {
  slm_tensor t{};
  t.dtype = SLM_INT64;
  t.rank = 2;
  t.shape[0] = batch;
  t.shape[1] = length;
  t.data = data.data();
  return t;
}

class Generate : public ::testing::Test {
protected:
  void SetUp() override {
    const char *path = std::getenv("SLM_TEST_LM");
    if (!path)
      GTEST_SKIP() << "SLM_TEST_LM is not set";
    ASSERT_EQ(slm_model_open(path, &model, error, sizeof error), SLM_OK)
        << error;
    slm_generate_options_init(&options);
  }
  void TearDown() override { slm_model_close(model); }

  /// Generates and returns the sequences row-major; `shape` gets theirs.
  std::vector<int64_t> generate(std::vector<int64_t> prompt, int64_t batch,
                                std::vector<int64_t> *mask = nullptr) {
    slm_tensor in = ids(prompt, batch, prompt.size() / batch);
    slm_tensor m{};
    if (mask)
      m = ids(*mask, batch, mask->size() / batch);
    slm_tensor out{};
    status = slm_model_generate(model, &in, mask ? &m : nullptr, &options,
                                &out, error, sizeof error);
    if (status != SLM_OK)
      return {};
    shape = {out.shape[0], out.shape[1]};
    const auto *data = static_cast<const int64_t *>(out.data);
    std::vector<int64_t> result(data, data + out.shape[0] * out.shape[1]);
    slm_tensor_release(&out);
    return result;
  }

  slm_model *model = nullptr;
  slm_generate_options options;
  slm_status status = SLM_OK;
  std::vector<int64_t> shape;
  char error[512] = "";
};

TEST_F(Generate, GreedyFollowsTheModel) {
  options.max_new_tokens = 6;
  std::vector<int64_t> out = generate({3, 5}, 1);
  ASSERT_EQ(status, SLM_OK) << error;
  ASSERT_EQ(shape, (std::vector<int64_t>{1, 8}));
  EXPECT_EQ(out[0], 3);
  EXPECT_EQ(out[1], 5);
  for (int i = 2; i < 8; ++i)
    EXPECT_EQ(out[i], next(out[i - 1])) << "position " << i;
}

TEST_F(Generate, GreedyTakesTheLowestIdOnATie) {
  options.max_new_tokens = 1;
  std::vector<int64_t> out = generate({7}, 1);
  ASSERT_EQ(status, SLM_OK) << error;
  EXPECT_EQ(out[1], 2);
}

TEST_F(Generate, LeftPaddedPromptsOfDifferentLengths) {
  options.max_new_tokens = 4;
  std::vector<int64_t> mask = {0, 0, 1, 1, 1, 1};
  std::vector<int64_t> out = generate({0, 0, 6, 1, 2, 4}, 2, &mask);
  ASSERT_EQ(status, SLM_OK) << error;
  ASSERT_EQ(shape, (std::vector<int64_t>{2, 7}));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t t = 3; t < 7; ++t)
      EXPECT_EQ(out[b * 7 + t], next(out[b * 7 + t - 1]));
}

TEST_F(Generate, AnEndTokenStopsItsRowWhichIsPaddedAfter) {
  // From 0: 1, 4, 5, 0, 1 ...; from 6: 3, 2, 7, 2 ... (no 4).
  int64_t eos = 4;
  options.eos_token_ids = &eos;
  options.num_eos_token_ids = 1;
  options.pad_token_id = 0;
  options.max_new_tokens = 5;
  std::vector<int64_t> out = generate({0, 6}, 2);
  ASSERT_EQ(status, SLM_OK) << error;
  ASSERT_EQ(shape, (std::vector<int64_t>{2, 6}));
  EXPECT_EQ((std::vector<int64_t>(out.begin(), out.begin() + 6)),
            (std::vector<int64_t>{0, 1, 4, 0, 0, 0}));
  EXPECT_EQ((std::vector<int64_t>(out.begin() + 6, out.end())),
            (std::vector<int64_t>{6, 3, 2, 7, 2, 7}));
}

TEST_F(Generate, StopsWhenEveryRowHasEnded) {
  int64_t eos = 4;
  options.eos_token_ids = &eos;
  options.num_eos_token_ids = 1;
  options.max_new_tokens = 10;
  std::vector<int64_t> out = generate({0}, 1);
  ASSERT_EQ(status, SLM_OK) << error;
  EXPECT_EQ(out, (std::vector<int64_t>{0, 1, 4}));
}

int32_t collect(void *user, int32_t step, const int64_t *tokens,
                int32_t batch) {
  auto *seen = static_cast<std::vector<int64_t> *>(user);
  EXPECT_EQ(batch, 1);
  EXPECT_EQ(step, static_cast<int32_t>(seen->size()));
  seen->push_back(tokens[0]);
  return seen->size() == 3; // stop after the third
}

TEST_F(Generate, TheCallbackSeesEveryStepAndCanStop) {
  std::vector<int64_t> seen;
  options.on_tokens = collect;
  options.user_data = &seen;
  options.max_new_tokens = 10;
  std::vector<int64_t> out = generate({2}, 1);
  ASSERT_EQ(status, SLM_OK) << error;
  EXPECT_EQ(seen, (std::vector<int64_t>{7, 2, 7}));
  EXPECT_EQ(out, (std::vector<int64_t>{2, 7, 2, 7}));
}

TEST_F(Generate, SamplingIsReproducibleFromTheSeed) {
  options.do_sample = 1;
  options.max_new_tokens = 32;
  options.seed = 1234;
  std::vector<int64_t> a = generate({1, 2}, 2);
  ASSERT_EQ(status, SLM_OK) << error;
  std::vector<int64_t> b = generate({1, 2}, 2);
  EXPECT_EQ(a, b);
  options.seed = 99;
  std::vector<int64_t> c = generate({1, 2}, 2);
  EXPECT_NE(a, c);
  // Not the greedy path: with temperature 1 the other 7 tokens hold about
  // 45% of each step's mass.
  std::set<int64_t> distinct(a.begin(), a.end());
  EXPECT_GT(distinct.size(), 3u);
}

TEST_F(Generate, TopKOfOneAndATinyTopPAreGreedy) {
  // From 0 the path (1, 4, 5, 0, ...) never reaches 7's tied maxima, which
  // top_k = 1 would both keep.
  options.max_new_tokens = 12;
  std::vector<int64_t> greedy = generate({0}, 1);
  options.do_sample = 1;
  options.seed = 5;
  options.top_k = 1;
  EXPECT_EQ(generate({0}, 1), greedy);
  options.top_k = 0;
  options.top_p = 1e-3f;
  EXPECT_EQ(generate({0}, 1), greedy);
  // A low temperature sharpens the distribution to the argmax too.
  options.top_p = 1;
  options.temperature = 0.01f;
  EXPECT_EQ(generate({0}, 1), greedy);
}

TEST_F(Generate, TopKKeepsSamplesAmongTheKMostLikely) {
  // Row 7 has two maxima (2 and 6); with top_k = 2 only they are drawn.
  options.do_sample = 1;
  options.top_k = 2;
  options.max_new_tokens = 1;
  std::set<int64_t> drawn;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    options.seed = seed;
    std::vector<int64_t> out = generate({7}, 1);
    ASSERT_EQ(status, SLM_OK) << error;
    drawn.insert(out[1]);
  }
  EXPECT_EQ(drawn, (std::set<int64_t>{2, 6}));
}

TEST_F(Generate, BadPromptsAndOptionsAreErrorsThatSayWhy) {
  struct Case {
    std::vector<int64_t> prompt, mask;
    int64_t batch;
    slm_status expected;
    const char *message;
  };
  std::vector<Case> cases = {
      {{1, 9}, {}, 1, SLM_ERROR_INVALID_ARGUMENT, "outside the vocabulary"},
      {{-1}, {}, 1, SLM_ERROR_INVALID_ARGUMENT, "outside the vocabulary"},
      {{1, 2}, {1, 0}, 1, SLM_ERROR_INVALID_ARGUMENT, "not left-padded"},
      {{1, 2}, {0, 0}, 1, SLM_ERROR_INVALID_ARGUMENT, "is empty"},
      {{1, 2}, {1, 2}, 1, SLM_ERROR_INVALID_ARGUMENT, "must be 0 or 1"},
  };
  for (const Case &c : cases) {
    std::vector<int64_t> mask = c.mask;
    generate(c.prompt, c.batch, mask.empty() ? nullptr : &mask);
    EXPECT_EQ(status, c.expected) << c.message;
    EXPECT_NE(std::string(error).find(c.message), std::string::npos)
        << error;
  }
  // An empty prompt.
  std::vector<int64_t> none;
  slm_tensor empty = ids(none, 1, 0);
  slm_tensor out{};
  EXPECT_EQ(slm_model_generate(model, &empty, nullptr, &options, &out, error,
                               sizeof error),
            SLM_ERROR_SHAPE);
  EXPECT_NE(std::string(error).find("empty"), std::string::npos) << error;
  EXPECT_EQ(out.data, nullptr);
  // Options.
  options.do_sample = 1;
  options.temperature = 0;
  generate({1}, 1);
  EXPECT_EQ(status, SLM_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error).find("temperature"), std::string::npos);
  options.temperature = 1;
  options.top_p = 1.5f;
  generate({1}, 1);
  EXPECT_NE(std::string(error).find("top_p"), std::string::npos);
  options.top_p = 1;
  options.max_new_tokens = -1;
  generate({1}, 1);
  EXPECT_NE(std::string(error).find("max_new_tokens"), std::string::npos);
  options.max_new_tokens = 2;
  int64_t eos = 8;
  options.eos_token_ids = &eos;
  options.num_eos_token_ids = 1;
  generate({1}, 1);
  EXPECT_NE(std::string(error).find("end token 8"), std::string::npos);
  // Options never initialized.
  slm_generate_options raw{};
  std::vector<int64_t> prompt = {1};
  slm_tensor in = ids(prompt, 1, 1);
  EXPECT_EQ(
      slm_model_generate(model, &in, nullptr, &raw, &out, error, sizeof error),
      SLM_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error).find("slm_generate_options_init"),
            std::string::npos)
      << error;
  // A wrong dtype.
  std::vector<int64_t> one = {1};
  slm_tensor wrong = ids(one, 1, 1);
  wrong.dtype = SLM_INT32;
  EXPECT_EQ(slm_model_generate(model, &wrong, nullptr, nullptr, &out, error,
                               sizeof error),
            SLM_ERROR_INVALID_ARGUMENT);
}

TEST_F(Generate, AGeneratorStepsAndOutlivesItsModelHandle) {
  std::vector<int64_t> prompt = {5};
  slm_tensor in = ids(prompt, 1, 1);
  options.max_new_tokens = 3;
  slm_generator *g = nullptr;
  ASSERT_EQ(slm_generator_create(model, &in, nullptr, &options, &g, error,
                                 sizeof error),
            SLM_OK)
      << error;
  slm_model_close(model); // the generator keeps the library loaded
  model = nullptr;
  std::vector<int64_t> tokens;
  for (;;) {
    int64_t token = -1;
    int32_t done = 0;
    ASSERT_EQ(slm_generator_step(g, &token, &done, error, sizeof error),
              SLM_OK)
        << error;
    if (done)
      break;
    tokens.push_back(token);
  }
  EXPECT_EQ(tokens, (std::vector<int64_t>{0, 1, 4}));
  slm_tensor sequences{};
  ASSERT_EQ(slm_generator_sequences(g, &sequences, error, sizeof error),
            SLM_OK);
  slm_generator_destroy(g);
  ASSERT_EQ(sequences.shape[1], 4);
  EXPECT_EQ(static_cast<int64_t *>(sequences.data)[3], 4);
  slm_tensor_release(&sequences);
}

} // namespace
