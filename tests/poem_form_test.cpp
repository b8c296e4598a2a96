// Regular-form recognition on cleaned text.
#include "data/poem_form.h"

#include <gtest/gtest.h>

#include <string>

#include "common/utf8.h"

namespace poet {
namespace {

PoemForm form_of(const std::string& text) { return classify_form(utf8_decode(text)); }

TEST(PoemForm, RecognisesTheFourRegularForms) {
  EXPECT_EQ(form_of("床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。"), PoemForm::kWujue);
  EXPECT_EQ(form_of("朝辭白帝彩雲間，千里江陵一日還。兩岸猿聲啼不住，輕舟已過萬重山。"), PoemForm::kQijue);
  EXPECT_EQ(form_of("國破山河在，城春草木深。感時花濺淚，恨別鳥驚心。烽火連三月，家書抵萬金。白頭搔更短，渾欲不勝簪。"),
            PoemForm::kWulv);
  EXPECT_EQ(form_of("風急天高猿嘯哀，渚清沙白鳥飛回。無邊落木蕭蕭下，不盡長江滾滾來。萬里悲秋常作客，百年多病獨登臺。"
                    "艱難苦恨繁霜鬢，潦倒新停濁酒杯。"),
            PoemForm::kQilv);
}

TEST(PoemForm, EverythingElseIsFree) {
  EXPECT_EQ(form_of("床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉"), PoemForm::kFree);      // unfinished line
  EXPECT_EQ(form_of("床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉兮。"), PoemForm::kFree);  // 6 characters
  EXPECT_EQ(form_of("床前明月光，疑是地上霜。"), PoemForm::kFree);                            // 2 lines
  EXPECT_EQ(form_of("床前明月光，疑是地上霜。舉頭、望明，低頭思故鄉。"), PoemForm::kFree);    // 、 inside
  EXPECT_EQ(form_of(""), PoemForm::kFree);
}

TEST(PoemForm, EachShapeIsClassifiedAsItsForm) {
  EXPECT_EQ(form_shape(PoemForm::kFree).lines, 0);
  EXPECT_EQ(form_shape(PoemForm::kQijue).lines, 4);
  EXPECT_EQ(form_shape(PoemForm::kQijue).chars, 7);
  EXPECT_EQ(form_shape(PoemForm::kWulv).lines, 8);
  EXPECT_EQ(form_shape(PoemForm::kWulv).chars, 5);
  for (PoemForm form : kRegularForms) {
    const FormShape shape = form_shape(form);
    std::u32string text;
    for (int line = 0; line < shape.lines; ++line) text += std::u32string(shape.chars, U'山') + U"。";
    EXPECT_EQ(classify_form(text), form) << form_label(form);
  }
}

TEST(PoemForm, NamesAreStable) {
  EXPECT_STREQ(form_key(PoemForm::kQilv), "qilv");
  EXPECT_STREQ(form_label(PoemForm::kWujue), "五绝");
  EXPECT_FALSE(is_regular(PoemForm::kFree));
  EXPECT_TRUE(is_regular(PoemForm::kWulv));
}

}  // namespace
}  // namespace poet
