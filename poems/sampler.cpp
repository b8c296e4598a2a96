// sample_poem(): a Plan, then its candidates written (poem_writer.h), the likeliest kept; the
// options' parsers.
#include "poems/sampler.h"

#include <torch/utils.h>

#include <algorithm>
#include <optional>
#include <set>

#include "common/error.h"
#include "common/interrupt.h"
#include "common/utf8.h"
#include "data/text_cleaner.h"
#include "poems/poem_plan.h"
#include "poems/poem_writer.h"

namespace poet {

ToneMode parse_tone_mode(const std::string& text, const std::string& field) {
  if (text == "strict") return ToneMode::kStrict;
  if (text == "soft") return ToneMode::kSoft;
  if (text == "off") return ToneMode::kOff;
  throw Error(field + ": '" + text + "' is not a tone mode, expected strict, soft or off");
}

const char* tone_mode_name(ToneMode mode) {
  switch (mode) {
    case ToneMode::kStrict:
      return "strict";
    case ToneMode::kSoft:
      return "soft";
    default:
      return "off";
  }
}

const char* search_name(Search search) { return search == Search::kBeam ? "beam" : "candidates"; }

Search parse_search(const std::string& text, const std::string& field) {
  if (text == "candidates") return Search::kCandidates;
  if (text == "beam") return Search::kBeam;
  throw Error(field + ": '" + text + "' is not a search, expected candidates or beam");
}

PoemForm parse_form(const std::string& text, const std::string& field) {
  for (int f = 0; f < kNumForms; ++f) {
    if (text == form_key(static_cast<PoemForm>(f))) return static_cast<PoemForm>(f);
  }
  throw Error(field + ": '" + text + "' is not a form, expected wujue, qijue, wulv, qilv or free");
}

double repeated_share(const std::vector<std::u32string>& lines) {
  std::set<char32_t> seen;
  int64_t characters = 0;
  int64_t repeats = 0;
  for (const auto& line : lines) {
    for (char32_t c : line) {
      if (!is_ideograph(c)) continue;
      ++characters;
      repeats += !seen.insert(c).second;
    }
  }
  return characters > 0 ? static_cast<double>(repeats) / static_cast<double>(characters) : 0.0;
}

void throw_if_stopped(const SampleOptions& options) {
  throw_if_interrupted();
  if (std::chrono::steady_clock::now() > options.deadline) throw TimedOut();
}

double candidate_score(const SampledPoem& poem) { return poem.log_prob - kRepeatWeight * poem.repeated; }

SampledPoem sample_poem(PoetModel& model, const Vocabulary& vocab, const SampleOptions& options) {
  if (!(options.temperature >= 0)) {
    throw Error("--temperature is " + std::to_string(options.temperature) + ", expected 0 (greedy) or more");
  }
  if (options.top_k < 0) {
    throw Error("--top-k is " + std::to_string(options.top_k) + ", expected 0 (off) or a positive number");
  }
  if (!(options.top_p > 0 && options.top_p <= 1)) {
    throw Error("--top-p is " + std::to_string(options.top_p) + ", expected a number in (0, 1]");
  }
  if (options.candidates < 1) {
    throw Error("--candidates is " + std::to_string(options.candidates) + ", expected at least 1");
  }
  const Plan plan = make_plan(vocab, options);
  torch::NoGradGuard no_grad;
  model->eval();
  // Greedy decoding writes one poem whatever the count.
  const int64_t count = options.temperature == 0 ? 1 : options.candidates;
  try {
    if (options.search == Search::kBeam && count > 1 && plan.shape.lines > 0) {
      return beam_search(model, vocab, plan, std::min(kBeamWidth, count), count);
    }
    std::optional<SampledPoem> best;
    std::optional<KeywordMisfit> misfit;
    for (int64_t k = 0; k < count; ++k) {
      throw_if_stopped(options);  // Ctrl-C stops a long evaluate or --num between candidates
      try {
        SampledPoem poem =
            write_poem(model, vocab, plan, mixed_seed(options.seed, options.form, static_cast<uint64_t>(k)));
        if (!best || candidate_score(poem) > candidate_score(*best)) best = std::move(poem);
      } catch (const KeywordMisfit& m) {
        misfit = m;
      }
    }
    if (!best) throw *misfit;
    best->candidates = count;
    return *best;
  } catch (const KeywordMisfit& m) {
    throw Error("keyword '" + utf8_encode(options.keywords[m.line]) + "' cannot fit " + line_number(m.line) +
                " under --tones strict: where its tones fit, it ends the line, and in none of " +
                std::to_string(count) + " candidates does it rhyme with the rhymes before it");
  }
}

}  // namespace poet
