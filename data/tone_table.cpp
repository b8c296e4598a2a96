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
  for (size_t i = 0; i < text_lines.size(); ++i) {
    const std::u32string text = utf8_decode(text_lines[i]);
    const std::u32string marks = i < pattern_lines.size() ? utf8_decode(pattern_lines[i]) : std::u32string();
    bool in_step = text.size() == marks.size();
    for (size_t k = 0; in_step && k < text.size(); ++k) in_step = !is_ideograph(text[k]) || is_tone_mark(marks[k]);
    if (!in_step) {
      ++stats.lines_mismatched;
      continue;
    }
    ++stats.lines_aligned;
    for (size_t k = 0; k < text.size(); ++k) {
      if (!is_ideograph(text[k])) continue;  // punctuation, where the pattern repeats it or has ？
      ToneCounts& counts = table[text[k]];
      if (marks[k] == U'平') ++counts.level;
      if (marks[k] == U'仄') ++counts.oblique;
      if (marks[k] == U'○') ++counts.either;
    }
  }
}

}  // namespace poet
