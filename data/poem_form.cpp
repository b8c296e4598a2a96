// classify_form(): counts lines ended by ，。？！； and their lengths.
#include "data/poem_form.h"

#include "data/text_cleaner.h"

namespace poet {

PoemForm classify_form(std::u32string_view text) {
  int lines = 0;
  size_t line_length = 0;
  size_t current = 0;
  for (char32_t c : text) {
    if (is_line_end(c)) {
      if (current == 0 || (lines > 0 && current != line_length)) return PoemForm::kFree;
      line_length = current;
      current = 0;
      ++lines;
    } else if (is_ideograph(c)) {
      ++current;
    } else {
      return PoemForm::kFree;  // 、 or ： inside a line: not regulated verse
    }
  }
  if (current != 0) return PoemForm::kFree;  // an unfinished last line
  if (line_length == 5 && lines == 4) return PoemForm::kWujue;
  if (line_length == 7 && lines == 4) return PoemForm::kQijue;
  if (line_length == 5 && lines == 8) return PoemForm::kWulv;
  if (line_length == 7 && lines == 8) return PoemForm::kQilv;
  return PoemForm::kFree;
}

bool is_regular(PoemForm form) { return form != PoemForm::kFree; }

const char* form_key(PoemForm form) {
  static constexpr std::array<const char*, kNumForms> kKeys = {"free", "wujue", "qijue", "wulv", "qilv"};
  return kKeys[static_cast<size_t>(form)];
}

const char* form_label(PoemForm form) {
  static constexpr std::array<const char*, kNumForms> kLabels = {"其他", "五绝", "七绝", "五律", "七律"};
  return kLabels[static_cast<size_t>(form)];
}

}  // namespace poet
