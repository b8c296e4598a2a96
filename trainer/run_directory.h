// The run directory and everything training writes there:
//   config.toml           the effective configuration
//   ranks.json            which shards each rank read, and how many tokens
//   metrics.jsonl         one JSON record a step
//   samples.txt           the poems written during training
//   checkpoints/ckpt-NNNNNNNN.pt   the newest run.keep_checkpoints of them
//   checkpoints/best.pt   the lowest validation loss so far
// Rank 0 alone writes: on the other ranks the writing methods do nothing, so the loop calls them
// on every rank alike. Every rank reads checkpoints.
#pragma once

#include <torch/optim/optimizer.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/checkpoint.h"

namespace poet {

class RunDirectory {
 public:
  // The writer creates the folders and removes the temporary files that a killed writer left
  // behind (a checkpoint's is tens of megabytes); removed_temp_files() names them.
  RunDirectory(const std::string& path, bool writer, int64_t keep_checkpoints);

  const std::filesystem::path& path() const { return path_; }
  std::string checkpoint_dir() const { return (path_ / "checkpoints").string(); }
  const std::vector<std::string>& removed_temp_files() const { return removed_; }

  void write_config(const std::string& toml) const;
  void write_ranks(const nlohmann::json& ranks) const;
  // Opens metrics.jsonl and samples.txt for this run. A resumed run keeps the metrics of the steps
  // up to `resumed_step` and rewrites what came after; a new run (`resumed` false) starts both.
  void open_logs(bool resumed, int64_t resumed_step);
  void append_metrics(const nlohmann::json& record);
  void append_sample(const std::string& line);

  // Checkpoint files, newest step first.
  std::vector<std::string> checkpoints() const;
  // The validation loss best.pt was saved at; infinity when there is none. A best.pt that does
  // not verify is reported through `warning` and ignored.
  double best_val_loss(std::string* warning) const;
  // Writes ckpt-<step>.pt and removes the oldest beyond run.keep_checkpoints.
  void save_numbered(PoetModel& model, const torch::optim::Optimizer& optimizer, const CheckpointMeta& meta) const;
  void save_best(PoetModel& model, const torch::optim::Optimizer& optimizer, const CheckpointMeta& meta) const;

 private:
  std::filesystem::path path_;
  bool writer_;
  int64_t keep_checkpoints_;
  std::vector<std::string> removed_;
  std::ofstream metrics_;
  std::ofstream samples_;
};

}  // namespace poet
