// `poet_dist sample`: poems from a checkpoint, as text or JSON.
#pragma once

#include <ostream>
#include <string>

#include "poems/poem_maker.h"

namespace poet {

struct SampleCommand {
  std::string checkpoint;
  PoemRequest request;
  bool json = false;
  bool show_tones = false;  // print each line's tones (平 仄 中) beside it
  std::string data;         // the dataset for tones and lines; default: the checkpoint's data.path
  std::string rhyme_table;  // pingshui|learned; empty: the 平水韵 where the dataset holds it
};

void run_sample(const SampleCommand& command, std::ostream& out);

}  // namespace poet
