// Vocabulary construction order, the unknown token and the checksum.
#include "data/vocabulary.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/utf8.h"

namespace poet {
namespace {

TEST(Vocabulary, SpecialsFirstThenByCountThenCodePoint) {
  const Vocabulary v = Vocabulary::from_counts({{U'月', 5}, {U'光', 9}, {U'明', 5}, {U'霜', 1}}, 2);
  ASSERT_EQ(v.size(), 7u);
  EXPECT_EQ(v.token(Vocabulary::kPad), "<pad>");
  EXPECT_EQ(v.token(Vocabulary::kBos), "<bos>");
  EXPECT_EQ(v.token(Vocabulary::kEos), "<eos>");
  EXPECT_EQ(v.token(Vocabulary::kUnk), "<unk>");
  EXPECT_EQ(v.token(4), "光");
  EXPECT_EQ(v.token(5), "明");  // U+660E before U+6708: ties broken by code point
  EXPECT_EQ(v.token(6), "月");
  EXPECT_EQ(v.id_of(U'霜'), Vocabulary::kUnk);  // below min_count
  EXPECT_EQ(v.id_of(U'月'), 6);
  EXPECT_EQ(v.character(6), U'月');
}

TEST(Vocabulary, DecodesAndRoundTripsThroughTokens) {
  const Vocabulary v = Vocabulary::from_counts({{U'春', 3}, {U'眠', 2}}, 1);
  const std::vector<int32_t> ids = {v.id_of(U'春'), v.id_of(U'眠'), Vocabulary::kUnk};
  EXPECT_EQ(v.decode(ids.data(), ids.size()), "春眠<unk>");
  const Vocabulary copy = Vocabulary::from_tokens(v.tokens());
  EXPECT_EQ(copy.checksum(), v.checksum());
  EXPECT_EQ(copy.id_of(U'眠'), v.id_of(U'眠'));
}

TEST(Vocabulary, ChecksumChangesWithTheTokens) {
  const Vocabulary a = Vocabulary::from_counts({{U'春', 3}, {U'眠', 2}}, 1);
  const Vocabulary b = Vocabulary::from_counts({{U'春', 2}, {U'眠', 3}}, 1);
  EXPECT_NE(a.checksum(), b.checksum());
}

TEST(Vocabulary, RejectsBadStoredTokens) {
  EXPECT_THROW(Vocabulary::from_tokens({"<pad>", "<bos>"}), Error);
  EXPECT_THROW(Vocabulary::from_tokens({"<pad>", "<bos>", "<eos>", "<oops>"}), Error);
  EXPECT_THROW(Vocabulary::from_tokens({"<pad>", "<bos>", "<eos>", "<unk>", "春", "春"}), Error);
  EXPECT_THROW(Vocabulary::from_tokens({"<pad>", "<bos>", "<eos>", "<unk>", "春眠"}), Error);
}

}  // namespace
}  // namespace poet
