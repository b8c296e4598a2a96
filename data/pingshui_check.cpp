// check_rhyme_table(): coverage of the training text, and tone agreement with the corpus.
#include "data/pingshui_check.h"

#include <algorithm>

#include "common/utf8.h"
#include "data/text_cleaner.h"
#include "data/verse_rules.h"

namespace poet {

RhymeTableReport check_rhyme_table(const PingshuiTable& source, const RhymeTable& table, const Vocabulary& vocab,
                                   const std::vector<int64_t>& counts, const std::vector<ToneCounts>& tones) {
  RhymeTableReport r;
  r.path = source.path;
  r.groups = static_cast<long>(source.group_names.size());
  r.entries = static_cast<long>(source.entries);
  r.names_added = static_cast<long>(source.names_added);
  for (size_t id = Vocabulary::kNumSpecial; id < vocab.size(); ++id) {
    const auto token = static_cast<int32_t>(id);
    if (!is_ideograph(vocab.character(token))) continue;  // punctuation rhymes in no table
    const std::string character = utf8_encode(std::u32string(1, vocab.character(token)));
    const std::vector<int16_t> groups = table.groups_of(token);
    r.train_characters += counts[id];
    if (groups.empty()) {
      r.missing.push_back({character, counts[id]});
      continue;
    }
    ++r.vocab_covered;
    r.train_covered += counts[id];
    const CharTone in_table = table_tone(groups, table.group_level);
    const CharTone in_corpus = char_tone(tones[id]);
    const auto one_class = [](CharTone t) { return t == CharTone::kLevel || t == CharTone::kOblique; };
    if (!one_class(in_table) || !one_class(in_corpus)) continue;
    ++r.tones_compared;
    if (in_table == in_corpus) {
      ++r.tones_agreeing;
    } else {
      r.tones_disagreeing.push_back(
          {character, in_table == CharTone::kLevel ? "平" : "仄", tones[id].level, tones[id].oblique});
    }
  }
  std::stable_sort(r.missing.begin(), r.missing.end(),
                   [](const MissingCharacter& a, const MissingCharacter& b) { return a.count > b.count; });
  std::stable_sort(
      r.tones_disagreeing.begin(), r.tones_disagreeing.end(),
      [](const ToneDisagreement& a, const ToneDisagreement& b) { return a.level + a.oblique > b.level + b.oblique; });
  return r;
}

}  // namespace poet
