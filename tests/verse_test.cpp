// Tones and rhyme: the regulated patterns, character tones, poem scores, and decoding under
// tones strict|soft|off with the copy check, on an untrained model (whatever the weights, the
// constraints must hold) and hand-made rules over the fixture's vocabulary.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "common/error.h"
#include "common/utf8.h"
#include "data/dataset_file.h"
#include "data/text_cleaner.h"
#include "data/verse_rules.h"
#include "poems/decoder.h"
#include "poems/evaluate.h"
#include "poems/poem_likelihood.h"
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
  rules.rhymes = {{}, {}, {}, {}, {0, 2}};
  EXPECT_EQ(rules.tone_of(4), CharTone::kLevel);
  EXPECT_EQ(rules.tone_of(7), CharTone::kUnknown);
  EXPECT_EQ(rules.tone_of(-1), CharTone::kUnknown);
  EXPECT_EQ(rules.rhymes_of(4), (std::vector<int32_t>{0, 2}));
  EXPECT_TRUE(rules.rhymes_of(5).empty());
  EXPECT_TRUE(rules.rhymes_of(9).empty());
  EXPECT_EQ(tone_marks(U"山水，月花雪。", vocab, rules), "平仄中？？");  // 雪: not in the vocabulary
}

class Verse : public ::testing::Test {
 protected:
  void SetUp() override {
    test::write_fixture_dataset(dir_ / "d.h5", 40);
    const DatasetFile file(dir_ / "d.h5");
    vocab_ = file.vocab();
    // Every third character oblique, the others level in three rhyme groups; the level characters
    // whose id is 1 or 4 mod 9 rhyme in a fourth group too, as characters of two readings do.
    for (size_t id = 0; id < vocab_.size(); ++id) {
      const bool verse = id >= Vocabulary::kNumSpecial && is_ideograph(vocab_.character(static_cast<int32_t>(id)));
      rules_.tone.push_back(!verse ? CharTone::kUnknown : id % 3 == 0 ? CharTone::kOblique : CharTone::kLevel);
      rules_.rhymes.emplace_back();
      if (rules_.tone.back() != CharTone::kLevel) continue;
      rules_.rhymes.back().push_back(static_cast<int32_t>(id % 9 / 3));
      if (id % 9 == 1 || id % 9 == 4) rules_.rhymes.back().push_back(3);
    }
    rules_.rhyme_groups = 4;
    model_ = test::untrained_model(static_cast<int64_t>(vocab_.size()));
  }

  // The fixture's characters of tone `tone` (rhyming in `group`, when >= 0), in id order.
  std::u32string chars_where(CharTone tone, int32_t group = -1) const {
    std::u32string chars;
    for (size_t id = Vocabulary::kNumSpecial; id < vocab_.size(); ++id) {
      const auto& groups = rules_.rhymes[id];
      if (rules_.tone[id] != tone) continue;
      if (group >= 0 && std::find(groups.begin(), groups.end(), group) == groups.end()) continue;
      chars.push_back(vocab_.character(static_cast<int32_t>(id)));
    }
    return chars;
  }
  int32_t id(char32_t c) const { return vocab_.id_of(c); }

