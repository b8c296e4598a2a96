// sample_poem(): token-by-token decoding with masks for the form, temperature, top-k, top-p.
#include "poems/sampler.h"

#include <torch/nn/functional/activation.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

#include "common/error.h"
#include "common/utf8.h"
#include "data/text_cleaner.h"

namespace poet {

namespace {

class Decoder {
 public:
  Decoder(PoetModel& model, const Vocabulary& vocab, const SampleOptions& options)
      : model_(model), vocab_(vocab), options_(options), rng_(options.seed) {
    const auto v = static_cast<int64_t>(vocab.size());
    verse_mask_ = torch::full({v}, -INFINITY);
    free_mask_ = torch::full({v}, -INFINITY);
    for (int64_t id = Vocabulary::kNumSpecial; id < v; ++id) {
      const char32_t c = vocab.character(static_cast<int32_t>(id));
      if (is_ideograph(c) && c != kUnencodable) verse_mask_[id] = 0.0;
      if (c != kUnencodable) free_mask_[id] = 0.0;
    }
    free_mask_without_end_ = free_mask_.clone();
    free_mask_[Vocabulary::kEos] = 0.0;
    feed(Vocabulary::kBos);
  }

  // Feeds a forced token.
  void feed(int32_t id) {
    const torch::Tensor input = torch::tensor({{static_cast<int64_t>(id)}}, torch::kInt64).to(device());
    auto [logits, state] = model_->forward(input, has_state_ ? &state_ : nullptr);
    state_ = state;
    has_state_ = true;
    logits_ = logits.reshape({-1}).to(torch::kCPU, torch::kFloat32);  // (V)
  }

  // Samples a token allowed by `mask` (0 where allowed, -inf elsewhere) and feeds it.
  int32_t sample(const torch::Tensor& mask) {
    torch::Tensor scores = logits_ / std::max(options_.temperature, 1e-4) + mask;
    torch::Tensor probs = torch::softmax(scores, 0);
    if (options_.top_k > 0 && options_.top_k < probs.size(0)) {
      const auto kth = std::get<0>(probs.topk(options_.top_k)).min();
      probs = torch::where(probs >= kth, probs, torch::zeros_like(probs));
    }
    if (options_.top_p < 1.0) {
      auto [sorted, indices] = probs.sort(/*dim=*/0, /*descending=*/true);
      const torch::Tensor before = sorted.cumsum(0) - sorted;  // mass of the more likely tokens
      sorted = torch::where(before < options_.top_p, sorted, torch::zeros_like(sorted));
      probs = torch::zeros_like(probs).scatter(0, indices, sorted);
    }
    const auto p = probs.contiguous();
    const float* data = p.data_ptr<float>();
    double total = 0;
    for (int64_t i = 0; i < p.size(0); ++i) total += data[i];
    double u = std::uniform_real_distribution<double>(0.0, total)(rng_);
    int32_t chosen = -1;
    for (int64_t i = 0; i < p.size(0); ++i) {
      if (data[i] <= 0) continue;
      chosen = static_cast<int32_t>(i);
      u -= data[i];
      if (u <= 0) break;
    }
    feed(chosen);
    return chosen;
  }

  // The decoder's state between two tokens, to sample a line again from its start.
  struct Snapshot {
    LstmState state;
    bool has_state;
    torch::Tensor logits;
  };
  Snapshot snapshot() const { return {state_, has_state_, logits_}; }
  void restore(const Snapshot& s) {
    state_ = s.state;
    has_state_ = s.has_state;
    logits_ = s.logits;
  }

  const torch::Tensor& verse_mask() const { return verse_mask_; }
  const torch::Tensor& free_mask() const { return free_mask_; }
  const torch::Tensor& free_mask_without_end() const { return free_mask_without_end_; }

 private:
  torch::Device device() const { return model_->parameters().front().device(); }

