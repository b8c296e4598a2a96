// sample_poem(): candidates written line by line under the form's constraints, the best kept.
#include "poems/sampler.h"

#include <torch/utils.h>

#include <algorithm>
#include <memory>
#include <random>
#include <set>

#include "common/error.h"
#include "common/interrupt.h"
#include "common/utf8.h"
#include "data/text_cleaner.h"
#include "poems/decoder.h"

namespace poet {

namespace {

constexpr int kCopyRetries = 20;

int32_t known_id(const Vocabulary& vocab, char32_t c, const char* what) {
  const int32_t id = vocab.id_of(c);
  if (id == Vocabulary::kUnk) {
    throw Error(std::string(what) + " character '" + utf8_encode(std::u32string(1, c)) +
                "' is not in the model's vocabulary");
  }
  return id;
}

std::vector<std::u32string> split_lines(const std::u32string& text) {
  std::vector<std::u32string> lines;
  std::u32string current;
  for (char32_t c : text) {
    current.push_back(c);
    if (is_line_end(c)) {
      lines.push_back(current);
      current.clear();
    }
  }
  if (!current.empty()) lines.push_back(current);
  return lines;
}

// A seed of its own for each form and candidate: the same --seed gives a 五律 that is not its
// 五绝 continued, and candidates that differ (splitmix64's finaliser).
uint64_t mixed_seed(uint64_t seed, PoemForm form, uint64_t salt) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (1 + static_cast<uint64_t>(form) * 131 + salt);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string line_number(size_t line) { return "line " + std::to_string(line + 1); }

// ---------------------------------------------------------------------------
// What every candidate of one request shares: forced characters, keywords, the tone pattern.

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

bool tones_allow(const Plan& plan, size_t line, size_t pos, int32_t id) {
  if (plan.options.tones != ToneMode::kStrict) return true;
  return tone_fits(plan.options.rules->tone_of(id), plan.pattern.lines[line][pos]);
}

// Where line `line`'s keyword may start: inside the line, clear of forced characters, and
// under strict tones with every character fitting its mark.
std::vector<size_t> keyword_starts(const Plan& plan, size_t line) {
  const std::vector<int32_t>& word = plan.keywords[line];
  std::vector<size_t> starts;
  for (size_t p = 0; p + word.size() <= static_cast<size_t>(plan.shape.chars); ++p) {
    bool fits = true;
    for (size_t k = 0; k < word.size() && fits; ++k) {
      const int32_t forced = plan.forced[line][p + k];
      fits = (forced < 0 || forced == word[k]) && tones_allow(plan, line, p + k, word[k]);
    }
    if (fits) starts.push_back(p);
  }
  return starts;
}

// Chooses the tone pattern from the seed among those every keyword fits; refuses a keyword
// that fits none, naming it and its line.
void choose_pattern(Plan& plan, const std::vector<std::u32string>& words, uint64_t seed) {
  const std::vector<TonePattern> all = regulated_patterns(plan.options.form);
  std::vector<TonePattern> fitting;
  std::vector<int> misfits(plan.keywords.size(), 0);
  for (const TonePattern& p : all) {
    plan.pattern = p;
    bool fits = true;
    for (size_t line = 0; line < plan.keywords.size(); ++line) {
      if (!plan.keywords[line].empty() && keyword_starts(plan, line).empty()) {
        fits = false;
        ++misfits[line];
      }
    }
    if (fits) fitting.push_back(p);
  }
  if (fitting.empty()) {
    const auto worst = static_cast<size_t>(std::max_element(misfits.begin(), misfits.end()) - misfits.begin());
    throw Error("keyword '" + utf8_encode(words[worst]) + "' cannot fit " + line_number(worst) + " of a " +
                form_label(plan.options.form) + " under --tones strict: its tones fit no free position of the line " +
                (misfits[worst] == static_cast<int>(all.size()) ? "in any tone pattern"
                                                                : "in a pattern the other keywords fit"));
  }
  plan.pattern = fitting[std::mt19937_64(seed)() % fitting.size()];
}

Plan make_plan(const Vocabulary& vocab, const SampleOptions& o) {
  Plan plan{o, form_shape(o.form), {}, {}, {}, {}, VocabularyMasks(vocab), nullptr};
  std::u32string prompt;
  for (char32_t c : o.prompt) {
    if (!is_verse_punctuation(c) || o.form == PoemForm::kFree) prompt.push_back(c);
  }
  if (!prompt.empty() && !o.acrostic.empty()) throw Error("--prompt and --acrostic cannot be combined");
  for (char32_t c : prompt) plan.prompt.push_back(known_id(vocab, c, "prompt"));
  for (char32_t c : o.acrostic) known_id(vocab, c, "acrostic");
  if (plan.shape.lines == 0) {
    if (!o.keywords.empty()) throw Error("--keywords needs a regular form (--form wujue, qijue, wulv or qilv)");
    return plan;
  }
  const auto lines = static_cast<size_t>(plan.shape.lines);
  const auto chars = static_cast<size_t>(plan.shape.chars);
  if (o.acrostic.size() > lines) {
    throw Error("acrostic has " + std::to_string(o.acrostic.size()) + " characters, but a " + form_label(o.form) +
                " has " + std::to_string(lines) + " lines");
  }
  if (o.keywords.size() > lines) {
    throw Error("--keywords: " + std::to_string(o.keywords.size()) + " keywords, but a " + form_label(o.form) +
                " has " + std::to_string(lines) + " lines");
  }
  if (prompt.size() > lines * chars) throw Error("prompt is longer than a whole " + std::string(form_label(o.form)));
  if ((o.tones != ToneMode::kOff || o.avoid_copies) && o.rules == nullptr) {
    throw Error("tones and the copy check need the dataset's tone table and lines (give --data)");
  }
  plan.forced.assign(lines, std::vector<int32_t>(chars, -1));
  for (size_t i = 0; i < prompt.size(); ++i) plan.forced[i / chars][i % chars] = plan.prompt[i];
  for (size_t line = 0; line < o.acrostic.size(); ++line) plan.forced[line][0] = vocab.id_of(o.acrostic[line]);
  plan.keywords.assign(lines, {});
  for (size_t line = 0; line < o.keywords.size(); ++line) {
    const std::u32string& word = o.keywords[line];
    if (word.empty() || word.size() > 2) {
      throw Error("--keywords: keyword '" + utf8_encode(word) + "' (" + line_number(line) + ") has " +
                  std::to_string(word.size()) + " characters, expected one or two");
    }
    for (char32_t c : word) plan.keywords[line].push_back(known_id(vocab, c, "keyword"));
  }
  if (o.tones != ToneMode::kOff) {
    choose_pattern(plan, o.keywords, mixed_seed(o.seed, o.form, /*salt=*/~0ULL));
    plan.verse_masks = std::make_shared<const VerseMasks>(*o.rules, vocab.size(), o.tones);
  } else {
    for (size_t line = 0; line < lines; ++line) {
      if (!plan.keywords[line].empty() && keyword_starts(plan, line).empty()) {
        throw Error("keyword '" + utf8_encode(o.keywords[line]) + "' cannot fit " + line_number(line) +
                    " beside the characters the prompt or acrostic put there");
      }
    }
  }
  return plan;
}

// ---------------------------------------------------------------------------
// One candidate.

class PoemWriter {
 public:
  PoemWriter(PoetModel& model, const Vocabulary& vocab, const Plan& plan, uint64_t seed)
      : vocab_(vocab),
        plan_(plan),
        o_(plan.options),
        decoder_(model, vocab, plan.vocabulary_masks, plan.options, seed),
        masks_(plan.verse_masks),
        repeats_(torch::zeros({static_cast<int64_t>(vocab.size())})) {
    poem_.form = o_.form;
    poem_.seed = o_.seed;
    if (masks_) {
      poem_.pattern_name = plan_.pattern.name();
      poem_.pattern = plan_.pattern.lines;
    }
  }
  // A copy writes on from the same point, with a generator of its own (reseed()).
  PoemWriter(const PoemWriter& other)
      : vocab_(other.vocab_),
        plan_(other.plan_),
        o_(other.o_),
        decoder_(other.decoder_),
        masks_(other.masks_),
        rhymes_used_(other.rhymes_used_),
        repeats_(other.repeats_.clone()),
        poem_(other.poem_) {}

