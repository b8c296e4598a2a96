// Each cleaning rule of data/text_cleaner.h, on its own, with the count it adds to.
#include "data/text_cleaner.h"

#include <gtest/gtest.h>

#include "common/utf8.h"

namespace poet {
namespace {

struct Cleaned {
  std::string text;
  CleanOutcome outcome;
  CleanStats stats;
};

Cleaned clean(const std::string& raw) {
  Cleaned c;
  const CleanedPoem poem = clean_poem(utf8_decode(raw), c.stats);
  c.text = utf8_encode(poem.text);
  c.outcome = poem.outcome;
  return c;
}

TEST(TextCleaner, KeepsCleanVerseUnchanged) {
  const Cleaned c = clean("床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。");
  EXPECT_EQ(c.text, "床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。");
  EXPECT_EQ(c.outcome, CleanOutcome::kKept);
  EXPECT_EQ(c.stats.junk_removed, 0);
  EXPECT_EQ(c.stats.notes_removed, 0);
}

TEST(TextCleaner, RemovesNotesInEveryBracketKind) {
  const Cleaned c = clean("遠去更宜長（辛本作「良」）。秦川〔一作山〕雄帝宅〖注〗，函谷【校】壯皇居(note)。");
  EXPECT_EQ(c.text, "遠去更宜長。秦川雄帝宅，函谷壯皇居。");
  EXPECT_EQ(c.stats.notes_removed, 5);
  EXPECT_EQ(c.stats.unbalanced_brackets, 0);
}

TEST(TextCleaner, NestedNoteIsOneNote) {
  const Cleaned c = clean("春眠不覺曉（甲（乙）丙），處處聞啼鳥。");
  EXPECT_EQ(c.text, "春眠不覺曉，處處聞啼鳥。");
  EXPECT_EQ(c.stats.notes_removed, 1);
}

TEST(TextCleaner, UnclosedNoteRunsToTheEndAndStrayCloserIsDropped) {
  const Cleaned open = clean("春眠不覺曉，處處聞啼鳥。（按：此詩又見");
  EXPECT_EQ(open.text, "春眠不覺曉，處處聞啼鳥。");
  EXPECT_EQ(open.stats.unbalanced_brackets, 1);
  const Cleaned stray = clean("）春眠不覺曉，處處聞啼鳥。");
  EXPECT_EQ(stray.text, "春眠不覺曉，處處聞啼鳥。");
  EXPECT_EQ(stray.stats.unbalanced_brackets, 1);
}

TEST(TextCleaner, UnencodableCharactersBecomeOneUnknownEach) {
  const Cleaned braces = clean("此流又高懸，{汸番}{汸番}在長空。");
  EXPECT_EQ(braces.text, "此流又高懸，\uFFFD\uFFFD在長空。");
  EXPECT_EQ(braces.stats.unencodable, 2);
  const Cleaned ids = clean("⿰木養深黃狖小，地煗白雲多。");
  EXPECT_EQ(ids.text, "\uFFFD深黃狖小，地煗白雲多。");  // the line keeps its five characters
  EXPECT_EQ(ids.stats.unencodable, 1);
  const Cleaned pua = clean("分明\ue829\ue829羽林槍。");
  EXPECT_EQ(pua.text, "分明\uFFFD\uFFFD羽林槍。");
  EXPECT_EQ(pua.stats.unencodable, 2);
}

TEST(TextCleaner, EditorialBracketsKeepTheirVerse) {
  const Cleaned c = clean("停杯試北望，還欲淚沾[襟]。辛苦[皋蘭]北，胡霜［損］漢兵。");
  EXPECT_EQ(c.text, "停杯試北望，還欲淚沾襟。辛苦皋蘭北，胡霜損漢兵。");
  EXPECT_EQ(c.stats.editorial_brackets, 3);
}

TEST(TextCleaner, NormalisesHalfWidthPunctuation) {
  const Cleaned c = clean("床前明月光,疑是地上霜.誰知?莫問!且住;聽:");
  EXPECT_EQ(c.text, "床前明月光，疑是地上霜。誰知？莫問！且住；聽：");
  EXPECT_EQ(c.stats.punctuation_normalised, 6);
}

TEST(TextCleaner, DropsLatinDigitsQuotesAndSpaces) {
  const Cleaned c = clean("ABC春 眠123不覺曉，童子解吟《長恨曲》「好」。");
  EXPECT_EQ(c.text, "春眠不覺曉，童子解吟長恨曲好。");
  EXPECT_EQ(c.stats.junk_removed, 11);
}

TEST(TextCleaner, DropsRepeatedAndLeadingMarks) {
  const Cleaned c = clean("。春眠不覺曉。，處處聞啼鳥？。");
  EXPECT_EQ(c.text, "春眠不覺曉。處處聞啼鳥？");
  EXPECT_EQ(c.stats.junk_removed, 3);
}

TEST(TextCleaner, LostCharactersDropThePoem) {
  EXPECT_EQ(clean("□□□滿山，花落始知靜。").outcome, CleanOutcome::kLostCharacters);
  EXPECT_EQ(clean("苦哉●眼士，認得止啼錢。").outcome, CleanOutcome::kLostCharacters);
  // A lost character inside a note is not a lost character of the verse.
  EXPECT_EQ(clean("春眠不覺曉（□本作曙），處處聞啼鳥。").outcome, CleanOutcome::kKept);
}

TEST(TextCleaner, PoemsWithoutCharactersAreEmpty) {
  EXPECT_EQ(clean("").outcome, CleanOutcome::kEmpty);
  EXPECT_EQ(clean("（全是注文）").outcome, CleanOutcome::kEmpty);
  EXPECT_EQ(clean("123, abc.").outcome, CleanOutcome::kEmpty);
}

}  // namespace
}  // namespace poet
