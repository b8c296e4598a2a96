// Writing the poems of a Plan (poem_plan.h) line by line: one whole poem from a seed, or a
// line-level beam search over partial poems. A keyword that can go only where it would end a
// rhyming line it cannot rhyme in throws KeywordMisfit: the caller drops that candidate.
#pragma once

#include <cstdint>

#include "data/vocabulary.h"
#include "model/poet_model.h"
#include "poems/poem_plan.h"
#include "poems/sampler.h"

namespace poet {

SampledPoem write_poem(PoetModel& model, const Vocabulary& vocab, const Plan& plan, uint64_t seed);

// Line by line, the `width` best partial poems kept; every line draws `draws` lines in all,
// shared out among the poems kept (the first line all from the empty poem), each
SampledPoem beam_search(PoetModel& model, const Vocabulary& vocab, const Plan& plan, int64_t width, int64_t draws);

}  // namespace poet
