// Tones and rhyme: the regulated patterns, character tones, poem scores, and decoding under
// tones strict|soft|off with the copy check, on an untrained model (whatever the weights, the
// constraints must hold) and hand-made rules over the fixture's vocabulary.
#include <gtest/gtest.h>

#include "common/error.h"
#include "common/utf8.h"
#include "data/dataset_file.h"
#include "data/text_cleaner.h"
#include "data/verse_rules.h"
#include "poems/evaluate.h"
#include "poems/sampler.h"
#include "test_support.h"
#include "untrained_model.h"

namespace poet {
namespace {

TEST(TonePatterns, FollowTheStandardRegulatedForms) {
  const auto wujue = regulated_patterns(PoemForm::kWujue);
  ASSERT_EQ(wujue.size(), 4u);
  // 仄起首句不入韵, as 白日依山尽 / 黄河入海流 / 欲穷千里目 / 更上一层楼; odd positions free.
  EXPECT_EQ(wujue[0].lines, (std::vector<std::string>{"*Z*PZ", "*P*ZP", "*P*ZZ", "*Z*PP"}));
  EXPECT_EQ(wujue[0].name(), "仄起首句不入韵");
  EXPECT_EQ(wujue[3].lines, (std::vector<std::string>{"*P*ZP", "*Z*PP", "*Z*PZ", "*P*ZP"}));
  EXPECT_EQ(wujue[3].name(), "平起首句入韵");
  EXPECT_TRUE(wujue[3].rhymes(0));
  EXPECT_FALSE(wujue[0].rhymes(0));
  EXPECT_TRUE(wujue[0].rhymes(3));
  // A seven-character line puts the opposite two tones first: ZZPPZ -> PPZZPPZ.
  const auto qijue = regulated_patterns(PoemForm::kQijue);
  EXPECT_EQ(qijue[0].lines[0], "*P*Z*PZ");
  EXPECT_EQ(qijue[0].name(), "平起首句不入韵");
  // A regulated eight-line poem repeats the unrhymed quatrain in its second half.
  const auto wulv = regulated_patterns(PoemForm::kWulv);
  ASSERT_EQ(wulv[1].lines.size(), 8u);
  EXPECT_EQ(wulv[1].lines[0], "*Z*PP");
  EXPECT_EQ(wulv[1].lines[4], "*Z*PZ");
  EXPECT_TRUE(regulated_patterns(PoemForm::kFree).empty());
}

TEST(CharTones, ReadBothWaysFitsBoth) {
  EXPECT_EQ(char_tone({10, 0, 0}), CharTone::kLevel);
  EXPECT_EQ(char_tone({1, 9, 0}), CharTone::kOblique);
  EXPECT_EQ(char_tone({2, 8, 0}), CharTone::kBoth);  // the rarer reading is a fifth
  EXPECT_EQ(char_tone({0, 0, 4}), CharTone::kUnknown);
  EXPECT_TRUE(tone_fits(CharTone::kBoth, 'P'));
  EXPECT_TRUE(tone_fits(CharTone::kBoth, 'Z'));
  EXPECT_FALSE(tone_fits(CharTone::kLevel, 'Z'));
  EXPECT_TRUE(tone_fits(CharTone::kOblique, '*'));
  EXPECT_FALSE(tone_fits(CharTone::kUnknown, 'P'));
  EXPECT_TRUE(tone_fits(CharTone::kUnknown, '*'));
}

TEST(CharTones, AreLookedUpByTokenAndMarkedForPeople) {
  const Vocabulary vocab = Vocabulary::from_tokens({"<pad>", "<bos>", "<eos>", "<unk>", "山", "水", "月", "花"});
  VerseRules rules;
  rules.tone = {CharTone::kUnknown, CharTone::kUnknown, CharTone::kUnknown, CharTone::kUnknown,
                CharTone::kLevel,   CharTone::kOblique, CharTone::kBoth};  // 花 beyond the table
  rules.rhyme_group = {-1, -1, -1, -1, 0};
  EXPECT_EQ(rules.tone_of(4), CharTone::kLevel);
  EXPECT_EQ(rules.tone_of(7), CharTone::kUnknown);
  EXPECT_EQ(rules.tone_of(-1), CharTone::kUnknown);
  EXPECT_EQ(rules.rhyme_group_of(4), 0);
  EXPECT_EQ(rules.rhyme_group_of(5), -1);
  EXPECT_EQ(tone_marks(U"山水，月花雪。", vocab, rules), "平仄中？？");  // 雪: not in the vocabulary
}

class Verse : public ::testing::Test {
 protected:
  void SetUp() override {
    test::write_fixture_dataset(dir_ / "d.h5", 40);
    const DatasetFile file(dir_ / "d.h5");
    vocab_ = file.vocab();
    // Every third character oblique, the others level in three rhyme groups.
    for (size_t id = 0; id < vocab_.size(); ++id) {
      const bool verse = id >= Vocabulary::kNumSpecial && is_ideograph(vocab_.character(static_cast<int32_t>(id)));
      rules_.tone.push_back(!verse ? CharTone::kUnknown : id % 3 == 0 ? CharTone::kOblique : CharTone::kLevel);
      rules_.rhyme_group.push_back(rules_.tone.back() == CharTone::kLevel ? static_cast<int32_t>(id % 9 / 3) : -1);
    }
    rules_.rhyme_groups = 3;
    model_ = test::untrained_model(static_cast<int64_t>(vocab_.size()));
  }

