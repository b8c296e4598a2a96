// The 平水韵 held against the corpus at prepare time: which vocabulary characters it lacks and
// what share of the training text they are, and where its tones and the tones the corpus's
// patterns (strains/) observed disagree. For the regulated forms the table wins (VerseRules):
// it is the rhyme book poets were examined on, while strains/ is a per-poem annotation with
// thousands of lines out of step with their text.
#pragma once

#include <vector>

#include "data/pingshui_table.h"
#include "data/prepare_report.h"
#include "data/tone_table.h"
#include "data/vocabulary.h"

namespace poet {

// `counts` and `tones` by token id, as the dataset stores them. A character is compared where the
// table gives it one tone class and char_tone() reads one class from the corpus's counts.
RhymeTableReport check_rhyme_table(const PingshuiTable& source, const RhymeTable& table, const Vocabulary& vocab,
                                   const std::vector<int64_t>& counts, const std::vector<ToneCounts>& tones);

}  // namespace poet
