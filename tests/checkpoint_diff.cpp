// checkpoint_diff A.pt B.pt [--tolerance X]: the largest absolute difference between two
// checkpoints' parameters, printed; exits 1 when it is above X (default 0: identical), when a
// difference is not finite (a NaN or an infinity in either checkpoint, each such tensor named),
// or when the models differ in shape; 2 when a file cannot be read. scripts/gpu-check.sh compares
// the NCCL and MPI backends' runs, and a resumed run with an uninterrupted one, with it.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

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

bool all_finite(const torch::Tensor& t) { return torch::isfinite(t).all().item<bool>(); }

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
    // A NaN compares false with everything, so `d > largest` alone would pass it over in silence.
    std::vector<std::string> not_finite;
    for (const auto& p : pa) {
      const torch::Tensor& other = pb[p.key()];
      if (!other.sizes().equals(p.value().sizes())) throw poet::Error(p.key() + " differs in shape");
      const double d = (p.value() - other).abs().max().item<double>();
      if (!std::isfinite(d)) {
        const bool in_a = !all_finite(p.value());
        const bool in_b = !all_finite(other);
        not_finite.push_back(p.key() + (in_a && in_b ? " (NaN or infinity in both)"
                                        : in_a       ? " (NaN or infinity in " + a + ")"
                                        : in_b       ? " (NaN or infinity in " + b + ")"
                                                     : " (the difference overflows)"));
      } else if (d > largest) {
        largest = d;
        where = p.key();
      }
    }
    const bool within = not_finite.empty() && largest <= tolerance;
    std::printf("largest parameter difference %.3g (%s); tolerance %.3g: %s\n", largest, where.c_str(), tolerance,
                !not_finite.empty() ? "NOT FINITE"
                : within            ? "within"
                                    : "ABOVE");
    for (const std::string& name : not_finite) std::printf("not finite: %s\n", name.c_str());
    return within ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "checkpoint_diff: error: %s\n", e.what());
    return 2;
  }
}
