// classify_form(): counts lines ended by ，。？！； and their lengths, and finds the form of that
// shape.
#include "data/poem_form.h"

#include "data/text_cleaner.h"

namespace poet {

FormShape form_shape(PoemForm form) {
  static constexpr std::array<FormShape, kNumForms> kShapes = {{{0, 0}, {4, 5}, {4, 7}, {8, 5}, {8, 7}}};
  return kShapes[static_cast<size_t>(form)];
}

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
  for (PoemForm form : kRegularForms) {
    const FormShape shape = form_shape(form);
    if (lines == shape.lines && line_length == static_cast<size_t>(shape.chars)) return form;
  }
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
