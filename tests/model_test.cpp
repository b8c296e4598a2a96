// The model's precision and its checkpoints, without a GPU: what the LSTM and the output layer
// compute in, and that restoring copies into the model and optimizer as they are. (A CPU build
// has no second device that holds values, so the tensor options followed here are the dtype's;
// scripts/gpu-check.sh resumes on CUDA and reads a CUDA checkpoint on the CPU.)
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/nn/modules/rnn.h>
#include <torch/optim/adamw.h>

#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/checkpoint.h"
#include "model/chunked_cross_entropy.h"
#include "model/dropout_masks.h"
#include "model/poet_model.h"
#include "model/precision_choice.h"
#include "test_support.h"

namespace poet {
namespace {

constexpr int64_t kVocab = 50;

ModelConfig small_config() {
  ModelConfig c;
  c.embed = 16;
  c.hidden = 32;
  c.layers = 2;
  c.dropout = 0.0;
  return c;
}

torch::Tensor some_tokens() { return torch::randint(kVocab, {4, 12}, torch::kInt64); }

// The summed loss over the tokens, through the training path (hidden states, then the chunked
// output layer and cross-entropy), with the gradients it leaves.
double train_loss(PoetModel& model, const torch::Tensor& tokens) {
  for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
  const torch::Tensor h = std::get<0>(model->hidden(tokens.narrow(1, 0, 11)));
  const torch::Tensor loss = chunked_linear_cross_entropy(h.reshape({-1, h.size(-1)}), model->output_weight(),
                                                          model->output_bias(), tokens.narrow(1, 1, 11).reshape({-1}));
  loss.backward();
  return loss.item<double>();
}

// The layers run a call each: in fp32, without dropout, that is exactly the LSTM module's
// multi-layer computation, from zeros or from a given state.
TEST(Precision, Fp32LayerByLayerIsTheLstmModulesOwnComputation) {
  ModelConfig config = small_config();
  config.dropout = 0.3;
  torch::manual_seed(5);
  PoetModel model(kVocab, config);
  model->eval();
  const torch::Tensor tokens = some_tokens();
  const LstmState state{torch::randn({2, 4, 32}), torch::randn({2, 4, 32})};
  torch::NoGradGuard no_grad;
  torch::nn::LSTM reference(torch::nn::LSTMOptions(16, 32).num_layers(2).batch_first(true));
  for (auto& p : reference->named_parameters()) p.value().copy_(model->named_parameters()["lstm." + p.key()]);
  const torch::Tensor x = torch::embedding(model->named_parameters()["embedding.weight"], tokens);
  for (const LstmState* given : {static_cast<const LstmState*>(nullptr), &state}) {
    auto [h, h_state] = model->hidden(tokens, given);
    auto [out, out_state] = given != nullptr ? reference->forward(x, *given) : reference->forward(x);
    EXPECT_EQ(h.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(h.equal(out)) << (given != nullptr ? "from a state" : "from zeros");
    EXPECT_TRUE(std::get<0>(h_state).equal(std::get<0>(out_state)));
    EXPECT_TRUE(std::get<1>(h_state).equal(std::get<1>(out_state)));
  }
  const ComputedDtypes seen = model->computed_dtypes();
  EXPECT_EQ(seen.lstm, torch::kFloat32);
  EXPECT_EQ(seen.output, torch::kFloat32);
}

// In training, the key's masks fall on the embedding (site 0), between the layers (site 1) and on
// the output (site 2), and nowhere else.
TEST(Dropout, TheKeysMasksFallOnEachSite) {
  ModelConfig config = small_config();
  config.dropout = 0.3;
  torch::manual_seed(5);
  PoetModel model(kVocab, config);
  const torch::Tensor tokens = some_tokens();  // (4, 12)
  const DropoutKey key{7, 3, torch::tensor({5, 0, 2, 9}, torch::kInt64)};
  torch::NoGradGuard no_grad;
  std::vector<torch::nn::LSTM> layers;
  for (int64_t l = 0; l < 2; ++l) {
    layers.emplace_back(torch::nn::LSTMOptions(l == 0 ? 16 : 32, 32).batch_first(true));
    for (auto& p : layers.back()->named_parameters()) {
      const std::string name = p.key().substr(0, p.key().size() - 1) + std::to_string(l);  // weight_ih_l0 -> _l1
      p.value().copy_(model->named_parameters()["lstm." + name]);
    }
  }
  const auto mask = [&](int64_t site, int64_t features) {
    return dropout_mask(key, site, 12, features, 0.3, torch::kFloat32);
  };
  torch::Tensor x = torch::embedding(model->named_parameters()["embedding.weight"], tokens) * mask(0, 16);
  x = std::get<0>(layers[0]->forward(x)) * mask(1, 32);
  const torch::Tensor expected = std::get<0>(layers[1]->forward(x)) * mask(2, 32);
  const torch::Tensor h = std::get<0>(model->hidden(tokens, nullptr, &key));
  EXPECT_LT((h - expected).abs().max().item<double>(), 1e-6);
  EXPECT_GT((h == 0).to(torch::kFloat32).mean().item<double>(), 0.2);  // the output's mask, dropping 30%
  // Without a key, training with dropout is refused rather than drawn from a generator.
  EXPECT_NE(test::error_of([&] { model->hidden(tokens); }).find("needs a DropoutKey"), std::string::npos);
  model->eval();
  EXPECT_NO_THROW(model->hidden(tokens));
}

TEST(Precision, Bf16RunsTheLstmAndOutputLayerInBf16OnFp32Weights) {
  torch::manual_seed(5);
  PoetModel model(kVocab, small_config());
  const torch::Tensor tokens = some_tokens();
  const double fp32_loss = train_loss(model, tokens);
  std::vector<torch::Tensor> fp32_grads;
  for (const auto& p : model->parameters()) fp32_grads.push_back(p.grad().clone());

  model->set_precision(mixed_precision(torch::kCPU));
  const ComputedDtypes seen = model->computed_dtypes();
  EXPECT_EQ(seen.weights, torch::kFloat32);
  EXPECT_EQ(seen.lstm, torch::kBFloat16);
  EXPECT_EQ(seen.output, torch::kBFloat16);
  EXPECT_EQ(seen.describe(), "LSTM bf16, output layer bf16, softmax and loss fp32, weights and AdamW fp32");
  EXPECT_EQ(std::get<0>(model->forward(tokens)).scalar_type(), torch::kFloat32);  // logits for sampling

  const double bf16_loss = train_loss(model, tokens);
  EXPECT_NE(bf16_loss, fp32_loss);  // it did compute in another precision
  EXPECT_NEAR(bf16_loss, fp32_loss, 0.01 * fp32_loss);
  const auto parameters = model->parameters();
  for (size_t i = 0; i < parameters.size(); ++i) {
    const torch::Tensor& g = parameters[i].grad();
    ASSERT_TRUE(g.defined());
    EXPECT_EQ(g.scalar_type(), torch::kFloat32);  // gradients reach the fp32 weights
    const double cosine = (g * fp32_grads[i]).sum().item<double>() / (g.norm() * fp32_grads[i].norm()).item<double>();
    EXPECT_GT(cosine, 0.99) << "parameter " << i;
  }
}

TEST(PrecisionChoice, AutoIsBf16OnCudaAndOnCpusWithNativeBf16) {
  const torch::Device cpu(torch::kCPU);
  const PrecisionChoice native = choose_precision("auto", cpu, "AVX512-BF16");
  EXPECT_EQ(native.precision.lstm, torch::kBFloat16);
  EXPECT_EQ(native.precision.output, torch::kBFloat16);
  EXPECT_EQ(native.reason, "bf16: run.precision auto, and this CPU has AVX512-BF16");
  const PrecisionChoice emulated = choose_precision("auto", cpu, "");
  EXPECT_EQ(emulated.precision.lstm, torch::kFloat32);
  EXPECT_EQ(emulated.precision.output, torch::kFloat32);
  EXPECT_EQ(emulated.reason, "fp32: run.precision auto, and this CPU has no native bf16 units");
  const PrecisionChoice cuda = choose_precision("auto", torch::Device(torch::kCUDA, 0), "");
  EXPECT_EQ(cuda.precision.lstm, torch::kFloat32);  // cuDNN's TF32 LSTM (see mixed_precision)
  EXPECT_EQ(cuda.precision.output, torch::kBFloat16);
  // Named settings are kept, with a word where bf16 would be emulated.
  EXPECT_EQ(choose_precision("fp32", cpu, "AMX-BF16").precision.output, torch::kFloat32);
  const PrecisionChoice asked = choose_precision("bf16", cpu, "");
  EXPECT_EQ(asked.precision.lstm, torch::kBFloat16);
  EXPECT_NE(asked.reason.find("emulated"), std::string::npos) << asked.reason;
  EXPECT_THROW(choose_precision("fp16", cpu, ""), Error);
}

// /proc/cpuinfo is the kernel's own reading of CPUID and of the registers it enabled.
TEST(PrecisionChoice, ReadsTheProcessorsBf16UnitsAsTheKernelDoes) {
#if !defined(__x86_64__) && !defined(__i386__)
  GTEST_SKIP() << "native_bf16_units() probes x86 processors only";
#endif
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line) && line.rfind("flags", 0) != 0) {
  }
  ASSERT_FALSE(line.empty()) << "no flags line in /proc/cpuinfo";
  line += " ";
  const std::string units = native_bf16_units();
  EXPECT_EQ(units.find("AVX512-BF16") != std::string::npos, line.find(" avx512_bf16 ") != std::string::npos) << units;
  EXPECT_EQ(units.find("AMX-BF16") != std::string::npos, line.find(" amx_bf16 ") != std::string::npos) << units;
}

TEST(Precision, OnlyFp32AndBf16) {
  PoetModel model(kVocab, small_config());
  EXPECT_THROW(model->set_precision({torch::kFloat16, torch::kFloat32}), Error);
  EXPECT_THROW(model->set_precision({torch::kFloat32, torch::kFloat64}), Error);
}

// A checkpoint of a model one AdamW step from its initialisation.
std::string trained_checkpoint(const test::ScratchDir& dir, PoetModel& model) {
  torch::manual_seed(7);
  model = PoetModel(kVocab, small_config());
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-2));
  train_loss(model, some_tokens());
  optimizer.step();
  const std::string path = dir / "ckpt-00000001.pt";
  save_checkpoint(path, model, &optimizer, CheckpointMeta{});
  return path;
}

