// The configuration of a run from its options, and train(): a TrainingRun, built and run.
#include "trainer/trainer.h"

#include <filesystem>

#include "common/error.h"
#include "trainer/training_run.h"

namespace poet {

namespace {

// Sizes for --debug when no config file is given; a file's own values win over these.
const std::vector<std::string> kDebugDefaults = {"data.seq_len=32",   "data.batch_size=8",   "model.embed=64",
                                                 "model.hidden=128",  "model.layers=1",      "run.steps=100",
                                                 "run.eval_every=50", "run.sample_every=50", "run.checkpoint_every=50"};

}  // namespace

TrainConfig resolve_train_config(const TrainOptions& options) {
  std::vector<std::string> overrides;
  if (options.debug) {
    if (options.config_file.empty()) overrides = kDebugDefaults;
    overrides.push_back("run.log_every=1");
  }
  overrides.insert(overrides.end(), options.overrides.begin(), options.overrides.end());
  // Absolute, so that sample, evaluate and report find the dataset from any folder later.
  if (!options.data.empty()) {
    overrides.push_back("data.path=\"" + std::filesystem::absolute(options.data).string() + "\"");
  }
  TrainConfig config = load_train_config(options.config_file, overrides);
  if (config.data.path.empty()) throw Error("no dataset: give --data FILE (written by poet_dist prepare)");
  if (options.run_dir.empty()) throw Error("no run directory: give --run-dir DIR");
  return config;
}

TrainResult train(const TrainOptions& options, const TrainConfig& config, Communicator& comm, std::ostream& out) {
  TrainingRun run(options, config, comm, out);
  return run.train();
}

}  // namespace poet
