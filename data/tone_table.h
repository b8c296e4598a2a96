// The level/oblique tone (平仄) of each character, aggregated from the corpus's tone
// patterns (strains/json). A poem's text and its pattern are joined on the poem id, then
// paired line by line: line i of the text with line i of the pattern, character by character,
// and only when both lines have the same length and every Chinese character faces a mark
// (平 仄 ○, or ？ for unknown): 2,430 upstream entries are out of step, so a line that does not
// fit is skipped and counted. A character read both ways collects both counts.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace poet {

struct ToneCounts {
  int64_t level = 0;    // 平
  int64_t oblique = 0;  // 仄
  int64_t either = 0;   // ○: the pattern allows both here

  ToneCounts& operator+=(const ToneCounts& o) {
    level += o.level;
    oblique += o.oblique;
    either += o.either;
    return *this;
  }
};

using ToneTable = std::unordered_map<char32_t, ToneCounts>;

struct ToneJoinStats {
  long poems_with_pattern = 0;
  long poems_without_pattern = 0;
  long lines_aligned = 0;
  long lines_mismatched = 0;

  ToneJoinStats& operator+=(const ToneJoinStats& o);
};

// Adds one poem's raw text lines, paired with its pattern lines, to `table`.
void add_poem_tones(const std::vector<std::string>& text_lines, const std::vector<std::string>& pattern_lines,
                    ToneTable& table, ToneJoinStats& stats);

}  // namespace poet
