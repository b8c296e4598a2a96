// train_bench: poet_dist's training step (forward, backward, clip, AdamW) over packed rows of a
// dataset, on the homework's model (embedding 128, hidden 256, 2 layers, no dropout, batch 128,
// rows of 125) or, with --config configs/NAME.toml, on that config's model and batch. Prints
// tokens/s (median of the timed steps), what each part computed in, the achieved FLOP rate, and
// a LibTorch matrix product's FLOP rate on the same machine for scale. It runs the trainer's own
// step functions (trainer/train_step.h), without the gradient buckets that `poet_dist train`
// adds for one process too (a LocalCommunicator's complete at once; a test shows they change no
// value). bench/train_bench.sh runs it beside the same model in PyTorch's Python API
// (bench/train_bench_python.py, which takes the same options).
#include <torch/cuda.h>
#include <torch/optim/adamw.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/memory_reuse.h"
#include "config/train_config.h"
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

// In the output layer's dtype: bf16 products have their own, higher peak.
double matmul_gflops(int64_t n, int repeats, torch::ScalarType dtype) {
  const torch::Tensor a = torch::randn({n, n}, dtype);
  const torch::Tensor b = torch::randn({n, n}, dtype);
  torch::Tensor c = torch::mm(a, b);
  std::vector<double> seconds;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    c = torch::mm(a, b);
    seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  return 2.0 * static_cast<double>(n * n * n) / median(seconds) / 1e9;
}

// The model and batch timed without --config: the homework's.
poet::TrainConfig homework_config() {
  poet::TrainConfig c;
  c.model.embed = 128;
  c.model.hidden = 256;
  c.model.layers = 2;
  c.model.dropout = 0.0;
  c.model.tie_weights = false;
  c.data.batch_size = 128;
  c.data.seq_len = 125;
  return c;
}

// "homework model: embed 128, ..." — bench/train_bench_python.py prints the same words.
std::string describe(const std::string& name, const poet::ModelConfig& m) {
  std::ostringstream out;
  out << name << ": embed " << m.embed << ", hidden " << m.hidden << ", " << m.layers << " layers, dropout "
      << m.dropout << ", " << (m.tie_weights ? "tied" : "untied");
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  poet::keep_freed_memory();  // as poet_dist's main() does
  CLI::App app{"poet_dist training throughput on the homework's model or a config's"};
  std::string data;
  std::string config_file;
  int64_t batch = 0;
  int64_t seq_len = 0;
  int warmup = 2;
  int steps = 10;
  std::string device_name = "cpu";
  bool bf16 = false;
  app.add_option("--device", device_name, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  app.add_flag("--bf16", bf16, "Mixed precision, as run.precision bf16 (the compute line says what ran in bf16)");
  app.add_option("--data", data, "Dataset written by poet_dist prepare")->required();
  app.add_option("--config", config_file, "A poet_dist config (configs/NAME.toml): its model and batch");
  auto* batch_option = app.add_option("--batch", batch, "Rows a step (default: 128, or the config's data.batch_size)")
                           ->check(CLI::PositiveNumber);
  auto* seq_len_option =
      app.add_option("--seq-len", seq_len, "Characters a row (default: 125, or the config's data.seq_len)")
          ->check(CLI::Range(int64_t{2}, std::numeric_limits<int64_t>::max()));
  app.add_option("--warmup", warmup, "Untimed steps")->capture_default_str();
  app.add_option("--steps", steps, "Timed steps")->check(CLI::PositiveNumber)->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    poet::TrainConfig config = config_file.empty() ? homework_config() : poet::load_train_config(config_file, {});
    if (*batch_option) config.data.batch_size = batch;
    if (*seq_len_option) config.data.seq_len = seq_len;
    const int threads = poet::configure_torch_threads(0);
    torch::manual_seed(1);
    const poet::DatasetFile file(data);
    std::vector<int64_t> shards(file.read_index(poet::Split::kTrain).shard_offsets.size() - 1);
    for (size_t s = 0; s < shards.size(); ++s) shards[s] = static_cast<int64_t>(s);
    poet::BatchStream stream(file, poet::Split::kTrain, shards, config.data.seq_len, config.data.batch_size, 1, true);
    stream.require_a_batch(data, !config_file.empty() && !*batch_option
                                     ? "data.batch_size of " + config_file + "; lower it with --batch"
                                     : "lower --batch");

    poet::PoetModel model(static_cast<int64_t>(file.vocab().size()), config.model);
    const torch::Device device(device_name == "cuda" ? torch::kCUDA : torch::kCPU);
    const bool cuda = device.is_cuda();
    if (cuda && !torch::cuda::is_available()) throw poet::Error("--device cuda: LibTorch sees no CUDA device");
    model->to(device);
    model->set_precision(bf16 ? poet::mixed_precision(device) : poet::Precision{});
    torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-3));
    std::vector<double> seconds;
    for (int s = 0; s < warmup + steps; ++s) {
      const poet::Batch b = stream.batch(0, s % stream.batches_per_epoch());
      const auto start = Clock::now();
      poet::clear_gradients(model);
      poet::forward_backward(model, b, device, static_cast<double>(b.global_targets), {config.run.seed, s, b.rows});
      poet::clip_gradients(model, 1.0);
      optimizer.step();
      if (cuda) torch::cuda::synchronize();
      if (s >= warmup) seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    const int64_t tokens_per_step = config.data.batch_size * config.data.seq_len;
    const double tokens_per_s = static_cast<double>(tokens_per_step) / median(seconds);
    // Training costs about three forward passes (forward, and backward for inputs and weights).
    const double gflops = 3.0 * 2.0 * model->forward_macs_per_token() * tokens_per_s / 1e9;
    const std::string where = cuda ? "cuda" : "cpu " + std::to_string(threads) + " threads";
    const std::string model_name = config_file.empty() ? "homework model" : config_file;
    std::printf("poet_dist packed      %s  %s  batch %lld x %lld  %.0f tokens/s (median of %d steps)\n", where.c_str(),
                describe(model_name, config.model).c_str(), static_cast<long long>(config.data.batch_size),
                static_cast<long long>(config.data.seq_len), tokens_per_s, steps);
    std::printf("poet_dist compute     %s\n", model->computed_dtypes().describe().c_str());
    if (!cuda) {
      const double peak = matmul_gflops(1024, 10, model->precision().output);
      std::printf("poet_dist flops       %.1f GFLOP/s achieved; LibTorch 1024x1024 %s matmul %.1f GFLOP/s (%.0f%%)\n",
                  gflops, bf16 ? "bf16" : "fp32", peak, 100.0 * gflops / peak);
    }
    std::printf("RESULT cpp_tokens_per_s=%.1f\n", tokens_per_s);
  } catch (const poet::Error& e) {
    std::fprintf(stderr, "train_bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
