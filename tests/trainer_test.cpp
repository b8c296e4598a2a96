// Trainer units: the batch order and constrained sampling (on an untrained model: the form
// constraints must hold whatever the weights).
#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>

#include <malloc.h>

#include <cstdlib>
#include <set>

#include "common/error.h"
#include "common/memory_reuse.h"
#include "common/utf8.h"
#include "data/dataset_file.h"
#include "data/text_cleaner.h"
#include "model/batch_stream.h"
#include "model/chunked_cross_entropy.h"
#include "model/summed_loss.h"
#include "poems/sampler.h"
#include "test_support.h"
#include "untrained_model.h"

namespace poet {
namespace {

using test::ScratchDir;

TEST(BatchStream, RowsArePackedPoemsWithoutPadding) {
  ScratchDir dir;
  test::write_fixture_dataset(dir / "d.h5", 60);
  const DatasetFile file(dir / "d.h5");
  BatchStream stream(file, Split::kTrain, {0, 1, 2, 3}, /*seq_len=*/16, /*batch_rows=*/4, /*seed=*/1, true);
  ASSERT_GT(stream.batches_per_epoch(), 0);
  const Batch b = stream.batch(0, 0);
  ASSERT_EQ(b.inputs.sizes(), (std::vector<int64_t>{4, 16}));
  EXPECT_EQ(b.global_targets, 64);
  EXPECT_EQ((b.inputs == Vocabulary::kPad).sum().item<int64_t>(), 0);
  // Targets are the inputs shifted by one.
  EXPECT_TRUE(b.inputs.narrow(1, 1, 15).equal(b.targets.narrow(1, 0, 15)));
  // Poems follow each other as <bos> 24 characters <eos>: an <eos> is always followed by <bos>,
  // and one token in 26 is a <bos>.
  const Batch all = stream.rows(0, 0, stream.total_rows());
  const auto in = all.inputs.contiguous();
  const auto* t = in.data_ptr<int64_t>();
  int64_t bos = 0;
  for (int64_t r = 0; r < in.size(0); ++r) {
    for (int64_t k = 0; k < 16; ++k) {
      const int64_t token = t[r * 16 + k];
      bos += token == Vocabulary::kBos;
      if (token == Vocabulary::kEos && k + 1 < 16) EXPECT_EQ(t[r * 16 + k + 1], Vocabulary::kBos);
    }
  }
  EXPECT_NEAR(static_cast<double>(bos), static_cast<double>(in.numel()) / 26.0, 4.0);
}

TEST(BatchStream, OrderDoesNotDependOnWhoOwnsWhichShard) {
  ScratchDir dir;
  test::write_fixture_dataset(dir / "d.h5", 80);
  const DatasetFile file(dir / "d.h5");
  BatchStream whole(file, Split::kTrain, {0, 1, 2, 3}, 16, 6, 5, true);
  BatchStream even(file, Split::kTrain, {0, 2}, 16, 6, 5, true);
  BatchStream odd(file, Split::kTrain, {3, 1}, 16, 6, 5, true);
  EXPECT_EQ(even.batches_per_epoch(), whole.batches_per_epoch());
  EXPECT_LT(even.tokens_read(), whole.tokens_read());
  EXPECT_EQ(even.tokens_read() + odd.tokens_read(), whole.tokens_read());
  for (int64_t epoch : {0, 1}) {
    for (int64_t i = 0; i < whole.batches_per_epoch(); ++i) {
      const Batch w = whole.batch(epoch, i);
      const Batch e = even.batch(epoch, i);
      const Batch o = odd.batch(epoch, i);
      EXPECT_EQ(e.inputs.size(0) + o.inputs.size(0), w.inputs.size(0));
      EXPECT_EQ(e.global_targets, w.global_targets);
      // The same rows, in the same global order, split between the two owners.
      std::multiset<std::vector<int64_t>> rows_w, rows_eo;
      for (int64_t r = 0; r < w.inputs.size(0); ++r) {
        auto t = w.inputs[r].contiguous();
        rows_w.emplace(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
      }
      for (const Batch* part : {&e, &o}) {
        for (int64_t r = 0; r < part->inputs.size(0); ++r) {
          auto t = part->inputs[r].contiguous();
          rows_eo.emplace(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
        }
      }
      EXPECT_EQ(rows_w, rows_eo);
    }
  }
  // Another epoch is another order.
  EXPECT_FALSE(whole.batch(0, 0).inputs.equal(whole.batch(1, 0).inputs));
}

// A block as large as a logits chunk comes from the heap, where the next step reuses it, rather
// than from a fresh mapping (ctest runs each test in its own process, at glibc's defaults).
TEST(MemoryReuse, LargeBlocksComeFromTheHeap) {
  keep_freed_memory();
  const size_t mapped = mallinfo2().hblkhd;
  void* block = std::malloc(20 << 20);
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(mallinfo2().hblkhd, mapped);
  std::free(block);
}

// Validation measures every run alike: a bf16 model's loss is its weights' fp32 loss, and the
// model keeps its precision and training mode afterwards.
TEST(SummedLoss, IsFp32WhateverTheModelComputesIn) {
  ScratchDir dir;
  test::write_fixture_dataset(dir / "d.h5", 60, /*val_fraction=*/0.25);
  const DatasetFile file(dir / "d.h5");
  BatchStream val(file, Split::kVal, {0, 1, 2, 3}, /*seq_len=*/16, /*batch_rows=*/4, /*seed=*/1, false);
  ASSERT_GT(val.total_rows(), 4);
  PoetModel model = test::untrained_model(static_cast<int64_t>(file.vocab().size()));
  const auto fp32 = summed_loss(model, val, val.total_rows(), 4, torch::kCPU);
  model->set_precision(mixed_precision(torch::kCPU));
  const auto bf16 = summed_loss(model, val, val.total_rows(), 4, torch::kCPU);
  EXPECT_EQ(bf16.first, fp32.first);
  EXPECT_EQ(bf16.second, fp32.second);
  EXPECT_EQ(model->precision().lstm, torch::kBFloat16);
  EXPECT_TRUE(model->is_training());
  // The model's own bf16 forward gives other logits: the equality above is the fp32 evaluation.
  torch::NoGradGuard no_grad;
  model->eval();
  const Batch b = val.rows(0, 0, 4);
  const torch::Tensor bf16_logits = std::get<0>(model->forward(b.inputs));
  model->set_precision(Precision{});
  EXPECT_FALSE(bf16_logits.equal(std::get<0>(model->forward(b.inputs))));
}

TEST(ChunkedCrossEntropy, MatchesLinearThenCrossEntropy) {
  torch::manual_seed(11);
  const auto options = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor h0 = torch::randn({37, 6}, options);
  const torch::Tensor w0 = torch::randn({11, 6}, options);
  const torch::Tensor b0 = torch::randn({11}, options);
  const torch::Tensor targets = torch::randint(11, {37}, torch::kInt64);
  for (int64_t chunk : {5, 37, 64}) {  // uneven chunks, one chunk, a chunk larger than the rows
    auto h = h0.clone().requires_grad_();
    auto w = w0.clone().requires_grad_();
    auto b = b0.clone().requires_grad_();
    const torch::Tensor loss = chunked_linear_cross_entropy(h, w, b, targets, chunk) * 0.5;
    loss.backward();
    auto rh = h0.clone().requires_grad_();
    auto rw = w0.clone().requires_grad_();
    auto rb = b0.clone().requires_grad_();
    const torch::Tensor reference =
        torch::nn::functional::cross_entropy(torch::addmm(rb, rh, rw.t()), targets,
                                             torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)) *
        0.5;
    reference.backward();
    EXPECT_NEAR(loss.item<double>(), reference.item<double>(), 1e-10) << "chunk " << chunk;
    EXPECT_TRUE(torch::allclose(h.grad(), rh.grad(), 1e-10, 1e-12)) << "chunk " << chunk;
    EXPECT_TRUE(torch::allclose(w.grad(), rw.grad(), 1e-10, 1e-12)) << "chunk " << chunk;
    EXPECT_TRUE(torch::allclose(b.grad(), rb.grad(), 1e-10, 1e-12)) << "chunk " << chunk;
  }
}

// Shapes only: no tone patterns, no copy check (these need a dataset's rules; verse_test.cpp).
SampleOptions plain_options() {
  SampleOptions o;
  o.tones = ToneMode::kOff;
  o.avoid_copies = false;
  return o;
}

class Sampling : public ::testing::Test {
 protected:
  void SetUp() override {
    test::write_fixture_dataset(dir_ / "d.h5", 40);
    const DatasetFile file(dir_ / "d.h5");
    vocab_ = file.vocab();
    model_ = test::untrained_model(static_cast<int64_t>(vocab_.size()));
  }
  ScratchDir dir_;
  Vocabulary vocab_;
  PoetModel model_{nullptr};
};

TEST_F(Sampling, RegularFormsAlwaysHaveTheirShape) {
  struct Expect {
    PoemForm form;
    size_t lines;
    size_t chars;
  };
  for (const Expect e : {Expect{PoemForm::kWujue, 4, 5}, Expect{PoemForm::kQijue, 4, 7}, Expect{PoemForm::kWulv, 8, 5},
                         Expect{PoemForm::kQilv, 8, 7}}) {
    for (uint64_t seed = 1; seed <= 5; ++seed) {
      SampleOptions o = plain_options();
      o.form = e.form;
      o.seed = seed;
      o.temperature = 2.0;  // a flat distribution: every token is likely, the constraints must hold
      o.top_p = 1.0;
      const SampledPoem poem = sample_poem(model_, vocab_, o);
      ASSERT_EQ(poem.lines.size(), e.lines);
      for (size_t i = 0; i < poem.lines.size(); ++i) {
        const std::u32string& line = poem.lines[i];
        ASSERT_EQ(line.size(), e.chars + 1) << utf8_encode(line);
        for (size_t k = 0; k < e.chars; ++k) {
          EXPECT_TRUE(is_ideograph(line[k]) && line[k] != kUnencodable) << utf8_encode(line);
        }
        EXPECT_EQ(line.back(), i % 2 == 0 ? U'，' : U'。');
      }
      EXPECT_EQ(classify_form(poem.text), e.form);
    }
  }
}

TEST_F(Sampling, AcrosticPromptAndSeeds) {
  SampleOptions o = plain_options();
  o.form = PoemForm::kWujue;
  o.acrostic = U"春夏秋冬";
  const SampledPoem a = sample_poem(model_, vocab_, o);
  ASSERT_EQ(a.lines.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(a.lines[i][0], o.acrostic[i]);
  EXPECT_EQ(sample_poem(model_, vocab_, o).text, a.text);  // same seed, same poem
  o.seed = 2;
  EXPECT_NE(sample_poem(model_, vocab_, o).text, a.text);

  SampleOptions p = plain_options();
  p.form = PoemForm::kQijue;
  p.prompt = U"春風，秋月";  // punctuation in a regular form's prompt is ignored
  EXPECT_EQ(sample_poem(model_, vocab_, p).text.substr(0, 4), U"春風秋月");

  SampleOptions free_verse = plain_options();
  free_verse.acrostic = U"山水";
  free_verse.top_p = 1.0;
  const SampledPoem f = sample_poem(model_, vocab_, free_verse);
  ASSERT_GE(f.lines.size(), 2u);
  EXPECT_EQ(f.lines[0][0], U'山');
  EXPECT_EQ(f.lines[1][0], U'水');
}

TEST_F(Sampling, RefusesCharactersOutsideTheVocabulary) {
  SampleOptions o = plain_options();
  o.form = PoemForm::kWujue;
  o.acrostic = U"春龍";
  try {
    sample_poem(model_, vocab_, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("acrostic character '龍' is not in the model's vocabulary"), std::string::npos)
        << e.what();
  }
  o.acrostic = U"春夏秋冬山";  // five lines for a four-line form
  EXPECT_THROW(sample_poem(model_, vocab_, o), Error);
  SampleOptions p = plain_options();
  p.prompt = U"龍";
  EXPECT_THROW(sample_poem(model_, vocab_, p), Error);
}

}  // namespace
}  // namespace poet
