// Decoder and VerseMasks (see decoder.h).
#include "poems/decoder.h"

#include <torch/nn/functional/activation.h>

#include <algorithm>
#include <cmath>

#include "data/text_cleaner.h"

namespace poet {

namespace {

const double kSoftPenalty = std::log(0.1);
// Soft rhymes weigh far more than soft tones: a rhyme missed at one line of four is a poem that
// does not rhyme. Divided by 1000, the cpu-quick model's soft poems rhymed 75-90% of the time in
// evaluate, below the validation poems' 85-93%; by 100,000, 100%, while tones stay free to bend.
const double kSoftRhymePenalty = std::log(1e-5);
constexpr double kStrictPenalty = -1e9;
constexpr double kRepeatPenalty = -1e6;

}  // namespace

VocabularyMasks::VocabularyMasks(const Vocabulary& vocab) {
  std::vector<float> verse_mask(vocab.size(), -INFINITY), free_mask(vocab.size(), -INFINITY);
  for (size_t id = Vocabulary::kNumSpecial; id < vocab.size(); ++id) {
    const char32_t c = vocab.character(static_cast<int32_t>(id));
    if (is_ideograph(c) && c != kUnencodable) verse_mask[id] = 0.f;
    if (c != kUnencodable) free_mask[id] = 0.f;
  }
  verse = torch::tensor(verse_mask);
  free_without_end = torch::tensor(free_mask);
  free_mask[Vocabulary::kEos] = 0.f;
  free = torch::tensor(free_mask);
}

Decoder::Decoder(PoetModel& model, const Vocabulary& vocab, const VocabularyMasks& masks, const SampleOptions& options,
                 uint64_t seed)
    : model_(model), vocab_(vocab), options_(options), masks_(masks), rng_(seed) {
  feed(Vocabulary::kBos);
}

void Decoder::feed(int32_t id) {
  if (logits_.defined() && is_ideograph(vocab_.character(id))) {
    log_prob_ += (logits_[id] - logits_.logsumexp(0)).item<double>();
    ++characters_;
  }
  const torch::Tensor input = torch::tensor({{static_cast<int64_t>(id)}}, torch::kInt64).to(model_->device());
  auto [logits, state] = model_->forward(input, has_state_ ? &state_ : nullptr);
  state_ = state;
  has_state_ = true;
  logits_ = logits.reshape({-1}).to(torch::kCPU, torch::kFloat32);  // (V)
}

int32_t Decoder::sample(const torch::Tensor& mask) {
  int32_t chosen = -1;
  if (options_.temperature == 0) {
    chosen = static_cast<int32_t>((logits_ + mask).argmax().item<int64_t>());
    feed(chosen);
    return chosen;
  }
  torch::Tensor probs = torch::softmax(logits_ / options_.temperature + mask, 0);
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
  for (int64_t i = 0; i < p.size(0); ++i) {
    if (data[i] <= 0) continue;
    chosen = static_cast<int32_t>(i);
    u -= data[i];
    if (u <= 0) break;
  }
  feed(chosen);
  return chosen;
}

Decoder::Snapshot Decoder::snapshot() const { return {state_, has_state_, logits_, log_prob_, characters_}; }

void Decoder::restore(const Snapshot& s) {
  state_ = s.state;
  has_state_ = s.has_state;
  logits_ = s.logits;
  log_prob_ = s.log_prob;
  characters_ = s.characters;
}

namespace {

// can_rhyme() with the groups `used` share computed once: `open` is null at the first rhyme.
bool rhymes_within(const VerseRules& rules, const std::vector<int32_t>* open, int32_t id) {
  if (rules.rhyme_groups == 0) return tone_fits(rules.tone_of(id), 'P');
  const std::vector<int32_t>& groups = rules.rhymes_of(id);
  if (open == nullptr) return !groups.empty();
  return std::any_of(groups.begin(), groups.end(),
                     [&](int32_t g) { return std::binary_search(open->begin(), open->end(), g); });
}

}  // namespace

bool can_rhyme(const VerseRules& rules, const std::vector<int32_t>& used, int32_t id) {
  const std::vector<int32_t> open = shared_rhymes(rules, used);
  return rhymes_within(rules, used.empty() ? nullptr : &open, id);
}

VerseMasks::VerseMasks(const VerseRules& rules, size_t vocab_size, ToneMode mode)
    : rules_(rules),
      penalty_(mode == ToneMode::kStrict ? kStrictPenalty : kSoftPenalty),
      rhyme_penalty_(mode == ToneMode::kStrict ? kStrictPenalty : kSoftRhymePenalty) {
  std::vector<float> level(vocab_size, 0), oblique(vocab_size, 0);
  for (size_t i = 0; i < vocab_size; ++i) {
    const auto id = static_cast<int32_t>(i);
    level[i] = tone_fits(rules.tone_of(id), 'P') ? 0.f : 1.f;
    oblique[i] = tone_fits(rules.tone_of(id), 'Z') ? 0.f : 1.f;
  }
  level_misfit_ = torch::tensor(level);
  oblique_misfit_ = torch::tensor(oblique);
}

torch::Tensor VerseMasks::tone(char mark) const {
  if (mark == '*') return torch::zeros_like(level_misfit_);
  return (mark == 'P' ? level_misfit_ : oblique_misfit_) * penalty_;
}

torch::Tensor VerseMasks::rhyme(const std::vector<int32_t>& used) const {
  const auto v = level_misfit_.size(0);
  const std::vector<int32_t> open = shared_rhymes(rules_, used);
  std::vector<float> mask(static_cast<size_t>(v));
  for (int64_t id = 0; id < v; ++id) {
    const bool fits = rhymes_within(rules_, used.empty() ? nullptr : &open, static_cast<int32_t>(id));
    mask[static_cast<size_t>(id)] = fits ? 0.f : static_cast<float>(rhyme_penalty_);
  }
  for (int32_t id : used) mask[static_cast<size_t>(id)] = std::min(mask[static_cast<size_t>(id)], 0.f) + kRepeatPenalty;
  return torch::tensor(mask);
}

}  // namespace poet
