// Checkpoints: model, optimizer state, position in the data, the config and the vocabulary, in
// one file with a checksum. Files are written under a temporary name, flushed and renamed into
// place; a file whose checksum fails is refused on load. No random state: the dropout masks are
// a function of the step (dropout_masks.h).
//
// File layout: "POETCKPT" magic, uint32 format version, uint64 xxh64 of the payload, uint64
// payload length, then the payload: a LibTorch archive (torch::serialize::OutputArchive).
#pragma once

#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "model/poet_model.h"

namespace poet {

struct CheckpointMeta {
  int64_t step = 0;   // optimizer steps completed
  int64_t epoch = 0;  // position in the data: the next batch to train on
  int64_t batch_in_epoch = 0;
  int64_t tokens_seen = 0;
  double val_loss = std::numeric_limits<double>::quiet_NaN();  // at this step, if measured
  double elapsed_seconds = 0;
  std::string config_toml;
  std::string script;  // of the dataset's text: "simplified" or "traditional"
  std::vector<std::string> vocab_tokens;
  uint64_t vocab_checksum = 0;
};

void save_checkpoint(const std::string& path, PoetModel& model, const torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta);

class LoadedCheckpoint {
 public:
  // Reads and verifies the file; throws poet::Error naming the file and the fault.
  explicit LoadedCheckpoint(const std::string& path);

  const CheckpointMeta& meta() const { return meta_; }
  const std::string& path() const { return path_; }
  // The archive is read onto the CPU, whatever device wrote it; these copy into the model and
  // the optimizer wherever they live. `model` must have been built from meta().config_toml.
  void restore_model(PoetModel& model);
  void restore_optimizer(torch::optim::AdamW& optimizer);

 private:
  std::string path_;
  CheckpointMeta meta_;
  torch::serialize::InputArchive archive_;
};

// Checkpoint files in `dir`, newest step first.
std::vector<std::string> list_checkpoints(const std::string& dir);

}  // namespace poet