TEST(Checkpoint, RestoreCopiesIntoTheModelsOwnTensors) {
  test::ScratchDir dir;
  PoetModel saved{nullptr};
  const std::string path = trained_checkpoint(dir, saved);
  PoetModel model(kVocab, small_config());
  std::vector<const void*> storage;
  for (const auto& p : model->parameters()) storage.push_back(p.data_ptr());
  LoadedCheckpoint(path).restore_model(model);
  const auto restored = model->parameters();
  const auto expected = saved->parameters();
  for (size_t i = 0; i < restored.size(); ++i) {
    // The optimizer and the gradient buckets hold these tensors: they must stay where they are.
    EXPECT_EQ(restored[i].data_ptr(), storage[i]) << "parameter " << i;
    EXPECT_TRUE(restored[i].equal(expected[i])) << "parameter " << i;
  }
}

TEST(Checkpoint, ModelAndOptimizerStateTakeTheParametersOptions) {
  test::ScratchDir dir;
  PoetModel saved{nullptr};
  const std::string path = trained_checkpoint(dir, saved);
  PoetModel model(kVocab, small_config());
  model->to(torch::kFloat64);
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-2));
  LoadedCheckpoint checkpoint(path);
  checkpoint.restore_model(model);
  checkpoint.restore_optimizer(optimizer);
  const auto restored = model->parameters();
  const auto expected = saved->parameters();
  for (size_t i = 0; i < restored.size(); ++i) {
    EXPECT_EQ(restored[i].scalar_type(), torch::kFloat64);
    EXPECT_TRUE(restored[i].to(torch::kFloat32).equal(expected[i])) << "parameter " << i;
  }
  ASSERT_EQ(optimizer.state().size(), model->parameters().size());
  for (const auto& entry : optimizer.state()) {
    const auto& state = static_cast<const torch::optim::AdamWParamState&>(*entry.second);
    EXPECT_EQ(state.exp_avg().scalar_type(), torch::kFloat64);
    EXPECT_EQ(state.exp_avg_sq().scalar_type(), torch::kFloat64);
    EXPECT_EQ(state.step(), 1);
  }
}

