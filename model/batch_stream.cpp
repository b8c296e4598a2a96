// BatchStream: shard reading, per-epoch packing and the global interleaved order.
#include "model/batch_stream.h"

#include <algorithm>

#include "common/error.h"
#include "common/seeded_shuffle.h"

namespace poet {

namespace {

uint64_t mix(uint64_t seed, int64_t epoch, int64_t shard) {
  uint64_t x = seed ^ (0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(epoch + 1)) ^
               (0xC2B2AE3D27D4EB4FULL * static_cast<uint64_t>(shard + 1));
  x ^= x >> 31;
  return x * 0xBF58476D1CE4E5B9ULL;
}

}  // namespace

BatchStream::BatchStream(const DatasetFile& file, Split split, std::vector<int64_t> owned_shards, int64_t seq_len,
                         int64_t batch_rows, uint64_t seed, bool shuffle)
    : seq_len_(seq_len), batch_rows_(batch_rows), seed_(seed), shuffle_(shuffle), owned_(std::move(owned_shards)) {
  std::sort(owned_.begin(), owned_.end());
  const SplitData index = file.read_index(split);
  const int64_t shards = static_cast<int64_t>(index.shard_offsets.size()) - 1;
  shard_rows_.assign(static_cast<size_t>(shards), 0);
  shard_poems_.resize(static_cast<size_t>(shards));
  for (int64_t s = 0; s < shards; ++s) {
    const int64_t first = index.shard_offsets[static_cast<size_t>(s)];
    const int64_t last = index.shard_offsets[static_cast<size_t>(s) + 1];
    const int64_t begin = index.poem_offsets[static_cast<size_t>(first)];
    const int64_t end = index.poem_offsets[static_cast<size_t>(last)];
    // Each poem adds <bos> and <eos>; a stream of n tokens makes (n - 1) / T rows.
    const int64_t stream = (end - begin) + 2 * (last - first);
    shard_rows_[static_cast<size_t>(s)] = stream > 1 ? (stream - 1) / seq_len : 0;
  }
  for (int64_t s : owned_) {
    if (s < 0 || s >= shards) {
      throw Error(file.path() + ": shard " + std::to_string(s) + " does not exist (the split has " +
                  std::to_string(shards) + ")");
    }
    const int64_t first = index.shard_offsets[static_cast<size_t>(s)];
    const int64_t last = index.shard_offsets[static_cast<size_t>(s) + 1];
    const int64_t begin = index.poem_offsets[static_cast<size_t>(first)];
    std::vector<int32_t> tokens;
    try {
      tokens = file.read_tokens(split, begin, index.poem_offsets[static_cast<size_t>(last)]);
    } catch (const Error& e) {
      throw Error("cannot read shard " + std::to_string(s) + " (poems " + std::to_string(first) + " to " +
                  std::to_string(last) + "): " + e.what());
    }
    tokens_read_ += static_cast<int64_t>(tokens.size());
    auto& poems = shard_poems_[static_cast<size_t>(s)];
    for (int64_t p = first; p < last; ++p) {
      poems.emplace_back(tokens.begin() + (index.poem_offsets[static_cast<size_t>(p)] - begin),
                         tokens.begin() + (index.poem_offsets[static_cast<size_t>(p) + 1] - begin));
    }
  }
  const int64_t max_rows = shards > 0 ? *std::max_element(shard_rows_.begin(), shard_rows_.end()) : 0;
  for (int64_t r = 0; r < max_rows; ++r) {
    for (int64_t s = 0; s < shards; ++s) {
      if (r < shard_rows_[static_cast<size_t>(s)]) order_.emplace_back(s, r);
    }
  }
  batches_per_epoch_ = static_cast<int64_t>(order_.size()) / batch_rows_;
  streams_.resize(static_cast<size_t>(shards));
}

void BatchStream::build_epoch(int64_t epoch) {
  for (int64_t s : owned_) {
    const auto& poems = shard_poems_[static_cast<size_t>(s)];
    std::vector<size_t> order(poems.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (shuffle_) seeded_shuffle(order, mix(seed_, epoch, s));
    auto& stream = streams_[static_cast<size_t>(s)];
    stream.clear();
    for (size_t i : order) {
      stream.push_back(Vocabulary::kBos);
      stream.insert(stream.end(), poems[i].begin(), poems[i].end());
      stream.push_back(Vocabulary::kEos);
    }
  }
  built_epoch_ = epoch;
}

Batch BatchStream::batch(int64_t epoch, int64_t index) {
  if (index < 0 || index >= batches_per_epoch_) {
    throw Error("batch " + std::to_string(index) + " is outside the epoch's " + std::to_string(batches_per_epoch_));
  }
  return rows(epoch, index * batch_rows_, (index + 1) * batch_rows_);
}

Batch BatchStream::rows(int64_t epoch, int64_t begin, int64_t end) {
  if (built_epoch_ != (shuffle_ ? epoch : 0)) build_epoch(shuffle_ ? epoch : 0);
  std::vector<int64_t> tokens;
  std::vector<int64_t> rows;
  for (int64_t i = begin; i < end; ++i) {
    const auto [shard, row] = order_.at(static_cast<size_t>(i));
    if (!std::binary_search(owned_.begin(), owned_.end(), shard)) continue;
    rows.push_back(i - begin);
    const auto& stream = streams_[static_cast<size_t>(shard)];
    tokens.insert(tokens.end(), stream.begin() + row * seq_len_, stream.begin() + (row + 1) * seq_len_ + 1);
  }
  const int64_t n = static_cast<int64_t>(tokens.size()) / (seq_len_ + 1);
  const torch::Tensor all = torch::from_blob(tokens.data(), {n, seq_len_ + 1}, torch::kInt64).clone();
  Batch batch;
  batch.inputs = all.narrow(1, 0, seq_len_).contiguous();
  batch.targets = all.narrow(1, 1, seq_len_).contiguous();
  batch.rows = torch::tensor(rows, torch::kInt64);
  batch.global_targets = (end - begin) * seq_len_;
  return batch;
}

void BatchStream::require_a_batch(const std::string& file, const std::string& remedy) const {
  if (batches_per_epoch_ > 0) return;
  throw Error(file + ": the training split makes " + std::to_string(total_rows()) + " rows of " +
              std::to_string(seq_len_) + " characters, fewer than one batch of " + std::to_string(batch_rows_) + " (" +
              remedy + ")");
}

}  // namespace poet
