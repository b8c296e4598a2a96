// `poet_dist sample`: poems from a checkpoint, as text or JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "data/script_converter.h"
#include "poems/sampler.h"

namespace poet {

struct SampleCommand {
  std::string checkpoint;
  std::string prompt;
  std::string acrostic;
  std::string keywords;  // "春,江,花,月": one or two characters a line
  std::string form;      // empty: free verse, or a 绝句/律诗 sized to fit an acrostic or keywords
  double temperature = 0.8;
  int64_t top_k = 0;
  double top_p = 0.95;
  uint64_t seed = 1;
  int64_t num = 1;
  int64_t candidates = kDefaultCandidates;
  std::string search = search_name(kDefaultSearch);  // candidates or beam
  std::optional<Script> script;                      // output script; default: the model's
  bool json = false;
  std::string tones = "soft";  // strict, soft or off (regulated verse)
  bool avoid_copies = true;    // resample lines found verbatim in the training set
  bool show_tones = false;     // print each line's tones (平 仄 中) beside it
  std::string data;            // the dataset for tones and lines; default: the checkpoint's data.path
  std::string rhyme_table;     // pingshui|learned; empty: the 平水韵 where the dataset holds it
};

void run_sample(const SampleCommand& command, std::ostream& out);

}  // namespace poet
