// PoemWriter: one poem of a Plan, line by line (keywords placed, copies retried, rhymes kept);
// write_poem() and beam_search() on top of it.
#include "poems/poem_writer.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <set>

#include "data/text_cleaner.h"
#include "poems/decoder.h"

namespace poet {

namespace {

constexpr int kCopyRetries = 20;

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
    // Without a pattern (tones off) a regular poem still rhymes where every pattern does.
    for (size_t line = 0; line < static_cast<size_t>(plan_.shape.lines); ++line) {
      if (masks_ ? plan_.pattern.rhymes(line) : line % 2 == 1) poem_.rhyme_lines.push_back(line);
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
  double score() const { return mean_log_prob() - kRepeatWeight * repeated_share({poem_.text}); }
  const std::u32string& text() const { return poem_.text; }

  SampledPoem finish() {
    poem_.lines = split_lines(poem_.text);
    poem_.log_prob = mean_log_prob();
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

  double mean_log_prob() const {
    return decoder_.characters() > 0 ? decoder_.log_prob() / static_cast<double>(decoder_.characters()) : 0;
  }

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

}  // namespace

SampledPoem write_poem(PoetModel& model, const Vocabulary& vocab, const Plan& plan, uint64_t seed) {
  return PoemWriter(model, vocab, plan, seed).write();
}

// with a generator of its own.
SampledPoem beam_search(PoetModel& model, const Vocabulary& vocab, const Plan& plan, int64_t width, int64_t draws) {
  const SampleOptions& o = plan.options;
  std::vector<std::unique_ptr<PoemWriter>> beams;
  beams.push_back(std::make_unique<PoemWriter>(model, vocab, plan, mixed_seed(o.seed, o.form, 0)));
  for (size_t line = 0; line < static_cast<size_t>(plan.shape.lines); ++line) {
    throw_if_stopped(o);
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

}  // namespace poet
