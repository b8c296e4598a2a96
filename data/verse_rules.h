// What a reader of Tang poems checks, as data: each character's tone (平 level, 仄 oblique, or
// both), the standard tone patterns of regulated verse, the level rhyme groups a character may
// end a rhyming line in, and the training set's lines (so that a copied line can be caught).
//
// Rhyme groups come from one of two tables (RhymeSource):
// - the 平水韵, stored in the dataset by prepare (pingshui_table.h): a character rhymes in each
//   level group it stands in, and its tone is the table's (table_tone()), the corpus's only
//   where the table lacks it — the table wins for the regulated forms (pingshui_check.h says why);
// - groups learned from the corpus, with the corpus's tones: the even lines of a regulated poem
//   end on characters of one rhyme; two level-tone characters that end rhyming lines of the same
//   training poem at least kRhymeMinCount times, in at least kRhymeMinShare of the rarer one's
//   poems, are joined (union-find).
// measure_rhyme_agreement() scores either on held-out poems: the share whose rhymes share a
// group, beside the share expected by chance.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "data/dataset_file.h"
#include "data/poem_form.h"
#include "data/vocabulary.h"

namespace poet {

enum class CharTone : uint8_t { kUnknown, kLevel, kOblique, kBoth };

// Level, oblique, or both when the rarer reading is at least a fifth of the readings.
CharTone char_tone(const ToneCounts& counts);
// A character's tone from the 平水韵 groups it stands in: level or oblique when they all are,
// both otherwise; unknown when it stands in none.
CharTone table_tone(const std::vector<int16_t>& groups, const std::vector<uint8_t>& group_level);
// Does a character of tone `tone` fit pattern mark `mark` ('P' level, 'Z' oblique, '*' either)?
// An unknown tone fits only '*'.
bool tone_fits(CharTone tone, char mark);

// One regulated pattern: a string of P/Z/'*' a line ('*': the 一三五不论 positions).
struct TonePattern {
  std::vector<std::string> lines;
  bool level_start = false;        // 平起 (else 仄起)
  bool first_line_rhymes = false;  // 首句入韵
  // The lines whose last character rhymes: the even ones, and the first when it rhymes.
  bool rhymes(size_t line) const { return line % 2 == 1 || (line == 0 && first_line_rhymes); }
  std::string name() const;  // "平起首句入韵", ...
};

// The four patterns of a regular form (平起/仄起 x first line rhyming or not); empty for free verse.
std::vector<TonePattern> regulated_patterns(PoemForm form);

constexpr int64_t kRhymeMinCount = 4;
constexpr double kRhymeMinShare = 0.15;

struct RhymeAgreement {
  int64_t poems = 0;     // held-out regular poems with two or more grouped rhyme characters
  int64_t agreeing = 0;  // ... whose rhyme characters all fall in one group
  double chance = 0;     // the share two random rhyme characters would share a group
};

enum class RhymeSource { kPingshui, kLearned };
// pingshui|learned; throws poet::Error naming `field` otherwise.
RhymeSource parse_rhyme_source(const std::string& text, const std::string& field);

struct VerseRules {
  std::vector<CharTone> tone;                // by token id
  std::vector<std::vector<int32_t>> rhymes;  // by token id: the level groups it rhymes in, rising
  // By token id, the 平水韵's oblique groups it stands in, rising: regulated verse never rhymes in
  // them, but many real 绝句 do (春晓: 晓 鸟 少), and evaluate scores real poems by their rhyme.
  std::vector<std::vector<int32_t>> oblique_rhymes;
  int32_t rhyme_groups = 0;                           // group numbers run below this; 0: tones only
  std::vector<std::string> group_names;               // the 平水韵's, by group; empty for learned groups
  std::string rhyme_table;                            // which table, in words, for reports
  std::unordered_set<std::u32string> training_lines;  // lines of the training split, no punctuation

  // By token id, as the tables above; kUnknown and none beyond them (a vocabulary larger than
  // the table).
  CharTone tone_of(int32_t id) const;
  const std::vector<int32_t>& rhymes_of(int32_t id) const;
  std::string group_name(int32_t group) const;  // "下平声一先", or "group 12" for learned ones
};

// Token `id`'s groups in `by_token` (by token id); none beyond it.
const std::vector<int32_t>& groups_of(const std::vector<std::vector<int32_t>>& by_token, int32_t id);
// The groups of `by_token` (by token id, each rising) every one of `ids` stands in.
std::vector<int32_t> shared_groups(const std::vector<std::vector<int32_t>>& by_token, const std::vector<int32_t>& ids);
// The level groups every one of `ids` rhymes in (all of `ids`' first when it is alone).
inline std::vector<int32_t> shared_rhymes(const VerseRules& rules, const std::vector<int32_t>& ids) {
  return shared_groups(rules.rhymes, ids);
}

// A line's tones as 平 仄 中 (both) ？ (unknown), one a Chinese character.
std::string tone_marks(const std::u32string& line, const Vocabulary& vocab, const VerseRules& rules);

// From a dataset written by prepare: tones and rhymes from `source`, and the training split's
// lines. Without a source, the 平水韵 when the dataset holds it, else learned groups (and
// rhyme_table says why). Throws poet::Error naming the file when the 平水韵 is asked for and
// the dataset lacks it.
VerseRules load_verse_rules(const DatasetFile& file, std::optional<RhymeSource> source = std::nullopt);
// Tones alone (the 平水韵's where the dataset holds it), read without touching the splits: what
// a training rank may read beside its own shards. A rhyme is then any level tone.
VerseRules load_tone_rules(const DatasetFile& file);

struct PoemLines {
  PoemForm form;
  std::vector<std::u32string> lines;  // punctuation removed
};

// Every poem of `split`, as lines, from one read of its tokens.
std::vector<PoemLines> poems_as_lines(const DatasetFile& file, Split split);

RhymeAgreement measure_rhyme_agreement(const VerseRules& rules, const DatasetFile& file, Split split);

}  // namespace poet
