// `poet_dist train`: the training loop — forward, backward, gradient all-reduce across ranks,
// clip, AdamW step — with validation, samples, metrics and checkpoints in the run directory.
// Under mpirun each rank reads only its own shards (shard s belongs to rank s mod N) and the
// global batch is the same at any world size (model/batch_stream.h). The run itself is
// trainer/training_run.h; this is its entry point.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "config/train_config.h"

namespace poet {

struct TrainOptions {
  std::string config_file;             // TOML; empty: the built-in defaults
  std::vector<std::string> overrides;  // "section.key=value", applied last
  std::string data;                    // overrides data.path when set
  std::string run_dir;
  std::string resume;             // "", "auto" or a checkpoint path
  bool debug = false;             // small sizes, anomaly detection, a line every step
  bool overfit_batch = false;     // train on the first batch only, until the loss is near zero
  int64_t stop_after_steps = 0;   // > 0: checkpoint and stop after this many steps of this run
  std::string trace_path;         // a Chrome trace of rank 0's first steps, when set
  int requeue_signal = 0;         // a stop by this signal or SIGTERM asks for a requeue (0: never)
  std::string progress = "auto";  // auto, bar or plain (common/progress_display.h)
};

struct TrainResult {
  int64_t step = 0;  // steps completed
  double last_loss = 0;
  double last_val_loss = 0;  // NaN if never measured
  bool interrupted = false;  // stopped by a signal after writing a checkpoint
  bool requeue = false;      // ... and the signal asked for the job to be requeued
};

// The loss at which --overfit-batch declares success.
constexpr double kOverfitLoss = 0.05;

// The run's configuration: built-in defaults (smaller with --debug), the config file, --set
// overrides and --data. Throws poet::Error without a dataset or a run directory.
TrainConfig resolve_train_config(const TrainOptions& options);

// Every rank calls train() with the job's communicator (a LocalCommunicator for one process),
// which also says where to compute. Rank 0 alone prints, and writes the run directory.
TrainResult train(const TrainOptions& options, const TrainConfig& config, Communicator& comm, std::ostream& out);

}  // namespace poet
