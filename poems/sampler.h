// Writing poems with a trained model. For the four regular forms the decoder is constrained
// at every step — only Chinese characters inside a line, ， or 。 (alternating) at its end,
// never <unk> or a special token — so the output always has the form's shape; nothing is
// filtered afterwards. Regulated verse also follows one of its form's tone patterns (chosen by
// the seed) and rhymes: `tones` strict allows only characters whose tone fits each position and,
// at a rhyme, only level-tone characters of the first rhyme's group not used yet; soft divides
// the probability of the others by 10; off ignores tones. A line found verbatim in the training
// set is sampled again (up to 20 times). Acrostics (藏头诗) force the first character of each
// line; a prompt forces the first characters of the poem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/poem_form.h"
#include "data/verse_rules.h"
#include "data/vocabulary.h"
#include "model/poet_model.h"

namespace poet {

enum class ToneMode { kStrict, kSoft, kOff };
// strict|soft|off; throws poet::Error naming `field` otherwise.
ToneMode parse_tone_mode(const std::string& text, const std::string& field);
const char* tone_mode_name(ToneMode mode);

struct SampleOptions {
  PoemForm form = PoemForm::kFree;
  std::u32string prompt;    // in the model's script
  std::u32string acrostic;  // in the model's script
  double temperature = 0.8;
  int64_t top_k = 0;    // 0: off
  double top_p = 0.95;  // 1: off
  uint64_t seed = 1;
  int64_t max_chars = 200;  // free verse only
  ToneMode tones = ToneMode::kSoft;
  bool avoid_copies = true;           // resample lines found in the training set
  const VerseRules* rules = nullptr;  // needed for tones other than off, and for avoid_copies
};

struct SampledPoem {
  std::u32string text;
  std::vector<std::u32string> lines;
  PoemForm form = PoemForm::kFree;
  uint64_t seed = 0;
  std::string pattern_name;          // regulated verse under tones strict|soft: "平起首句入韵", ...
  std::vector<std::string> pattern;  // ... and its P/Z/* marks a line
  int lines_resampled = 0;           // lines sampled again for being copies
  int lines_copied = 0;              // lines still copies after every retry
};

// Parses wujue|qijue|wulv|qilv|free; throws poet::Error naming `field` otherwise.
PoemForm parse_form(const std::string& text, const std::string& field);

// Throws poet::Error naming any prompt or acrostic character the vocabulary lacks, or an
// acrostic or prompt that cannot fit the form.
SampledPoem sample_poem(PoetModel& model, const Vocabulary& vocab, const SampleOptions& options);

}  // namespace poet
