// One training run as an object: set-up in the constructor, then train() — a short loop that
// hands each concern to a named method (the step, and the decisions to evaluate, sample and
// checkpoint), as torchtitan's Trainer.train() does. Every rank builds one; rank 0 alone prints
// and writes the run directory.
#pragma once

#include <torch/optim/adamw.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "common/chrome_trace.h"
#include "common/progress_display.h"
#include "config/train_config.h"
#include "data/dataset_file.h"
#include "data/verse_rules.h"
#include "model/batch_stream.h"
#include "model/poet_model.h"
#include "model/precision_choice.h"
#include "trainer/gradient_reducer.h"
#include "trainer/run_directory.h"
#include "trainer/trainer.h"

namespace poet {

class TrainingRun {
 public:
  TrainingRun(const TrainOptions& options, const TrainConfig& config, Communicator& comm, std::ostream& console);
  TrainResult train();

 private:
  using Clock = std::chrono::steady_clock;

  // Where training stands: what a checkpoint records, and a resumed run continues from.
  struct Position {
    int64_t step = 0;
    int64_t epoch = 0;
    int64_t batch_in_epoch = 0;
    int64_t tokens_seen = 0;
    double elapsed_before = 0;  // seconds trained before this process started
  };
  // What one optimizer step measured and decided, the same on every rank.
  struct StepResult {
    double loss = 0;
    double lr = 0;
    double grad_norm = 0;
    double seconds = 0;
    double comm_seconds = 0;
    double elapsed = 0;              // seconds trained in all, at the end of this step
    bool stop_requested = false;     // a signal reached some rank
    bool requeue_requested = false;  // ... and it asks for the job to be requeued
  };

  // Set-up (training_run_setup.cpp).
  std::vector<int64_t> shards_of(Split split, int rank) const;
  void check_same_model_on_every_rank();
  void broadcast_weights();
  void resume();
  // Each rank's host and local rank, gathered once for ranks.json and the summary.
  struct Placement {
    std::vector<std::string> hosts;
    std::vector<int64_t> local_ranks;
  };
  void write_rank_summary(const Placement& placement);
  void print_summary(const Placement& placement);

  // The loop's parts (training_run.cpp).
  StepResult step();
  ChromeTrace* step_trace() const;  // the trace while the first steps run, else null
  void accumulate_micro_batches(StepResult& s);
  void reduce_across_ranks(StepResult& s);
  void apply_update(const StepResult& s);
  bool should_evaluate() const;
  double evaluate();
  void record(const StepResult& s, double val_loss);
  void keep_if_best(double val_loss, double elapsed);
  bool should_sample() const;
  void write_samples();
  bool overfit_reached(const StepResult& s);
  bool should_stop(const StepResult& s) const;
  bool should_checkpoint(const StepResult& s) const;
  CheckpointMeta checkpoint_meta(double val_loss, double elapsed) const;
  void finish(const TrainResult& result);

  const TrainOptions& options_;
  const TrainConfig& config_;
  Communicator& comm_;
  const bool root_;
  std::ostream silent_{nullptr};
  std::ostream& out_;  // the console on rank 0, nothing elsewhere
  const int threads_;
  const int64_t tokens_per_step_;  // global batch x sequence x micro-batches
  DatasetFile dataset_;
  const std::string script_;  // of the dataset's text, recorded in checkpoints
  BatchStream train_data_;
  BatchStream val_data_;
  const PrecisionChoice precision_;  // run.precision on this rank's device; every rank's alike
  PoetModel model_;
  torch::optim::AdamW optimizer_;
  std::unique_ptr<ChromeTrace> trace_;  // --trace, on rank 0
  GradientReducer reducer_;
  RunDirectory run_dir_;
  ProgressDisplay progress_;
  std::unique_ptr<VerseRules> verse_rules_;  // for samples, read when first needed

  Position position_;
  std::string resumed_from_;
  double best_val_loss_;
  int64_t first_step_ = 0;
  int64_t nonfinite_steps_ = 0;
  Clock::time_point start_;
  Clock::time_point interval_start_;
  int64_t interval_tokens_ = 0;
};

}  // namespace poet