  PoetModel& model_;
  const Vocabulary& vocab_;
  const SampleOptions& options_;
  std::mt19937_64 rng_;
  torch::Tensor verse_mask_;
  torch::Tensor free_mask_;
  torch::Tensor free_mask_without_end_;
  torch::Tensor logits_;
  LstmState state_;
  bool has_state_ = false;
};

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

constexpr int kCopyRetries = 20;
// Soft tones divide the probability of a character that does not fit by 10. Strict ones make
// it vanish (exp underflows to 0) yet stay finite: should nothing fit, the choice falls back to
// the model's own preference instead of a division by zero.
const double kSoftPenalty = std::log(0.1);
constexpr double kStrictPenalty = -1e9;
constexpr double kRepeatPenalty = -1e6;

// Masks for tone patterns and rhymes over the vocabulary: 0 where allowed, a penalty elsewhere.
class VerseMasks {
 public:
  VerseMasks(const VerseRules& rules, size_t vocab_size, ToneMode mode)
      : penalty_(mode == ToneMode::kStrict ? kStrictPenalty : kSoftPenalty), have_groups_(rules.rhyme_groups > 0) {
    std::vector<float> level(vocab_size, 0), oblique(vocab_size, 0), group(vocab_size, -1);
    for (size_t i = 0; i < vocab_size; ++i) {
      const auto id = static_cast<int32_t>(i);
      level[i] = tone_fits(rules.tone_of(id), 'P') ? 0.f : 1.f;
      oblique[i] = tone_fits(rules.tone_of(id), 'Z') ? 0.f : 1.f;
      group[i] = static_cast<float>(rules.rhyme_group_of(id));
    }
    level_misfit_ = torch::tensor(level);
    oblique_misfit_ = torch::tensor(oblique);
    group_ = torch::tensor(group);
  }

  torch::Tensor tone(char mark) const {
    if (mark == '*') return torch::zeros_like(group_);
    return (mark == 'P' ? level_misfit_ : oblique_misfit_) * penalty_;
  }
  // A rhyme: level tone, in `group` (any group while it is -1), not one of `used`.
  torch::Tensor rhyme(int32_t group, const std::vector<int32_t>& used) const {
    // Without learned groups (tone-only rules) a rhyme is a level tone.
    torch::Tensor in_group = !have_groups_ ? torch::ones_like(group_, torch::kBool)
                             : group < 0   ? group_ >= 0
                                           : group_ == static_cast<float>(group);
    torch::Tensor mask =
        torch::where(in_group, torch::zeros_like(group_), torch::full_like(group_, penalty_)) + tone('P');
    // A rhyme character is not repeated, unless the group has no other left: then repeating it
    // beats leaving the group.
    for (int32_t id : used) mask[id] = std::min(mask[id].item<double>(), 0.0) + kRepeatPenalty;
    return mask;
  }

