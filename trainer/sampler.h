// Writing poems with a trained model. For the four regular forms the decoder is constrained
// at every step — only Chinese characters inside a line, ， or 。 (alternating) at its end,
// never <unk> or a special token — so the output always has the form's shape; nothing is
// filtered afterwards. Acrostics (藏头诗) force the first character of each line; a prompt
// forces the first characters of the poem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/poem_form.h"
#include "data/vocabulary.h"
#include "trainer/poet_model.h"

namespace poet {

struct SampleOptions {
  PoemForm form = PoemForm::kFree;
  std::u32string prompt;    // in the model's script
  std::u32string acrostic;  // in the model's script
  double temperature = 0.8;
  int64_t top_k = 0;     // 0: off
  double top_p = 0.95;   // 1: off
  uint64_t seed = 1;
  int64_t max_chars = 200;  // free verse only
};

struct SampledPoem {
  std::u32string text;
  std::vector<std::u32string> lines;
  PoemForm form = PoemForm::kFree;
  uint64_t seed = 0;
};

// Parses wujue|qijue|wulv|qilv|free; throws poet::Error naming `field` otherwise.
PoemForm parse_form(const std::string& text, const std::string& field);

// Throws poet::Error naming any prompt or acrostic character the vocabulary lacks, or an
// acrostic or prompt that cannot fit the form.
SampledPoem sample_poem(PoetModel& model, const Vocabulary& vocab, const SampleOptions& options);

}  // namespace poet