  // Options for `form` under `mode` with the fixture's rules; the rest as SampleOptions has them.
  SampleOptions options(PoemForm form, ToneMode mode) {
    SampleOptions o;
    o.form = form;
    o.tones = mode;
    o.rules = &rules_;
    return o;
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
  SampleOptions o = options(PoemForm::kWujue, ToneMode::kOff);
  o.seed = 7;
  o.candidates = 1;  // the poem itself, not the likeliest of several
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

TEST_F(Verse, ACharacterOfTwoGroupsRhymesWithEitherButTheRhymesMustShareOne) {
  const std::u32string level = chars_where(CharTone::kLevel);
  const auto first_with = [&](std::vector<int32_t> groups) {
    for (char32_t c : level) {
      if (rules_.rhymes_of(id(c)) == groups) return c;
    }
    ADD_FAILURE() << "no character rhymes in exactly those groups";
    return U'?';
  };
  const char32_t two = first_with({0, 3});
  const char32_t other_two = first_with({1, 3});
  const char32_t zero = first_with({0});
  const char32_t one = first_with({1});
  EXPECT_EQ(shared_rhymes(rules_, {id(two)}), (std::vector<int32_t>{0, 3}));
  EXPECT_EQ(shared_rhymes(rules_, {id(two), id(other_two)}), std::vector<int32_t>{3});
  EXPECT_TRUE(can_rhyme(rules_, {id(two)}, id(zero)));
  EXPECT_TRUE(can_rhyme(rules_, {id(zero)}, id(two)));
  EXPECT_TRUE(can_rhyme(rules_, {id(two)}, id(other_two)));  // through their second groups
  EXPECT_FALSE(can_rhyme(rules_, {id(two)}, id(one)));
  EXPECT_FALSE(can_rhyme(rules_, {id(two), id(other_two)}, id(zero)));          // every rhyme so far must share it
  EXPECT_FALSE(can_rhyme(rules_, {}, id(chars_where(CharTone::kOblique)[0])));  // no level group
  // Scored the same way: 五绝 lines 2 and 4 ending on `two` and `zero` rhyme; on `two` and `one` not.
  const std::u32string oblique = chars_where(CharTone::kOblique);
  std::u32string body;  // four level characters none of the lines ends on
  for (char32_t c : level) {
    if (body.size() < 4 && c != two && c != zero && c != one) body.push_back(c);
  }
  ASSERT_EQ(body.size(), 4u);
  const auto poem = [&](char32_t end2, char32_t end4) {
    return std::vector<std::u32string>{body + oblique[0], body + end2, body + oblique[1], body + end4};
  };
  const PoemScores rhymed = score_poem(poem(two, zero), PoemForm::kWujue, rules_, vocab_);
  EXPECT_EQ(rhymed.rhyme, 1.0);
  EXPECT_EQ(rhymed.line_ends, 1.0);  // lines 1 and 3 end oblique, 2 and 4 in group 0
  const PoemScores unrhymed = score_poem(poem(two, one), PoemForm::kWujue, rules_, vocab_);
  EXPECT_EQ(unrhymed.rhyme, 0.0);
  EXPECT_EQ(unrhymed.line_ends, 0.75);  // line 4 is outside line 2's groups
  // Line 1 may end in the rhyme (首句入韵) but not on a level tone outside it; line 3 never on a level one.
  EXPECT_EQ(
      score_poem({body + zero, body + two, body + oblique[1], body + zero}, PoemForm::kWujue, rules_, vocab_).line_ends,
      1.0);
  EXPECT_EQ(
      score_poem({body + one, body + two, body + body[0], body + zero}, PoemForm::kWujue, rules_, vocab_).line_ends,
      0.5);
  // `body` repeats its four characters in every line: 12 of 20 characters are repeats.
  EXPECT_DOUBLE_EQ(rhymed.repeated, (20.0 - 8.0) / 20.0);
}

TEST_F(Verse, TheChosenCandidateIsTheLikeliestLessRepeats) {
  SampleOptions o = options(PoemForm::kQijue, ToneMode::kStrict);
  o.search = Search::kCandidates;
  int better = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    o.seed = seed;
    o.candidates = 1;
    const SampledPoem first = sample_poem(model_, vocab_, o);  // candidate 0 of any count
    o.candidates = 6;
    const SampledPoem best = sample_poem(model_, vocab_, o);
    EXPECT_EQ(best.candidates, 6);
    EXPECT_GE(candidate_score(best), candidate_score(first));
    better += candidate_score(best) > candidate_score(first);
    // The decoder's running sum is the teacher-forced measure evaluate uses.
    const std::vector<double> forced = mean_log_probs(model_, vocab_, {plain_lines(best)});
    EXPECT_NEAR(best.log_prob, forced[0], 1e-4);
    EXPECT_DOUBLE_EQ(best.repeated, repeated_share(best.lines));
    EXPECT_NEAR(candidate_score(best), best.log_prob - kRepeatWeight * best.repeated, 1e-12);
  }
  EXPECT_GE(better, 3);  // more candidates find a likelier poem most of the time
}

TEST_F(Verse, BeamSearchKeepsEveryConstraintAndRepeatsItself) {
  SampleOptions o = options(PoemForm::kQilv, ToneMode::kStrict);
  o.search = Search::kBeam;
  o.candidates = 7;  // shared out 2, 2, 2, 1 among 4 beams
  o.keywords = {chars_where(CharTone::kLevel).substr(0, 1)};
  int differs = 0;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    o.seed = seed;
    const SampledPoem poem = sample_poem(model_, vocab_, o);
    EXPECT_EQ(poem.candidates, 7);
    const PoemScores s = score_poem(plain_lines(poem), o.form, rules_, vocab_);
    EXPECT_EQ(s.form, 1.0);
    EXPECT_DOUBLE_EQ(s.tone, 1.0);
    EXPECT_EQ(s.rhyme, 1.0);
    EXPECT_NE(poem.lines[0].find(o.keywords[0]), std::u32string::npos);
    EXPECT_NEAR(poem.log_prob, mean_log_probs(model_, vocab_, {plain_lines(poem)})[0], 1e-4);
    EXPECT_EQ(sample_poem(model_, vocab_, o).text, poem.text);
    SampleOptions whole = o;
    whole.search = Search::kCandidates;
    differs += sample_poem(model_, vocab_, whole).text != poem.text;
  }
  EXPECT_GE(differs, 2);  // the beam writes other poems than whole candidates
}

