// `poet_dist evaluate`: how a checkpoint's poems read. Perplexity on the validation split, and on
// N poems a regular form from fixed seeds (1..N) under each tone mode, each the best of the
// sampler's candidates: form compliance, tone compliance, rhyme compliance (against the 平水韵 by
// default), the share of lines ending where the line's rhyme position allows, the share of lines
// copied verbatim from the training set, the share of characters repeated within a poem and the
// model's mean log-probability per character — beside the same figures for the real regular
// poems of the validation split, the ceiling a model is held to. Prints a table and writes JSON
// (for `poet_dist report`).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "data/poem_form.h"
#include "data/verse_rules.h"
#include "data/vocabulary.h"
#include "poems/sampler.h"

namespace poet {

struct EvaluateOptions {
  std::string checkpoint;
  std::string data;       // default: the checkpoint's data.path
  int64_t num = 20;       // poems a form and tone mode
  std::string json_path;  // default: evaluation.json in the checkpoint's run directory
  std::vector<std::string> tones = {"strict", "soft", "off"};
  std::string rhyme_table;  // pingshui|learned; empty: the 平水韵 where the dataset holds it
  int64_t candidates = kDefaultCandidates;
  std::string search = search_name(kDefaultSearch);  // candidates or beam
};

// One poem's marks, each in [0, 1].
struct PoemScores {
  double form = 0;       // 1 when its shape is the form's
  double tone = 0;       // share of the pattern's fixed positions whose character fits, best pattern
  double rhyme = 0;      // 1 when the even lines all end on characters sharing a rhyme group: a
                         // level one, or an oblique one (as real 绝句 such as 春晓 rhyme)
  double line_ends = 0;  // share of lines ending as their place allows: even lines in the poem's
                         // main rhyme group, the first in it or off it, the others off it (an
                         // oblique tone after a level rhyme, a level one after an oblique rhyme)
  double copied = 0;     // share of its lines found verbatim in the training set
  double repeated = 0;   // share of its characters repeating an earlier one (repeated_share())
  double log_prob = 0;   // mean log p per character under the model (mean_log_probs()), set apart
};

// `lines` without punctuation.
PoemScores score_poem(const std::vector<std::u32string>& lines, PoemForm form, const VerseRules& rules,
                      const Vocabulary& vocab);

void run_evaluate(const EvaluateOptions& options, std::ostream& out);

}  // namespace poet
