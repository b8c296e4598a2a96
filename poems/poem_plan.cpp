// make_plan(): prompt, acrostic and keywords checked and placed, the tone pattern chosen.
#include "poems/poem_plan.h"

#include <algorithm>
#include <random>

#include "common/error.h"
#include "common/utf8.h"
#include "data/text_cleaner.h"

namespace poet {

int32_t known_id(const Vocabulary& vocab, char32_t c, const char* what) {
  const int32_t id = vocab.id_of(c);
  if (id == Vocabulary::kUnk) {
    throw Error(std::string(what) + " character '" + utf8_encode(std::u32string(1, c)) +
                "' is not in the model's vocabulary");
  }
  return id;
}

uint64_t mixed_seed(uint64_t seed, PoemForm form, uint64_t salt) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (1 + static_cast<uint64_t>(form) * 131 + salt);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string line_number(size_t line) { return "line " + std::to_string(line + 1); }

namespace {

bool tones_allow(const Plan& plan, size_t line, size_t pos, int32_t id) {
  if (plan.options.tones != ToneMode::kStrict) return true;
  return tone_fits(plan.options.rules->tone_of(id), plan.pattern.lines[line][pos]);
}

}  // namespace

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

namespace {

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

}  // namespace

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

}  // namespace poet