TEST_F(Verse, APromptEndingARhymingLineOffTheRhymeLeavesTheRestRhyming) {
  const std::u32string level = chars_where(CharTone::kLevel);
  const std::u32string oblique = chars_where(CharTone::kOblique);
  SampleOptions o;
  o.form = PoemForm::kWulv;
  o.rules = &rules_;
  // Line 2 ends on an oblique character, which rhymes in no level group.
  o.prompt = level.substr(0, 5) + level.substr(5, 4) + oblique[0];
  for (ToneMode mode : {ToneMode::kStrict, ToneMode::kSoft}) {
    o.tones = mode;
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      o.seed = seed;
      const SampledPoem poem = sample_poem(model_, vocab_, o);
      const std::vector<std::u32string> lines = plain_lines(poem);
      EXPECT_EQ(lines[1], o.prompt.substr(5));
      std::vector<int32_t> later;
      for (size_t l : {3, 5, 7}) later.push_back(id(lines[l].back()));
      EXPECT_FALSE(shared_rhymes(rules_, later).empty()) << tone_mode_name(mode) << " " << utf8_encode(poem.text);
    }
  }
}

TEST_F(Verse, GreedyDecodingTriesACopiedLineOnce) {
  SampleOptions o = options(PoemForm::kWujue, ToneMode::kOff);
  o.temperature = 0;
  o.avoid_copies = false;
  const SampledPoem first = sample_poem(model_, vocab_, o);
  rules_.training_lines.insert(plain_lines(first)[0]);
  o.avoid_copies = true;
  const SampledPoem again = sample_poem(model_, vocab_, o);  // the same line would come again
  EXPECT_EQ(again.text, first.text);
  EXPECT_EQ(again.lines_resampled, 0);
  EXPECT_EQ(again.lines_copied, 1);
}

TEST_F(Verse, TemperatureZeroTakesTheLikeliestCharacterEachTime) {
  SampleOptions o;
  o.form = PoemForm::kWujue;
  o.tones = ToneMode::kOff;
  o.avoid_copies = false;
  o.temperature = 0;
  o.seed = 1;
  const SampledPoem greedy = sample_poem(model_, vocab_, o);
  o.seed = 99;
  EXPECT_EQ(sample_poem(model_, vocab_, o).text, greedy.text);  // no draw, so no seed
  // Replayed by hand: at each position the likeliest Chinese character given the text before,
  // a character already written counting kRepeatDraw less.
  torch::NoGradGuard no_grad;
  std::vector<int64_t> prefix = {Vocabulary::kBos};
  std::set<int32_t> written;
  for (char32_t c : greedy.text) {
    const torch::Tensor input = torch::tensor(prefix).unsqueeze(0);
    auto [logits, state] = model_->forward(input);
    const torch::Tensor last = logits[0][static_cast<int64_t>(prefix.size()) - 1];  // (V)
    if (is_ideograph(c)) {
      int32_t best = -1;
      double best_score = -INFINITY;
      for (size_t i = Vocabulary::kNumSpecial; i < vocab_.size(); ++i) {
        const auto t = static_cast<int32_t>(i);
        const double score = last[t].item<float>() + (written.count(t) > 0 ? kRepeatDraw : 0.0);
        if (is_ideograph(vocab_.character(t)) && score > best_score) {
          best = t;
          best_score = score;
        }
      }
      EXPECT_EQ(vocab_.character(best), c) << "at character " << prefix.size();
      written.insert(vocab_.id_of(c));
    }
    prefix.push_back(vocab_.id_of(c));
  }
}

