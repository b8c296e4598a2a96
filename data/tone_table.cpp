// add_poem_tones(): line pairing by character count.
#include "data/tone_table.h"

#include "common/utf8.h"
#include "data/text_cleaner.h"

namespace poet {

namespace {
bool is_tone_mark(char32_t c) { return c == U'平' || c == U'仄' || c == U'○' || c == U'？'; }
}  // namespace

ToneJoinStats& ToneJoinStats::operator+=(const ToneJoinStats& o) {
  poems_with_pattern += o.poems_with_pattern;
  poems_without_pattern += o.poems_without_pattern;
  lines_aligned += o.lines_aligned;
  lines_mismatched += o.lines_mismatched;
  return *this;
}

void add_poem_tones(const std::vector<std::string>& text_lines, const std::vector<std::string>& pattern_lines,
                    ToneTable& table, ToneJoinStats& stats) {
  std::u32string chars;
  std::u32string marks;
  for (size_t i = 0; i < text_lines.size(); ++i) {
    chars.clear();
    marks.clear();
    for (char32_t c : utf8_decode(text_lines[i])) {
      if (is_ideograph(c)) chars.push_back(c);
    }
    if (i < pattern_lines.size()) {
      for (char32_t c : utf8_decode(pattern_lines[i])) {
        if (is_tone_mark(c)) marks.push_back(c);
      }
    }
    if (chars.empty() || chars.size() != marks.size()) {
      ++stats.lines_mismatched;
      continue;
    }
    ++stats.lines_aligned;
    for (size_t k = 0; k < chars.size(); ++k) {
      ToneCounts& counts = table[chars[k]];
      if (marks[k] == U'平') ++counts.level;
      if (marks[k] == U'仄') ++counts.oblique;
      if (marks[k] == U'○') ++counts.either;
    }
  }
}

}  // namespace poet
