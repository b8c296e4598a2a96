// The cleaning rules that turn a poem's raw paragraphs into the verse the model learns from.
// Each rule is counted in CleanStats, and the report prints the totals. In order:
//  1. notes in （…） (…) 〔…〕 〖…〗 【…】 are removed; an unclosed note runs to the end of the
//     text, a stray closer is dropped (both counted as unbalanced);
//  2. a character the corpus cannot encode — {composed} by components, an ideographic
//     description sequence (⿰木養), or a private-use code point — becomes one unknown
//     character, so the line keeps its length;
//  3. editorial brackets [襟] ［…］ are unwrapped: they hold verse an editor restored;
//  4. punctuation is normalised to ，。？！；：、 and everything else that is not a Chinese
//     character (Latin letters, digits, quotes, 《》, spaces) is dropped as junk, as is a mark
//     that follows another mark or starts the poem;
//  5. a poem with a lost character (□ ■ ●) in its verse, or with no character left, is dropped.
#pragma once

#include <string>
#include <string_view>

namespace poet {

// Stands for one character that cannot be encoded; always maps to the unknown token.
constexpr char32_t kUnencodable = 0xFFFD;

enum class CleanOutcome { kKept, kEmpty, kLostCharacters };

struct CleanStats {
  long notes_removed = 0;
  long unbalanced_brackets = 0;
  long unencodable = 0;
  long editorial_brackets = 0;
  long punctuation_normalised = 0;
  long junk_removed = 0;

  CleanStats& operator+=(const CleanStats& o);
};

struct CleanedPoem {
  std::u32string text;
  CleanOutcome outcome = CleanOutcome::kKept;
};

CleanedPoem clean_poem(std::u32string_view raw, CleanStats& stats);

bool is_ideograph(char32_t c);
// ，。？！； end a line of verse (、 and ： stay inside one).
bool is_line_end(char32_t c);
bool is_verse_punctuation(char32_t c);

}  // namespace poet