TEST_F(Verse, OptionsOutOfRangeAreRefusedByName) {
  SampleOptions o;
  o.form = PoemForm::kWujue;
  o.rules = &rules_;
  o.top_k = -1;
  EXPECT_EQ(test::error_of([&] { sample_poem(model_, vocab_, o); }),
            "--top-k is -1, expected 0 (off) or a positive number");
  o.top_k = 0;
  o.temperature = -0.5;
  EXPECT_NE(test::error_of([&] { sample_poem(model_, vocab_, o); }).find("--temperature is -0.5"), std::string::npos);
  o.temperature = 0.8;
  o.candidates = 0;
  EXPECT_EQ(test::error_of([&] { sample_poem(model_, vocab_, o); }), "--candidates is 0, expected at least 1");
}

TEST_F(Verse, EachFormWritesAPoemOfItsOwnFromOneSeed) {
  SampleOptions o;
  o.tones = ToneMode::kOff;
  o.avoid_copies = false;
  o.candidates = 1;
  o.seed = 1;
  o.form = PoemForm::kWujue;
  const SampledPoem quatrain = sample_poem(model_, vocab_, o);
  o.form = PoemForm::kWulv;
  const SampledPoem regulated = sample_poem(model_, vocab_, o);
  int same = 0;
  for (size_t l = 0; l < 4; ++l) same += quatrain.lines[l] == regulated.lines[l];
  EXPECT_EQ(same, 0) << utf8_encode(quatrain.text) << " / " << utf8_encode(regulated.text);
}

TEST_F(Verse, KeywordsLandInTheirLinesWithinTonesAndRhyme) {
  const std::u32string level = chars_where(CharTone::kLevel);
  const std::u32string oblique = chars_where(CharTone::kOblique);
  SampleOptions o = options(PoemForm::kQijue, ToneMode::kStrict);
  o.keywords = {level.substr(0, 1), oblique.substr(0, 1) + level.substr(1, 1), oblique.substr(1, 1)};
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    o.seed = seed;
    const SampledPoem poem = sample_poem(model_, vocab_, o);
    for (size_t l = 0; l < o.keywords.size(); ++l) {
      EXPECT_NE(poem.lines[l].find(o.keywords[l]), std::u32string::npos)
          << "line " << l + 1 << " " << utf8_encode(poem.lines[l]) << " lacks " << utf8_encode(o.keywords[l]);
    }
    const PoemScores s = score_poem(plain_lines(poem), o.form, rules_, vocab_);
    EXPECT_DOUBLE_EQ(s.tone, 1.0);
    EXPECT_EQ(s.rhyme, 1.0);
  }
}

TEST_F(Verse, AKeywordThatFitsNoTonePatternIsRefusedNamingItAndItsLine) {
  // Two characters of unknown tone fit only the free positions, and no two of those are adjacent.
  const std::u32string level = chars_where(CharTone::kLevel);
  VerseRules rules = rules_;
  rules.tone[static_cast<size_t>(id(level[0]))] = CharTone::kUnknown;
  rules.tone[static_cast<size_t>(id(level[1]))] = CharTone::kUnknown;
  SampleOptions o;
  o.form = PoemForm::kWujue;
  o.tones = ToneMode::kStrict;
  o.rules = &rules;
  o.keywords = {level.substr(2, 1), level.substr(0, 2)};
  const std::string word = utf8_encode(level.substr(0, 2));
  EXPECT_EQ(test::error_of([&] { sample_poem(model_, vocab_, o); }),
            "keyword '" + word +
                "' cannot fit line 2 of a 五绝 under --tones strict: its tones fit no free "
                "position of the line in any tone pattern");
  o.tones = ToneMode::kSoft;  // soft tones weigh, so any place will do
  EXPECT_NE(sample_poem(model_, vocab_, o).lines[1].find(level.substr(0, 2)), std::u32string::npos);
  o.keywords = {U"春夏秋"};
  EXPECT_NE(test::error_of([&] { sample_poem(model_, vocab_, o); }).find("has 3 characters, expected one or two"),
            std::string::npos);
}

}  // namespace
}  // namespace poet
