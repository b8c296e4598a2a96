// checkpoint_diff A.pt B.pt [--tolerance X]: the largest absolute difference between two
// checkpoints' parameters, printed; exits 1 when it is above X (default 0: identical) or the
// models differ in shape. scripts/gpu-check.sh compares the NCCL and MPI backends' runs, and a
// resumed run with an uninterrupted one, with it.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <string>

#include "common/error.h"
#include "config/train_config.h"
#include "model/checkpoint.h"
#include "model/poet_model.h"

namespace {

poet::PoetModel load(const std::string& path) {
  poet::LoadedCheckpoint checkpoint(path);
  const poet::TrainConfig config = poet::parse_train_config(checkpoint.meta().config_toml, path);
  poet::PoetModel model(static_cast<int64_t>(checkpoint.meta().vocab_tokens.size()), config.model);
  checkpoint.restore_model(model);
  return model;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The largest parameter difference between two poet_dist checkpoints"};
  std::string a;
  std::string b;
  double tolerance = 0;
  app.add_option("a", a, "Checkpoint")->required();
  app.add_option("b", b, "Checkpoint")->required();
  app.add_option("--tolerance", tolerance, "Largest absolute difference accepted")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    const auto pa = load(a)->named_parameters();
    const auto pb = load(b)->named_parameters();
    double largest = 0;
    std::string where = "(none)";
    for (const auto& p : pa) {
      const torch::Tensor& other = pb[p.key()];
      if (!other.sizes().equals(p.value().sizes())) throw poet::Error(p.key() + " differs in shape");
      const double d = (p.value() - other).abs().max().item<double>();
      if (d > largest) {
        largest = d;
        where = p.key();
      }
    }
    std::printf("largest parameter difference %.3g (%s); tolerance %.3g: %s\n", largest, where.c_str(), tolerance,
                largest <= tolerance ? "within" : "ABOVE");
    return largest <= tolerance ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "checkpoint_diff: error: %s\n", e.what());
    return 2;
  }
}