  SampledPoem write() {
    if (plan_.shape.lines > 0) {
      for (size_t line = 0; line < static_cast<size_t>(plan_.shape.lines); ++line) write_line(line);
    } else {
      write_free_verse();
    }
    return finish();
  }

  void reseed(uint64_t seed) { decoder_.reseed(seed); }

  // The score of the poem so far, as candidate_score() scores a whole one.
  double score() const {
    const double log_prob =
        decoder_.characters() > 0 ? decoder_.log_prob() / static_cast<double>(decoder_.characters()) : 0;
    return log_prob - kRepeatWeight * repeated_share({poem_.text});
  }
  const std::u32string& text() const { return poem_.text; }

  SampledPoem finish() {
    poem_.lines = split_lines(poem_.text);
    poem_.log_prob = decoder_.characters() > 0 ? decoder_.log_prob() / static_cast<double>(decoder_.characters()) : 0;
    poem_.repeated = repeated_share(poem_.lines);
    return poem_;
  }

  void write_line(size_t line) {
    const Decoder::Snapshot start = decoder_.snapshot();
    Line chosen;
    for (int attempt = 0;; ++attempt) {
      chosen = best_line(line);
      if (!o_.avoid_copies || !chosen.sampled || o_.rules->training_lines.count(chosen.text) == 0) break;
      // Greedy decoding would write the same line again.
      if (attempt == kCopyRetries || o_.temperature == 0) {
        ++poem_.lines_copied;
        break;
      }
      ++poem_.lines_resampled;
      decoder_.restore(start);
    }
    // A soft rhyme that missed leaves the rhyme to the lines that kept it.
    const int32_t end = vocab_.id_of(chosen.text.back());
    if (masks_ && plan_.pattern.rhymes(line) && can_rhyme(*o_.rules, rhymes_used_, end)) rhymes_used_.push_back(end);
    for (char32_t c : chosen.text) repeats_[vocab_.id_of(c)] = kRepeatDraw;
    poem_.text += chosen.text;
    const char32_t mark = line % 2 == 0 ? U'，' : U'。';
    decoder_.feed(known_id(vocab_, mark, "line-end"));
    poem_.text.push_back(mark);
  }