TEST(Checkpoint, WeightsOfAnotherShapeNameTheTensor) {
  test::ScratchDir dir;
  PoetModel saved{nullptr};
  const std::string path = trained_checkpoint(dir, saved);
  ModelConfig wider = small_config();
  wider.hidden = 40;
  PoetModel model(kVocab, wider);
  try {
    LoadedCheckpoint(path).restore_model(model);
    FAIL() << "restored weights of another shape";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": model weights do not fit: lstm.weight_ih_l0 is [128, 16] in the "
                                                "checkpoint and [160, 16] in this model"),
              std::string::npos)
        << e.what();
  }
}

// On a GPU machine (scripts/gpu-check.sh): a checkpoint written from CUDA loads into a CPU model,
// and one written on the CPU restores into a CUDA model and optimizer, which stay on CUDA.
TEST(Checkpoint, CudaCheckpointsLoadOnTheCpuAndBack) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  test::ScratchDir dir;
  torch::manual_seed(7);
  PoetModel on_gpu(kVocab, small_config());
  on_gpu->to(torch::kCUDA);
  torch::optim::AdamW gpu_optimizer(on_gpu->parameters(), torch::optim::AdamWOptions(1e-2));
  train_loss(on_gpu, some_tokens().to(torch::kCUDA));
  gpu_optimizer.step();
  save_checkpoint(dir / "gpu.pt", on_gpu, &gpu_optimizer, CheckpointMeta{});
  PoetModel on_cpu(kVocab, small_config());
  LoadedCheckpoint(dir / "gpu.pt").restore_model(on_cpu);
  const auto cpu_parameters = on_cpu->parameters();
  const auto gpu_parameters = on_gpu->parameters();
  for (size_t i = 0; i < cpu_parameters.size(); ++i) {
    EXPECT_TRUE(cpu_parameters[i].device().is_cpu());
    EXPECT_TRUE(cpu_parameters[i].equal(gpu_parameters[i].cpu())) << "parameter " << i;
  }

  PoetModel saved{nullptr};
  const std::string cpu_checkpoint = trained_checkpoint(dir, saved);
  PoetModel model(kVocab, small_config());
  model->to(torch::kCUDA);
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-2));
  LoadedCheckpoint checkpoint(cpu_checkpoint);
  checkpoint.restore_model(model);
  checkpoint.restore_optimizer(optimizer);
  for (const auto& p : model->parameters()) EXPECT_TRUE(p.is_cuda());
  for (const auto& entry : optimizer.state()) {
    const auto& state = static_cast<const torch::optim::AdamWParamState&>(*entry.second);
    EXPECT_TRUE(state.exp_avg().is_cuda());
    EXPECT_TRUE(state.exp_avg_sq().is_cuda());
  }
  train_loss(model, some_tokens().to(torch::kCUDA));
  optimizer.step();  // AdamW's step fails on state left on another device
}

// On a GPU machine: mixed precision is what it says (autocast's cuDNN LSTM computed in fp16),
// and a layer's weights sit in a cuDNN buffer of their own after to().
TEST(Precision, CudaMixedPrecisionComputesWhatItSays) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  PoetModel model(kVocab, small_config());
  model->to(torch::kCUDA);
  model->set_precision(mixed_precision(torch::kCUDA));
  const ComputedDtypes seen = model->computed_dtypes();
  EXPECT_EQ(seen.weights, torch::kFloat32);
  EXPECT_EQ(seen.lstm, torch::kFloat32);
  EXPECT_EQ(seen.output, torch::kBFloat16);
  const auto p = model->named_parameters();
  EXPECT_TRUE(p["lstm.weight_ih_l0"].is_alias_of(p["lstm.bias_hh_l0"]));
  EXPECT_FALSE(p["lstm.weight_ih_l0"].is_alias_of(p["lstm.weight_ih_l1"]));
}

}  // namespace
}  // namespace poet
