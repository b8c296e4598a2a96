// `poet_dist evaluate`: how a checkpoint's poems read. Perplexity on the validation split, and on
// N poems a regular form from fixed seeds (1..N) under each tone mode: form compliance, tone
// compliance, rhyme compliance, the share of lines copied verbatim from the training set and the
// distinct-character ratio — beside the same figures for the real regular poems of the
// validation split. Prints a table and writes JSON (for `poet_dist report`).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "data/poem_form.h"
#include "data/verse_rules.h"
#include "data/vocabulary.h"

namespace poet {

struct EvaluateOptions {
  std::string checkpoint;
  std::string data;       // default: the checkpoint's data.path
  int64_t num = 20;       // poems a form and tone mode
  std::string json_path;  // default: evaluation.json in the checkpoint's run directory
  std::vector<std::string> tones = {"strict", "soft", "off"};
};

// One poem's marks, each in [0, 1].
struct PoemScores {
  double form = 0;      // 1 when its shape is the form's
  double tone = 0;      // share of the pattern's fixed positions whose character fits, best pattern
  double rhyme = 0;     // 1 when the rhyming lines end on level tones of one learned group
  double copied = 0;    // share of its lines found verbatim in the training set
  double distinct = 0;  // distinct characters / characters
};

// `lines` without punctuation.
PoemScores score_poem(const std::vector<std::u32string>& lines, PoemForm form, const VerseRules& rules,
                      const Vocabulary& vocab);

void run_evaluate(const EvaluateOptions& options, std::ostream& out);

}  // namespace poet