 private:
  struct Line {
    std::u32string text;
    double log_prob = -INFINITY;  // mean over its characters
    bool sampled = false;         // drew at least one character
    Decoder::Snapshot end;
  };

  bool rhymes(size_t line, size_t pos) const {
    return masks_ && pos + 1 == static_cast<size_t>(plan_.shape.chars) && plan_.pattern.rhymes(line);
  }

  // Decodes one line with `forced` characters; nullopt when the keyword at [keyword, keyword_end)
  // would end the line on a character that cannot rhyme where strict rhymes need one.
  std::optional<Line> decode_line(size_t line, const std::vector<int32_t>& forced, size_t keyword, size_t keyword_end) {
    Line result;
    const Decoder::Snapshot start = decoder_.snapshot();
    torch::Tensor repeats = repeats_.clone();  // (V) the poem's characters so far, this line's too
    for (size_t pos = 0; pos < forced.size(); ++pos) {
      int32_t id = forced[pos];
      if (id >= 0) {
        const bool in_keyword = pos >= keyword && pos < keyword_end;
        if (in_keyword && rhymes(line, pos) && o_.tones == ToneMode::kStrict &&
            !can_rhyme(*o_.rules, rhymes_used_, id)) {
          return std::nullopt;
        }
        decoder_.feed(id);
      } else {
        torch::Tensor mask = decoder_.masks().verse + repeats;
        if (masks_) {
          mask =
              mask + (rhymes(line, pos) ? masks_->rhyme(rhymes_used_) : masks_->tone(plan_.pattern.lines[line][pos]));
        }
        id = decoder_.sample(mask);
        result.sampled = true;
      }
      result.text.push_back(vocab_.character(id));
      repeats[id] = kRepeatDraw;
    }
    const auto n = static_cast<double>(decoder_.characters() - start.characters);
    result.log_prob = (decoder_.log_prob() - start.log_prob) / std::max(n, 1.0);
    result.end = decoder_.snapshot();
    return result;
  }

