// How likely a model finds whole poems: the mean log-probability per Chinese character, each
// given the poem before it (teacher forcing from <bos>, temperature 1, no masks). evaluate holds
// the model's poems and the validation poems to this one measure; it equals what the decoder
// sums while writing (decoder.h), which chooses among candidates.
#pragma once

#include <string>
#include <vector>

#include "data/vocabulary.h"
#include "model/poet_model.h"

namespace poet {

// `poems[i]` as lines without punctuation, rejoined with ， and 。 as the sampler writes them.
std::vector<double> mean_log_probs(PoetModel& model, const Vocabulary& vocab,
                                   const std::vector<std::vector<std::u32string>>& poems);

}  // namespace poet
