// The four regular forms of Tang verse, recognised from cleaned text: 五绝 and 七绝 (4 lines
// of 5 or 7 characters), 五律 and 七律 (8 lines). Anything else is free verse. The shapes are
// kept in one table here; the classifier, the sampler and the tone patterns all read it.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace poet {

enum class PoemForm : uint8_t { kFree = 0, kWujue = 1, kQijue = 2, kWulv = 3, kQilv = 4 };
constexpr int kNumForms = 5;
constexpr std::array<PoemForm, 4> kRegularForms = {PoemForm::kWujue, PoemForm::kQijue, PoemForm::kWulv,
                                                   PoemForm::kQilv};

struct FormShape {
  int lines = 0;
  int chars = 0;  // a line, punctuation not counted
};
// {0, 0} for free verse.
FormShape form_shape(PoemForm form);

PoemForm classify_form(std::u32string_view cleaned_text);
bool is_regular(PoemForm form);
// "wujue", "qijue", "wulv", "qilv", "free".
const char* form_key(PoemForm form);
// "五绝" ... "七律", "其他" for free verse: for people.
const char* form_label(PoemForm form);

}  // namespace poet
