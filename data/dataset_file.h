// The HDF5 dataset that prepare writes and the trainer reads (format version 1):
//
//   /                 attrs format_version, producer, options, report, sources (JSON text)
//   /vocab/tokens     UTF-8 strings [V]; ids 0..3 are <pad> <bos> <eos> <unk>
//   /vocab/counts     int64 [V]  occurrences in the training split (<eos>: one per poem)
//   /vocab/tone_level, tone_oblique, tone_either   int64 [V]  平 / 仄 / either observations
//   /train, /val      tokens        int32 [N]    the poems' characters, back to back
//                     poem_offsets  int64 [P+1]  poem p is tokens[poem_offsets[p], poem_offsets[p+1])
//                     shard_offsets int64 [S+1]  shard s is poems [shard_offsets[s], shard_offsets[s+1])
//                     forms         uint8 [P]    PoemForm of each poem
//                     poem_ids      string [P]   upstream id of each poem
//                     attrs xxh64 checksums of tokens and poem_offsets
//   /rhyme            the 平水韵 matched to the vocabulary, when prepare was given it:
//                     group_names string [G], group_level uint8 [G] (1: 平),
//                     token_offsets int64 [V+1], token_groups int16 [M]  (see pingshui_table.h)
//
// Start/end tokens are not stored: the trainer adds them when it packs poems. Every dataset
// is chunked and compressed (shuffle + deflate) with Fletcher-32 chunk checksums, so a
// corrupt chunk fails on read. Tokens are read by hyperslab, so a rank reads only its shards.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/h5_check.h"
#include "data/pingshui_table.h"
#include "data/tone_table.h"
#include "data/vocabulary.h"

namespace poet {

constexpr int kDatasetFormatVersion = 1;

enum class Split { kTrain, kVal };
const char* split_name(Split split);

struct SplitData {
  std::vector<int32_t> tokens;
  std::vector<int64_t> poem_offsets{0};
  std::vector<int64_t> shard_offsets{0};
  std::vector<uint8_t> forms;
  std::vector<std::string> poem_ids;

  size_t num_poems() const { return forms.size(); }
};

struct DatasetContents {
  Vocabulary vocab;
  std::vector<int64_t> counts;
  std::vector<ToneCounts> tones;
  RhymeTable rhyme_table;  // empty: none given
  SplitData train;
  SplitData val;
  nlohmann::json options;
  nlohmann::json report;
  nlohmann::json sources;
};

// Writes `contents` to `path` (the caller's temporary file).
void write_dataset(const std::string& path, const DatasetContents& contents);

// Read access; every error names the file.
class DatasetFile {
 public:
  explicit DatasetFile(const std::string& path);

  const std::string& path() const { return path_; }
  const Vocabulary& vocab() const { return vocab_; }
  nlohmann::json attribute_json(const char* name) const;
  std::vector<int64_t> vocab_counts() const;
  std::vector<ToneCounts> tones() const;
  // Empty when the dataset was prepared without the 平水韵.
  RhymeTable rhyme_table() const;

  // Everything but the tokens: offsets, shards, forms and ids.
  SplitData read_index(Split split) const;
  // Tokens [begin, end) of a split, read by hyperslab.
  std::vector<int32_t> read_tokens(Split split, int64_t begin, int64_t end) const;
  uint64_t stored_checksum(Split split, const char* name) const;

 private:
  std::string path_;
  H5Handle file_;
  Vocabulary vocab_;
};

}  // namespace poet