  // The line with its keyword at each place it may go, the likeliest kept.
  Line best_line(size_t line) {
    const Decoder::Snapshot start = decoder_.snapshot();
    const std::vector<int32_t>& word = plan_.keywords[line];
    const std::vector<size_t> starts = word.empty() ? std::vector<size_t>{0} : keyword_starts(plan_, line);
    std::optional<Line> best;
    for (size_t p : starts) {
      std::vector<int32_t> forced = plan_.forced[line];
      for (size_t k = 0; k < word.size(); ++k) forced[p + k] = word[k];
      decoder_.restore(start);
      std::optional<Line> candidate = decode_line(line, forced, p, p + word.size());
      if (candidate && (!best || candidate->log_prob > best->log_prob)) best = std::move(candidate);
    }
    if (!best) throw KeywordMisfit{line};
    decoder_.restore(best->end);
    return *best;
  }

  void write_free_verse() {
    size_t line = 0;
    bool line_start = true;
    for (int32_t id : plan_.prompt) {
      decoder_.feed(id);
      poem_.text.push_back(vocab_.character(id));
      line_start = is_line_end(vocab_.character(id));
      line += line_start;
    }
    while (static_cast<int64_t>(poem_.text.size()) < o_.max_chars) {
      if (line_start && !o_.acrostic.empty()) {
        if (line == o_.acrostic.size()) break;
        decoder_.feed(vocab_.id_of(o_.acrostic[line]));
        poem_.text.push_back(o_.acrostic[line]);
        line_start = false;
        continue;
      }
      // An acrostic's poem may not end before its last line.
      const bool may_end = line >= o_.acrostic.size();
      const int32_t id = decoder_.sample(may_end ? decoder_.masks().free : decoder_.masks().free_without_end);
      if (id == Vocabulary::kEos) break;
      const char32_t c = vocab_.character(id);
      poem_.text.push_back(c);
      line_start = is_line_end(c);
      line += line_start;
    }
  }

  const Vocabulary& vocab_;
  const Plan& plan_;
  const SampleOptions& o_;
  Decoder decoder_;
  std::shared_ptr<const VerseMasks> masks_;
  std::vector<int32_t> rhymes_used_;
  torch::Tensor repeats_;  // (V) kRepeatDraw at the characters of the lines written, else 0
  SampledPoem poem_;
};

// Line by line, the `width` best partial poems kept; every line draws `draws` lines in all,
// shared out among the poems kept (the first line all from the empty poem), each
// with a generator of its own.
SampledPoem beam_search(PoetModel& model, const Vocabulary& vocab, const Plan& plan, int64_t width, int64_t draws) {
  const SampleOptions& o = plan.options;
  std::vector<std::unique_ptr<PoemWriter>> beams;
  beams.push_back(std::make_unique<PoemWriter>(model, vocab, plan, mixed_seed(o.seed, o.form, 0)));
  for (size_t line = 0; line < static_cast<size_t>(plan.shape.lines); ++line) {
    throw_if_interrupted();
    std::vector<std::unique_ptr<PoemWriter>> children;
    for (size_t b = 0; b < beams.size(); ++b) {
      const size_t share = static_cast<size_t>(draws) / beams.size() + (b < static_cast<size_t>(draws) % beams.size());
      for (size_t k = 0; k < share; ++k) {
        auto child = std::make_unique<PoemWriter>(*beams[b]);
        child->reseed(mixed_seed(o.seed, o.form, (line + 1) * 1000003 + b * 1009 + k));
        try {
          child->write_line(line);
        } catch (const KeywordMisfit&) {
          continue;
        }
        children.push_back(std::move(child));
      }
    }
    if (children.empty()) throw KeywordMisfit{line};
    std::stable_sort(children.begin(), children.end(),
                     [](const auto& a, const auto& b) { return a->score() > b->score(); });
    beams.clear();
    std::set<std::u32string> kept;
    for (auto& child : children) {
      if (static_cast<int64_t>(beams.size()) < width && kept.insert(child->text()).second)
        beams.push_back(std::move(child));
    }
  }
  SampledPoem best = beams.front()->finish();
  best.candidates = draws;
  return best;
}

}  // namespace

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
      throw_if_interrupted();  // Ctrl-C stops a long evaluate or --num between candidates
      try {
        SampledPoem poem =
            PoemWriter(model, vocab, plan, mixed_seed(options.seed, options.form, static_cast<uint64_t>(k))).write();
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
