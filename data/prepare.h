// `poet_dist prepare`: corpus JSON -> cleaned, deduplicated, split, sharded HDF5 dataset.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "data/prepare_report.h"
#include "data/script_converter.h"

namespace poet {

struct PrepareOptions {
  std::string input;
  std::string output;
  bool regular_only = false;  // --forms regular: keep 五绝 七绝 五律 七律 only
  Script script = Script::kSimplified;
  double val_fraction = 0.02;
  int shards = 64;
  int64_t min_count = 3;
  int max_unknown = 2;
  uint64_t seed = 1234;
  int threads = 0;       // 0: the cores available to the process
  std::string pingshui;  // the 平水韵 (pingshui.json or its folder); empty: none
};

nlohmann::json to_json(const PrepareOptions& options);

// Throws poet::Error naming the option for a value out of range.
void validate(const PrepareOptions& options);

// True when a poem with this id belongs to the validation split: a stable hash of the id,
// independent of the seed, the corpus order and the other poems.
bool in_validation_split(const std::string& poem_id, double val_fraction);

// Runs the whole pipeline and renames the finished file onto options.output. Warnings (skipped
// entries) go to `log`. Throws poet::Error on bad input, poet::Interrupted on SIGINT/SIGTERM;
// either way nothing is left at the output path.
PrepareReport prepare_dataset(const PrepareOptions& options, std::ostream& log);

}  // namespace poet
