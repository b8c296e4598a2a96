// Writing poems with a trained model. For the four regular forms the decoder is constrained
// at every step — only Chinese characters inside a line, ， or 。 (alternating) at its end,
// never <unk> or a special token — so the output always has the form's shape; nothing is
// filtered afterwards. Regulated verse also follows one of its form's tone patterns (chosen by
// the seed) and rhymes: `tones` strict allows only characters whose tone fits each position and,
// at a rhyme, only characters rhyming in a level group with every earlier rhyme, not used yet;
// soft divides the probability of the others by 10, and at a rhyme by 10^5; off ignores tones.
// A line found verbatim in the training set is sampled again (up to 20 times). Acrostics (藏头诗)
// force the first character of each line; a prompt forces the first characters of the poem;
// keywords put word i into line i, at the position where the model finds the line most likely.
//
// A regular poem's characters already used are drawn less often (kRepeatDraw). sample_poem()
// spends `candidates` under the same constraints — whole poems, or lines of a beam search — and
// returns the poem the model itself finds most likely: the highest mean log-probability per
// character, less kRepeatWeight for each unit of the share of characters repeated within it.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "data/poem_form.h"
#include "data/verse_rules.h"
#include "data/vocabulary.h"
#include "model/poet_model.h"

namespace poet {

enum class ToneMode { kStrict, kSoft, kOff };
// strict|soft|off; throws poet::Error naming `field` otherwise.
ToneMode parse_tone_mode(const std::string& text, const std::string& field);
const char* tone_mode_name(ToneMode mode);

// The most candidates one 七律 can have in under a second of writing on 2 cores (0.83 s; loading
// the model and dataset adds about 1 s): in bench/candidates_bench.sh on the cpu-quick model the
// beam's poem rose from -4.88 log-probability per character (1) to -4.19 (8), -4.05 (12) and
// -3.95 (16, 1.06-1.22 s); the README quotes the run.
constexpr int64_t kDefaultCandidates = 12;
constexpr double kRepeatWeight = 2.0;
// A character already in a regular poem is drawn with its probability divided by 20 (this, added
// to its logit): the cpu-quick model alone repeats 4-10% of a poem's characters, the validation
// poems 1.7-2.6% (evaluate), and choosing among candidates for fewer repeats alone trades away
// too much likelihood to close the gap.
const double kRepeatDraw = std::log(1.0 / 20);

// How candidates are spent: whole poems, the likeliest kept; or a line-level beam search that
// keeps the kBeamWidth likeliest partial poems and draws `candidates` lines at every line,
// shared out among them (as many lines written as whole candidates would write).
enum class Search { kCandidates, kBeam };
constexpr int64_t kBeamWidth = 4;
// The beam: at 12 candidates its 七律 average -4.05 log-probability per character against
// whole candidates' -4.51, in about the same 0.8 s, and repeat less (bench/candidates_bench.sh).
constexpr Search kDefaultSearch = Search::kBeam;
// candidates|beam; throws poet::Error naming `field` otherwise.
Search parse_search(const std::string& text, const std::string& field);
const char* search_name(Search search);

struct SampleOptions {
  PoemForm form = PoemForm::kFree;
  std::u32string prompt;                 // in the model's script
  std::u32string acrostic;               // in the model's script
  std::vector<std::u32string> keywords;  // one or two characters each, line by line; regular forms
  int64_t candidates = kDefaultCandidates;
  Search search = kDefaultSearch;
  double temperature = 0.8;  // 0: greedy
  int64_t top_k = 0;         // 0: off
  double top_p = 0.95;       // 1: off
  uint64_t seed = 1;
  int64_t max_chars = 200;  // free verse only
  ToneMode tones = ToneMode::kSoft;
  bool avoid_copies = true;           // resample lines found in the training set
  const VerseRules* rules = nullptr;  // needed for tones other than off, and for avoid_copies
  // serve's time limit a request, checked between candidates (and between a beam's lines).
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

// Thrown at a safe point once `deadline` has passed.
class TimedOut : public Error {
 public:
  TimedOut() : Error("the poem took longer than the time limit") {}
};
// Where a long sample may stop: throws Interrupted after a signal, TimedOut past the deadline.
void throw_if_stopped(const SampleOptions& options);

struct SampledPoem {
  std::u32string text;
  std::vector<std::u32string> lines;
  PoemForm form = PoemForm::kFree;
  uint64_t seed = 0;
  std::string pattern_name;          // regulated verse under tones strict|soft: "平起首句入韵", ...
  std::vector<std::string> pattern;  // ... and its P/Z/* marks a line
  std::vector<size_t> rhyme_lines;   // regular forms: the lines whose last character rhymes
  int lines_resampled = 0;           // lines sampled again for being copies
  int lines_copied = 0;              // lines still copies after every retry
  double log_prob = 0;               // mean log p per Chinese character under the model
  double repeated = 0;               // share of its Chinese characters that repeat an earlier one
  int64_t candidates = 1;            // written to choose it from
};

// A candidate's score: higher is better.
double candidate_score(const SampledPoem& poem);
// The share of the Chinese characters of `lines` that repeat an earlier one.
double repeated_share(const std::vector<std::u32string>& lines);

// Parses wujue|qijue|wulv|qilv|free; throws poet::Error naming `field` otherwise.
PoemForm parse_form(const std::string& text, const std::string& field);

// Throws poet::Error naming any prompt, acrostic or keyword character the vocabulary lacks, an
// acrostic, prompt or keywords that cannot fit the form (a keyword whose tones fit no position of
// its line under strict tones is named with its line), or an option out of range.
SampledPoem sample_poem(PoetModel& model, const Vocabulary& vocab, const SampleOptions& options);

}  // namespace poet
