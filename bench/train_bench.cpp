// train_bench: poet_dist's training step (forward, backward, clip, AdamW) on the homework's
// model — embedding 128, hidden 256, 2 layers, batch 128, rows of 125 — over packed rows of the
// real dataset, printing tokens/s (median of the timed steps), the achieved FLOP rate, and a
// LibTorch matrix product's FLOP rate on the same machine for scale. It runs the trainer's own
// step functions (trainer/train_step.h), without the gradient buckets that `poet_dist train`
// adds for one process too (a LocalCommunicator's complete at once; a test shows they change no
// value). bench/train_bench.sh runs it beside the same model in PyTorch's Python API.
#include <torch/cuda.h>
#include <torch/optim/adamw.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "common/error.h"
#include "data/dataset_file.h"
#include "model/batch_stream.h"
#include "model/poet_model.h"
#include "model/torch_threads.h"
#include "trainer/train_step.h"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double matmul_gflops(int64_t n, int repeats) {
  const torch::Tensor a = torch::randn({n, n});
  const torch::Tensor b = torch::randn({n, n});
  torch::Tensor c = torch::mm(a, b);
  std::vector<double> seconds;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    c = torch::mm(a, b);
    seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  return 2.0 * static_cast<double>(n * n * n) / median(seconds) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"poet_dist training throughput on the homework model"};
  std::string data;
  int64_t batch = 128;
  int64_t seq_len = 125;
  int warmup = 2;
  int steps = 10;
  std::string device_name = "cpu";
  bool bf16 = false;
  app.add_option("--device", device_name, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  app.add_flag("--bf16", bf16, "The LSTM under CUDA bf16 autocast, as poet_dist train does on a GPU");
  app.add_option("--data", data, "Dataset written by poet_dist prepare")->required();
  app.add_option("--batch", batch, "Rows a step")->capture_default_str();
  app.add_option("--seq-len", seq_len, "Characters a row")->capture_default_str();
  app.add_option("--warmup", warmup, "Untimed steps")->capture_default_str();
  app.add_option("--steps", steps, "Timed steps")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    const int threads = poet::configure_torch_threads(0);
    torch::manual_seed(1);
    const poet::DatasetFile file(data);
    std::vector<int64_t> shards(file.read_index(poet::Split::kTrain).shard_offsets.size() - 1);
    for (size_t s = 0; s < shards.size(); ++s) shards[s] = static_cast<int64_t>(s);
    poet::BatchStream stream(file, poet::Split::kTrain, shards, seq_len, batch, 1, true);

    poet::ModelConfig config;
    config.embed = 128;
    config.hidden = 256;
    config.layers = 2;
    config.dropout = 0.0;
    poet::PoetModel model(static_cast<int64_t>(file.vocab().size()), config);
    const torch::Device device(device_name == "cuda" ? torch::kCUDA : torch::kCPU);
    const bool cuda = device.is_cuda();
    if (cuda && !torch::cuda::is_available()) throw poet::Error("--device cuda: LibTorch sees no CUDA device");
    model->to(device);
    torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-3));
    std::vector<double> seconds;
    for (int s = 0; s < warmup + steps; ++s) {
      const poet::Batch b = stream.batch(0, s % stream.batches_per_epoch());
      const auto start = Clock::now();
      poet::clear_gradients(model);
      poet::forward_backward(model, b, device, static_cast<double>(b.global_targets), bf16);
      poet::clip_gradients(model, 1.0);
      optimizer.step();
      if (cuda) torch::cuda::synchronize();
      if (s >= warmup) seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    const double tokens_per_s = static_cast<double>(batch * seq_len) / median(seconds);
    // Training costs about three forward passes (forward, and backward for inputs and weights).
    const double gflops = 3.0 * 2.0 * model->forward_macs_per_token() * tokens_per_s / 1e9;
    const std::string where =
        cuda ? std::string("cuda") + (bf16 ? " bf16" : " fp32") : std::to_string(threads) + " threads";
    std::printf("poet_dist packed      %s  batch %lld x %lld  %.0f tokens/s (median of %d steps)\n", where.c_str(),
                static_cast<long long>(batch), static_cast<long long>(seq_len), tokens_per_s, steps);
    if (!cuda) {
      const double peak = matmul_gflops(1024, 10);
      std::printf("poet_dist flops       %.1f GFLOP/s achieved; LibTorch 1024x1024 matmul %.1f GFLOP/s (%.0f%%)\n",
                  gflops, peak, 100.0 * gflops / peak);
    }
    std::printf("RESULT cpp_tokens_per_s=%.1f\n", tokens_per_s);
  } catch (const poet::Error& e) {
    std::fprintf(stderr, "train_bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
