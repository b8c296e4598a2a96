// The fixture of the tests that run poet_dist train under mpiexec: a small dataset, Open MPI's
// environment for root and containers, the command line of a job, and what runs are compared by
// (each step's loss and gradient norm, the parameters of the last checkpoint).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "config/train_config.h"
#include "model/checkpoint.h"
#include "test_support.h"

namespace poet::test {

class DistributedJob : public ::testing::Test {
 protected:
  void SetUp() override {
    write_fixture_dataset(dir_ / "d.h5", 120, /*val_fraction=*/0.2);
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 1);
  }

  // `mpiexec -np NP poet_dist train` of configs/tiny.toml for `steps` steps into run dir `run`.
  std::string command(int np, const std::string& run, const std::string& extra = "", int steps = 20,
                      const std::string& data = "d.h5") {
    return std::string(POET_MPIEXEC) + " -np " + std::to_string(np) + " --oversubscribe " + POET_BINARY +
           " train --config " + POET_SOURCE_DIR + "/configs/tiny.toml --data " + (dir_ / data) + " --run-dir " +
           (dir_ / run) + " --set run.steps=" + std::to_string(steps) + " --set run.threads=1 --backend mpi " + extra;
  }

  CommandResult train(int np, const std::string& run, const std::string& extra = "") {
    return run_command(command(np, run, extra));
  }

  // Every parameter of run `run`'s checkpoint at step 20, by name.
  std::vector<std::pair<std::string, torch::Tensor>> parameters(const std::string& run) {
    LoadedCheckpoint ckpt(dir_ / (run + "/checkpoints/ckpt-00000020.pt"));
    const TrainConfig config = parse_train_config(ckpt.meta().config_toml, run);
    PoetModel model(static_cast<int64_t>(ckpt.meta().vocab_tokens.size()), config.model);
    ckpt.restore_model(model);
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& item : model->named_parameters()) out.emplace_back(item.key(), item.value().detach().clone());
    return out;
  }

  ScratchDir dir_;
};

inline double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).norm().item<double>() / std::max(a.norm().item<double>(), 1e-30);
}

// Each step's loss and gradient norm (before clipping), from a run's metrics.jsonl.
inline std::vector<std::pair<double, double>> step_losses_and_norms(const std::filesystem::path& run) {
  std::vector<std::pair<double, double>> steps;
  std::istringstream lines(read_text(run / "metrics.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    const auto record = nlohmann::json::parse(line);
    steps.emplace_back(record["loss"].get<double>(), record["grad_norm"].get<double>());
  }
  return steps;
}

}  // namespace poet::test
