// Training rows from the HDF5 dataset, and their order.
//
// Packing: within each shard, an epoch's poems (shuffled by seed, epoch and shard) are laid end
// to end as <bos> poem <eos> <bos> poem <eos> ... and cut into rows of seq_len + 1 tokens
// (inputs and targets overlap by one). No position is padding; <bos> and <eos> stay in the
// stream, so the model learns where poems begin and end.
//
// Order: the global row order interleaves shards round by round — row r of shard 0, row r of
// shard 1, ..., then row r + 1 — and global batch b is rows [b·G, (b+1)·G). That order does not
// depend on how many processes train: a process that owns some shards takes the rows of each
// global batch that come from its shards, so one global batch size gives the same training at
// any world size, and each process reads only its own shards from the file.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset_file.h"

namespace poet {

struct Batch {
  torch::Tensor inputs;        // (n, T) int64; n may be 0 for a process owning no row of it
  torch::Tensor targets;       // (n, T) int64
  torch::Tensor rows;          // (n,) int64: each row's index in its global batch (dropout masks)
  int64_t global_targets = 0;  // target positions in the whole global batch: the loss divisor
};

class BatchStream {
 public:
  // shuffle: false for validation, whose order never changes.
  BatchStream(const DatasetFile& file, Split split, std::vector<int64_t> owned_shards, int64_t seq_len,
              int64_t batch_rows, uint64_t seed, bool shuffle);

  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  // Tokens this process read from the file: only its own shards' (the sharding tests check it).
  int64_t tokens_read() const { return tokens_read_; }
  int64_t total_rows() const { return static_cast<int64_t>(order_.size()); }
  // Throws poet::Error naming `file` and `remedy` when the rows cannot fill one batch.
  void require_a_batch(const std::string& file, const std::string& remedy) const;

  // Global batch `index` (0 <= index < batches_per_epoch()) of `epoch`, this process's rows.
  Batch batch(int64_t epoch, int64_t index);
  // Global rows [begin, end) of `epoch`, this process's part; global_targets counts them all.
  Batch rows(int64_t epoch, int64_t begin, int64_t end);

 private:
  void build_epoch(int64_t epoch);

  int64_t seq_len_;
  int64_t batch_rows_;
  uint64_t seed_;
  bool shuffle_;
  std::vector<int64_t> owned_;
  std::vector<int64_t> shard_rows_;                             // rows of every shard, owned or not
  std::vector<std::vector<std::vector<int32_t>>> shard_poems_;  // owned shards only: poems
  std::vector<std::pair<int64_t, int64_t>> order_;              // global order: (shard, row)
  int64_t batches_per_epoch_ = 0;
  int64_t tokens_read_ = 0;
  int64_t built_epoch_ = -1;
  std::vector<std::vector<int32_t>> streams_;  // owned shards: this epoch's stream
};

}  // namespace poet