 private:
  double penalty_;
  bool have_groups_;
  torch::Tensor level_misfit_;
  torch::Tensor oblique_misfit_;
  torch::Tensor group_;
};

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

PoemForm parse_form(const std::string& text, const std::string& field) {
  for (int f = 0; f < kNumForms; ++f) {
    if (text == form_key(static_cast<PoemForm>(f))) return static_cast<PoemForm>(f);
  }
  throw Error(field + ": '" + text + "' is not a form, expected wujue, qijue, wulv, qilv or free");
}

SampledPoem sample_poem(PoetModel& model, const Vocabulary& vocab, const SampleOptions& options) {
  std::u32string prompt;
  for (char32_t c : options.prompt) {
    if (!is_verse_punctuation(c) || options.form == PoemForm::kFree) prompt.push_back(c);
  }
  if (!prompt.empty() && !options.acrostic.empty()) throw Error("--prompt and --acrostic cannot be combined");
  for (char32_t c : prompt) known_id(vocab, c, "prompt");
  for (char32_t c : options.acrostic) known_id(vocab, c, "acrostic");

  torch::NoGradGuard no_grad;
  model->eval();
  Decoder decoder(model, vocab, options);
  SampledPoem poem;
  poem.form = options.form;
  poem.seed = options.seed;
  size_t forced = 0;  // prompt characters used

  const FormShape shape = form_shape(options.form);
  if (shape.lines > 0) {
    if (options.acrostic.size() > static_cast<size_t>(shape.lines)) {
      throw Error("acrostic has " + std::to_string(options.acrostic.size()) + " characters, but a " +
                  form_label(options.form) + " has " + std::to_string(shape.lines) + " lines");
    }
    if (prompt.size() > static_cast<size_t>(shape.lines * shape.chars)) {
      throw Error("prompt is longer than a whole " + std::string(form_label(options.form)));
    }
    if ((options.tones != ToneMode::kOff || options.avoid_copies) && options.rules == nullptr) {
      throw Error("tones and the copy check need the dataset's tone table and lines (give --data)");
    }
    std::unique_ptr<VerseMasks> masks;
    TonePattern pattern;
    if (options.tones != ToneMode::kOff) {
      masks = std::make_unique<VerseMasks>(*options.rules, vocab.size(), options.tones);
      const auto patterns = regulated_patterns(options.form);
      pattern = patterns[std::mt19937_64(options.seed ^ 0x9e3779b97f4a7c15ULL)() % patterns.size()];
      poem.pattern_name = pattern.name();
      poem.pattern = pattern.lines;
    }
    int32_t rhyme_group = -1;
    std::vector<int32_t> rhymes_used;
    for (int line = 0; line < shape.lines; ++line) {
      const Decoder::Snapshot line_start = decoder.snapshot();
      const size_t forced_at_start = forced;
      const int32_t group_at_start = rhyme_group;
      const size_t rhymes_at_start = rhymes_used.size();
      std::u32string text;
      for (int attempt = 0;; ++attempt) {
        bool sampled = false;
        for (int pos = 0; pos < shape.chars; ++pos) {
          int32_t id;
          if (pos == 0 && static_cast<size_t>(line) < options.acrostic.size()) {
            id = known_id(vocab, options.acrostic[static_cast<size_t>(line)], "acrostic");
            decoder.feed(id);
          } else if (forced < prompt.size()) {
            id = known_id(vocab, prompt[forced++], "prompt");
            decoder.feed(id);
          } else {
            torch::Tensor mask = decoder.verse_mask();
            if (masks) {
              const bool rhyme = pos == shape.chars - 1 && pattern.rhymes(static_cast<size_t>(line));
              mask = mask + (rhyme ? masks->rhyme(rhyme_group, rhymes_used)
                                   : masks->tone(pattern.lines[static_cast<size_t>(line)][static_cast<size_t>(pos)]));
            }
            id = decoder.sample(mask);
            sampled = true;
          }
          if (masks && pos == shape.chars - 1 && pattern.rhymes(static_cast<size_t>(line))) {
            if (rhyme_group < 0) rhyme_group = options.rules->rhyme_group_of(static_cast<int32_t>(id));
            rhymes_used.push_back(id);
          }
          text.push_back(vocab.character(id));
        }
        if (!options.avoid_copies || !sampled || options.rules->training_lines.count(text) == 0) break;
        if (attempt == kCopyRetries) {
          ++poem.lines_copied;
          break;
        }
        ++poem.lines_resampled;
        decoder.restore(line_start);
        forced = forced_at_start;
        rhyme_group = group_at_start;
        rhymes_used.resize(rhymes_at_start);
        text.clear();
      }
      poem.text += text;
      const char32_t mark = line % 2 == 0 ? U'，' : U'。';
      decoder.feed(known_id(vocab, mark, "line-end"));
      poem.text.push_back(mark);
    }
  } else {
    size_t line = 0;
    bool line_start = true;
    for (char32_t c : prompt) {
      decoder.feed(known_id(vocab, c, "prompt"));
      poem.text.push_back(c);
      line_start = is_line_end(c);
      line += line_start;
    }
    while (static_cast<int64_t>(poem.text.size()) < options.max_chars) {
      if (line_start && !options.acrostic.empty()) {
        if (line == options.acrostic.size()) break;
        const int32_t id = known_id(vocab, options.acrostic[line], "acrostic");
        decoder.feed(id);
        poem.text.push_back(options.acrostic[line]);
        line_start = false;
        continue;
      }
      // An acrostic's poem may not end before its last line.
      const bool may_end = line >= options.acrostic.size();
      const int32_t id = decoder.sample(may_end ? decoder.free_mask() : decoder.free_mask_without_end());
      if (id == Vocabulary::kEos) break;
      const char32_t c = vocab.character(id);
      poem.text.push_back(c);
      line_start = is_line_end(c);
      line += line_start;
    }
  }
  poem.lines = split_lines(poem.text);
  return poem;
}

}  // namespace poet
