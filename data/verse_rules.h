// What a reader of Tang poems checks, as data: each character's tone (平 level, 仄 oblique, or
// both), the standard tone patterns of regulated verse, rhyme groups learned from the corpus,
// and the training set's lines (so that a generated line copied from it can be caught).
//
// Rhyme groups: no 平水韵 table ships in Debian's or npm's registries, so groups are learned.
// The even lines of a regulated poem end on characters of one rhyme; two level-tone characters
// that end rhyming lines of the same training poem at least kRhymeMinCount times, in at least
// kRhymeMinShare of the rarer one's poems, are joined (union-find). measure_rhyme_agreement()
// scores the groups on held-out poems: the share whose rhymes fall in one group, beside the
// share expected by chance.
#pragma once

#include <cstdint>
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

struct VerseRules {
  std::vector<CharTone> tone;        // by token id
  std::vector<int32_t> rhyme_group;  // by token id; -1: none learned
  int32_t rhyme_groups = 0;
  std::unordered_set<std::u32string> training_lines;  // lines of the training split, no punctuation

  // By token id, as the tables above; kUnknown and -1 beyond them (tone-only rules, or a
  // vocabulary larger than the table).
  CharTone tone_of(int32_t id) const;
  int32_t rhyme_group_of(int32_t id) const;
};

// A line's tones as 平 仄 中 (both) ？ (unknown), one a Chinese character.
std::string tone_marks(const std::u32string& line, const Vocabulary& vocab, const VerseRules& rules);

// From a dataset written by prepare: its tone table, its training split's regular poems (rhyme
// groups) and lines.
VerseRules load_verse_rules(const DatasetFile& file);
// The tone table alone (no rhyme groups, no lines), read from /vocab without touching the
// splits: what a training rank may read beside its own shards.
VerseRules load_tone_rules(const DatasetFile& file);

struct PoemLines {
  PoemForm form;
  std::vector<std::u32string> lines;  // punctuation removed
};

// Every poem of `split`, as lines, from one read of its tokens.
std::vector<PoemLines> poems_as_lines(const DatasetFile& file, Split split);

RhymeAgreement measure_rhyme_agreement(const VerseRules& rules, const DatasetFile& file, Split split);

}  // namespace poet