  std::vector<std::u32string> plain_lines(const SampledPoem& poem) {
    std::vector<std::u32string> lines;
    for (const auto& line : poem.lines) lines.push_back(line.substr(0, line.size() - 1));
    return lines;
  }

  // Mean scores of seeds 1..n of `form` under `mode`.
  PoemScores mean_scores(PoemForm form, ToneMode mode, int n) {
    PoemScores mean;
    SampleOptions o;
    o.form = form;
    o.tones = mode;
    o.rules = &rules_;
    for (int seed = 1; seed <= n; ++seed) {
      o.seed = static_cast<uint64_t>(seed);
      const PoemScores s = score_poem(plain_lines(sample_poem(model_, vocab_, o)), form, rules_, vocab_);
      mean.form += s.form / n;
      mean.tone += s.tone / n;
      mean.rhyme += s.rhyme / n;
    }
    return mean;
  }

  test::ScratchDir dir_;
  Vocabulary vocab_;
  VerseRules rules_;
  PoetModel model_{nullptr};
};

TEST_F(Verse, StrictTonesFitEveryPositionAndRhymeInOneGroup) {
  for (PoemForm form : kRegularForms) {
    const PoemScores s = mean_scores(form, ToneMode::kStrict, 8);
    EXPECT_EQ(s.form, 1.0) << form_label(form);
    EXPECT_DOUBLE_EQ(s.tone, 1.0) << form_label(form);
    EXPECT_DOUBLE_EQ(s.rhyme, 1.0) << form_label(form);
  }
}

TEST_F(Verse, SoftTonesFitMoreOftenThanNone) {
  const PoemScores soft = mean_scores(PoemForm::kQilv, ToneMode::kSoft, 12);
  const PoemScores off = mean_scores(PoemForm::kQilv, ToneMode::kOff, 12);
  EXPECT_GT(soft.tone, off.tone + 0.1) << soft.tone << " vs " << off.tone;
  EXPECT_LT(soft.tone, 1.0);  // soft weighs; it does not force
}

TEST_F(Verse, ALineCopiedFromTheTrainingSetIsSampledAgain) {
  SampleOptions o;
  o.form = PoemForm::kWujue;
  o.tones = ToneMode::kOff;
  o.rules = &rules_;
  o.seed = 7;
  o.avoid_copies = false;
  const SampledPoem first = sample_poem(model_, vocab_, o);
  rules_.training_lines.insert(first.lines[0].substr(0, 5));  // its first line is now "in the training set"
  SampledPoem again = sample_poem(model_, vocab_, o);
  EXPECT_EQ(again.lines[0], first.lines[0]);  // the check off: the same poem
  EXPECT_EQ(again.lines_resampled, 0);
  o.avoid_copies = true;
  again = sample_poem(model_, vocab_, o);
  EXPECT_NE(again.lines[0], first.lines[0]);
  EXPECT_GE(again.lines_resampled, 1);
  EXPECT_EQ(again.lines_copied, 0);
  const PoemScores s = score_poem(plain_lines(again), PoemForm::kWujue, rules_, vocab_);
  EXPECT_EQ(s.copied, 0.0);
  EXPECT_DOUBLE_EQ(score_poem(plain_lines(first), PoemForm::kWujue, rules_, vocab_).copied, 0.25);
}

TEST_F(Verse, TonesNeedTheRules) {
  SampleOptions o;
  o.form = PoemForm::kWujue;
  EXPECT_THROW(sample_poem(model_, vocab_, o), Error);
  o.tones = ToneMode::kOff;
  o.avoid_copies = false;
  EXPECT_NO_THROW(sample_poem(model_, vocab_, o));
}

}  // namespace
}  // namespace poet
