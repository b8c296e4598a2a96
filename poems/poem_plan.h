// What every candidate of one sample request shares (sample_poem(), sampler.h): the characters a
// prompt or acrostic forces, each line's keyword, the tone pattern the seed chooses among those
// the keywords fit, and the masks over the vocabulary. Built and checked once: bad input is
// refused by name before any poem is written.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/poem_form.h"
#include "data/verse_rules.h"
#include "data/vocabulary.h"
#include "poems/decoder.h"
#include "poems/sampler.h"

namespace poet {

struct Plan {
  const SampleOptions& options;
  FormShape shape;
  std::vector<std::vector<int32_t>> forced;    // [line][position]: a character, or -1
  std::vector<std::vector<int32_t>> keywords;  // [line]: the keyword's ids, or none
  TonePattern pattern;                         // regulated verse under tones strict|soft
  std::vector<int32_t> prompt;                 // free verse
  VocabularyMasks vocabulary_masks;
  std::shared_ptr<const VerseMasks> verse_masks;  // regulated verse under tones strict|soft
};

// A keyword that could go only where it would end a rhyming line on a character that rhymes with
// none of the rhymes this candidate drew before: the candidate is dropped.
struct KeywordMisfit {
  size_t line;
};

// Throws poet::Error naming a prompt, acrostic or keyword character the vocabulary lacks, or
// anything of `options` that cannot fit the form.
Plan make_plan(const Vocabulary& vocab, const SampleOptions& options);

// Where line `line`'s keyword may start: inside the line, clear of forced characters, and
// under strict tones with every character fitting its mark.
std::vector<size_t> keyword_starts(const Plan& plan, size_t line);

// `c`'s token; throws poet::Error naming it as `what` ("prompt", ...) when the vocabulary lacks it.
int32_t known_id(const Vocabulary& vocab, char32_t c, const char* what);

// A seed of its own for each form and candidate: the same --seed gives a 五律 that is not its
// 五绝 continued, and candidates that differ (splitmix64's finaliser).
uint64_t mixed_seed(uint64_t seed, PoemForm form, uint64_t salt);

// "line 3" for index 2.
std::string line_number(size_t line);

}  // namespace poet
