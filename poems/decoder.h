// One poem's decoding, token by token: the model's state, the draw (temperature, top-k, top-p;
// greedy at temperature 0) under a mask over the vocabulary, and the model's own log-probability
// of every Chinese character fed, which candidates are chosen by. VerseMasks turns tone marks and
// rhymes into such masks.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "data/verse_rules.h"
#include "data/vocabulary.h"
#include "model/poet_model.h"
#include "poems/sampler.h"

namespace poet {

// Masks over the vocabulary (0 where allowed, -inf elsewhere), built once for all candidates.
struct VocabularyMasks {
  explicit VocabularyMasks(const Vocabulary& vocab);
  torch::Tensor verse;             // Chinese characters only
  torch::Tensor free;              // anything but <unk> and the specials but <eos>
  torch::Tensor free_without_end;  // ... and not <eos>
};

class Decoder {
 public:
  Decoder(PoetModel& model, const Vocabulary& vocab, const VocabularyMasks& masks, const SampleOptions& options,
          uint64_t seed);

  // A generator of its own from here on, for a copy that is to write on differently.
  void reseed(uint64_t seed) { rng_.seed(seed); }

  // Feeds a token: forced, or drawn by sample().
  void feed(int32_t id);
  // Draws a token allowed by `mask` (0 where allowed, a penalty or -inf elsewhere) and feeds it.
  int32_t sample(const torch::Tensor& mask);

  // The state between two tokens, to decode a line again from its start.
  struct Snapshot {
    LstmState state;
    bool has_state = false;
    torch::Tensor logits;
    double log_prob = 0;
    int64_t characters = 0;
  };
  Snapshot snapshot() const;
  void restore(const Snapshot& s);

  // Sum of log p(character | what precedes) under the model (temperature 1, no mask) over the
  // Chinese characters fed so far, and their number.
  double log_prob() const { return log_prob_; }
  int64_t characters() const { return characters_; }

  const VocabularyMasks& masks() const { return masks_; }

 private:
  PoetModel& model_;
  const Vocabulary& vocab_;
  const SampleOptions& options_;
  const VocabularyMasks& masks_;
  std::mt19937_64 rng_;
  torch::Tensor logits_;  // (V) fp32, for the next token
  LstmState state_;
  bool has_state_ = false;
  double log_prob_ = 0;
  int64_t characters_ = 0;
};

// Soft tones divide the probability of a character that does not fit by 10, soft rhymes by 10^5.
// Strict ones make it vanish (exp underflows to 0) yet stay finite: should nothing fit, the choice
// falls back to the model's own preference instead of a division by zero.
class VerseMasks {
 public:
  VerseMasks(const VerseRules& rules, size_t vocab_size, ToneMode mode);

  // 0 where a character fits the pattern mark ('P', 'Z', '*'), the mode's penalty elsewhere.
  torch::Tensor tone(char mark) const;
  // At a rhyme: 0 where can_rhyme(), the rhyme penalty elsewhere; a character of `used` far lower still
  // (repeating a rhyme beats leaving the group, when nothing else is left).
  torch::Tensor rhyme(const std::vector<int32_t>& used) const;

 private:
  const VerseRules& rules_;
  double penalty_;
  double rhyme_penalty_;
  torch::Tensor level_misfit_;
  torch::Tensor oblique_misfit_;
};

// May `id` end a rhyming line after the rhymes `used`? With rhyme groups: when it rhymes in a
// group all of them rhyme in (any group at the first rhyme). With tones alone: a level tone.
bool can_rhyme(const VerseRules& rules, const std::vector<int32_t>& used, int32_t id);

}  // namespace poet
