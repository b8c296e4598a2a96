// sample_poem(): token-by-token decoding with masks for the form, temperature, top-k, top-p.
#include "trainer/sampler.h"

#include <torch/nn/functional/activation.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "common/error.h"
#include "common/utf8.h"
#include "data/text_cleaner.h"

namespace poet {

namespace {

struct FormShape {
  int lines;
  int chars;
};

FormShape shape_of(PoemForm form) {
  switch (form) {
    case PoemForm::kWujue: return {4, 5};
    case PoemForm::kQijue: return {4, 7};
    case PoemForm::kWulv: return {8, 5};
    case PoemForm::kQilv: return {8, 7};
    default: return {0, 0};
  }
}

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

}  // namespace

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

  const FormShape shape = shape_of(options.form);
  if (shape.lines > 0) {
    if (options.acrostic.size() > static_cast<size_t>(shape.lines)) {
      throw Error("acrostic has " + std::to_string(options.acrostic.size()) + " characters, but a " +
                  form_label(options.form) + " has " + std::to_string(shape.lines) + " lines");
    }
    if (prompt.size() > static_cast<size_t>(shape.lines * shape.chars)) {
      throw Error("prompt is longer than a whole " + std::string(form_label(options.form)));
    }
    for (int line = 0; line < shape.lines; ++line) {
      for (int pos = 0; pos < shape.chars; ++pos) {
        int32_t id;
        if (pos == 0 && static_cast<size_t>(line) < options.acrostic.size()) {
          id = known_id(vocab, options.acrostic[static_cast<size_t>(line)], "acrostic");
          decoder.feed(id);
        } else if (forced < prompt.size()) {
          id = known_id(vocab, prompt[forced++], "prompt");
          decoder.feed(id);
        } else {
          id = decoder.sample(decoder.verse_mask());
        }
        poem.text.push_back(vocab.character(id));
      }
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
