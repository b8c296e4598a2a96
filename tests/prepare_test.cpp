// prepare_dataset() on fixtures: JSON -> HDF5 -> decoded text equals the cleaned text, the
// report's counts, tones, splits, shards, forms, unknowns and atomic output.
#include "data/prepare.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/utf8.h"
#include "data/dataset_file.h"
#include "data/poem_form.h"
#include "test_support.h"

namespace poet {
namespace {

using nlohmann::json;
using test::poem;
using test::ScratchDir;
using test::strain;
using test::write_clone;

// Decoded text of every poem in a split, by id.
std::map<std::string, std::string> decoded_poems(const DatasetFile& file, Split split) {
  const SplitData index = file.read_index(split);
  const auto tokens = file.read_tokens(split, 0, index.poem_offsets.back());
  std::map<std::string, std::string> poems;
  for (size_t p = 0; p < index.poem_ids.size(); ++p) {
    const auto begin = static_cast<size_t>(index.poem_offsets[p]);
    const auto end = static_cast<size_t>(index.poem_offsets[p + 1]);
    poems[index.poem_ids[p]] = file.vocab().decode(tokens.data() + begin, end - begin);
  }
  return poems;
}

PrepareOptions options_for(const ScratchDir& dir) {
  PrepareOptions o;
  o.input = dir / "corpus";
  o.output = dir / "out.h5";
  o.script = Script::kTraditional;
  o.val_fraction = 0.0;
  o.min_count = 1;
  o.shards = 4;
  o.threads = 2;
  return o;
}

// A distinct five-character line for each n, from a fixed set of characters.
std::string line_for(int n) {
  static const std::u32string kChars = U"春夏秋冬山水風月花鳥雲雨江河日夜天地人心";
  std::u32string line;
  for (int k = 0; k < 5; ++k, n /= 20) line.push_back(kChars[static_cast<size_t>(n % 20)]);
  return utf8_encode(line);
}

TEST(Prepare, DecodedTextEqualsTheCleanedText) {
  ScratchDir dir;
  write_clone(dir.path() / "corpus",
              json::array({poem("a", {"床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。"}),
                           poem("b", {"遠去更宜長（辛本作「良」）。", "還欲淚沾[襟]。"}),
                           poem("c", {"床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。"}),  // duplicate of a
                           poem("d", {"□□□滿山，花落始知靜。"}),                                // lost characters
                           poem("e", {"（全是注文）"}),                                          // empty
                           poem("f", {"此流又高懸，{汸番}在長空。"})}));
  std::ostringstream log;
  const PrepareReport report = prepare_dataset(options_for(dir), log);
  EXPECT_EQ(report.poems_read, 6);
  EXPECT_EQ(report.dropped.duplicates, 1);
  EXPECT_EQ(report.dropped.lost_characters, 1);
  EXPECT_EQ(report.dropped.empty, 1);
  EXPECT_EQ(report.poems_kept, 3);
  EXPECT_EQ(report.cleaning.notes_removed, 2);
  EXPECT_EQ(report.cleaning.unencodable, 1);

  const DatasetFile file(dir / "out.h5");
  const auto poems = decoded_poems(file, Split::kTrain);
  ASSERT_EQ(poems.size(), 3u);
  EXPECT_EQ(poems.at("a"), "床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。");
  EXPECT_EQ(poems.at("b"), "遠去更宜長。還欲淚沾襟。");
  EXPECT_EQ(poems.at("f"), "此流又高懸，<unk>在長空。");
  const SplitData index = file.read_index(Split::kTrain);
  ASSERT_EQ(index.shard_offsets.size(), 5u);
  EXPECT_EQ(index.shard_offsets.front(), 0);
  EXPECT_EQ(index.shard_offsets.back(), 3);
  EXPECT_EQ(file.attribute_json("report")["poems_kept"], 3);
  EXPECT_EQ(file.attribute_json("options")["min_count"], 1);
  EXPECT_EQ(file.attribute_json("sources").size(), 1u);
  // The temporary file was renamed away, not left beside the output.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 2);
}

TEST(Prepare, CountsPerCharacterMatchTheTrainingTokens) {
  ScratchDir dir;
  write_clone(dir.path() / "corpus", json::array({poem("a", {"春眠不覺曉，處處聞啼鳥。"}),
                                                  poem("b", {"春風又綠江南岸。"})}));
  std::ostringstream log;
  prepare_dataset(options_for(dir), log);
  const DatasetFile file(dir / "out.h5");
  const auto counts = file.vocab_counts();
  EXPECT_EQ(counts[static_cast<size_t>(file.vocab().id_of(U'春'))], 2);
  EXPECT_EQ(counts[static_cast<size_t>(file.vocab().id_of(U'處'))], 2);
  EXPECT_EQ(counts[Vocabulary::kEos], 2);  // one end of poem per poem
  EXPECT_EQ(file.vocab().token(4), "。");  // the most frequent character comes first (3 times)
}

TEST(Prepare, ConvertsToSimplifiedAndCarriesTonesAcross) {
  ScratchDir dir;
  write_clone(dir.path() / "corpus", json::array({poem("a", {"國破山河在，城春草木深。"}),
                                                  poem("b", {"舉頭望明月，低頭思故鄉。"})}),
              json::array({strain("a", {"仄仄平平仄，平平仄仄平。"}),
                           strain("b", {"仄平○平仄，平仄仄仄？。"})}));  // ？: tone unknown
  PrepareOptions o = options_for(dir);
  o.script = Script::kSimplified;
  std::ostringstream log;
  const PrepareReport report = prepare_dataset(o, log);
  EXPECT_EQ(report.tones.poems_with_pattern, 2);
  EXPECT_EQ(report.tones.lines_aligned, 2);
  const DatasetFile file(dir / "out.h5");
  const auto poems = decoded_poems(file, Split::kTrain);
  EXPECT_EQ(poems.at("a"), "国破山河在，城春草木深。");
  EXPECT_EQ(poems.at("b"), "举头望明月，低头思故乡。");
  const auto tones = file.tones();
  const auto tone_of = [&](char32_t c) { return tones[static_cast<size_t>(file.vocab().id_of(c))]; };
  EXPECT_EQ(tone_of(U'国').oblique, 1);  // 國 -> 国 keeps its tone
  EXPECT_EQ(tone_of(U'国').level, 0);
  EXPECT_EQ(tone_of(U'头').level, 1);
  EXPECT_EQ(tone_of(U'头').oblique, 1);  // read both ways: both counted
  EXPECT_EQ(tone_of(U'望').either, 1);
  EXPECT_EQ(tone_of(U'乡').level + tone_of(U'乡').oblique + tone_of(U'乡').either, 0);
}

TEST(Prepare, ToneLinesOutOfStepAreNotPaired) {
  ScratchDir dir;
  write_clone(dir.path() / "corpus", json::array({poem("a", {"國破山河在，城春草木深。", "感時花濺淚，恨別鳥驚心。"})}),
              json::array({strain("a", {"仄仄平平仄平，平平仄仄平。", "仄平平仄仄，仄仄仄平平。"})}));
  std::ostringstream log;
  const PrepareReport report = prepare_dataset(options_for(dir), log);
  EXPECT_EQ(report.tones.lines_aligned, 1);
  EXPECT_EQ(report.tones.lines_mismatched, 1);
  const DatasetFile file(dir / "out.h5");
  const auto tones = file.tones();
  EXPECT_EQ(tones[static_cast<size_t>(file.vocab().id_of(U'國'))].oblique, 0);
  EXPECT_EQ(tones[static_cast<size_t>(file.vocab().id_of(U'感'))].oblique, 1);
}

TEST(Prepare, SplitFollowsTheIdHashAndNotTheSeed) {
  ScratchDir dir;
  json poems = json::array();
  for (int i = 0; i < 400; ++i) poems.push_back(poem("poem-" + std::to_string(i), {line_for(i) + "。"}));
  write_clone(dir.path() / "corpus", poems);
  PrepareOptions o = options_for(dir);
  o.val_fraction = 0.25;
  std::ostringstream log;
  prepare_dataset(o, log);
  std::vector<std::string> val_first;
  std::vector<std::string> train_first;
  {
    const DatasetFile file(o.output);
    val_first = file.read_index(Split::kVal).poem_ids;
    train_first = file.read_index(Split::kTrain).poem_ids;
  }
  EXPECT_EQ(val_first.size() + train_first.size(), 400u);
  EXPECT_GT(val_first.size(), 60u);
  EXPECT_LT(val_first.size(), 140u);
  for (const auto& id : val_first) EXPECT_TRUE(in_validation_split(id, 0.25)) << id;
  for (const auto& id : train_first) EXPECT_FALSE(in_validation_split(id, 0.25)) << id;

  o.seed = 99;
  prepare_dataset(o, log);
  const DatasetFile file(o.output);
  const auto train_second = file.read_index(Split::kTrain).poem_ids;
  EXPECT_EQ(file.read_index(Split::kVal).poem_ids, val_first);
  EXPECT_NE(train_second, train_first);  // another seed, another order across shards...
  EXPECT_EQ(std::set<std::string>(train_second.begin(), train_second.end()),
            std::set<std::string>(train_first.begin(), train_first.end()));  // ...of the same poems
}

TEST(Prepare, ShardsAreContiguousAndBalancedByTokens) {
  ScratchDir dir;
  json poems = json::array();
  for (int i = 0; i < 256; ++i) poems.push_back(poem("p" + std::to_string(i), {line_for(i) + "，" + line_for(i + 7) + "。"}));
  write_clone(dir.path() / "corpus", poems);
  PrepareOptions o = options_for(dir);
  o.shards = 8;
  std::ostringstream log;
  prepare_dataset(o, log);
  const DatasetFile file(o.output);
  const SplitData index = file.read_index(Split::kTrain);
  ASSERT_EQ(index.shard_offsets.size(), 9u);
  for (size_t s = 0; s < 8; ++s) {
    const int64_t poems_in_shard = index.shard_offsets[s + 1] - index.shard_offsets[s];
    EXPECT_EQ(poems_in_shard, 32) << "shard " << s;  // equal-length poems: equal shards
  }
  // A shard's tokens read by hyperslab are exactly that shard's poems.
  const int64_t begin = index.poem_offsets[static_cast<size_t>(index.shard_offsets[3])];
  const int64_t end = index.poem_offsets[static_cast<size_t>(index.shard_offsets[4])];
  const auto shard = file.read_tokens(Split::kTrain, begin, end);
  const auto all = file.read_tokens(Split::kTrain, 0, index.poem_offsets.back());
  EXPECT_TRUE(std::equal(shard.begin(), shard.end(), all.begin() + begin));
  EXPECT_THROW(file.read_tokens(Split::kTrain, 0, index.poem_offsets.back() + 1), Error);
}

TEST(Prepare, RegularFormsOnly) {
  ScratchDir dir;
  write_clone(dir.path() / "corpus",
              json::array({poem("jue", {"床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。"}),
                           poem("free", {"君不見黃河之水天上來，奔流到海不復回。"})}));
  PrepareOptions o = options_for(dir);
  o.regular_only = true;
  std::ostringstream log;
  const PrepareReport report = prepare_dataset(o, log);
  EXPECT_EQ(report.dropped.not_regular, 1);
  EXPECT_EQ(report.poems_kept, 1);
  EXPECT_EQ(report.forms.at("wujue"), 1);
  const DatasetFile file(o.output);
  EXPECT_EQ(file.read_index(Split::kTrain).forms, std::vector<uint8_t>{static_cast<uint8_t>(PoemForm::kWujue)});
}

TEST(Prepare, RareCharactersBecomeUnknownAndTooManyDropThePoem) {
  ScratchDir dir;
  write_clone(dir.path() / "corpus", json::array({poem("a", {"春山春水春。"}), poem("b", {"春山春水鸞。"}),
                                                  poem("c", {"鵬鯤鸛鶴春。"})}));
  PrepareOptions o = options_for(dir);
  o.min_count = 2;
  o.max_unknown = 1;
  std::ostringstream log;
  const PrepareReport report = prepare_dataset(o, log);
  EXPECT_EQ(report.dropped.too_many_unknown, 1);  // c has four rare characters
  EXPECT_EQ(report.unknown_in_train, 1);          // b keeps its one
  const DatasetFile file(o.output);
  EXPECT_EQ(decoded_poems(file, Split::kTrain).at("b"), "春山春水<unk>。");
  EXPECT_FALSE(file.vocab().contains(U'鸞'));
}

TEST(Prepare, WrongFieldTypesAreSkippedCountedAndNamed) {
  ScratchDir dir;
  write_clone(dir.path() / "corpus",
              json::array({poem("a", {"春眠不覺曉。"}), json{{"id", "b"}, {"paragraphs", 42}},
                           json{{"id", 7}, {"paragraphs", json::array({"春眠不覺曉。"})}},
                           json{{"id", "d"}, {"paragraphs", json::array({"春", 1})}}, json("not a poem")}));
  std::ostringstream log;
  const PrepareReport report = prepare_dataset(options_for(dir), log);
  EXPECT_EQ(report.poems_read, 5);
  EXPECT_EQ(report.dropped.wrong_fields, 4);
  EXPECT_EQ(report.poems_kept, 1);
  const std::string warnings = log.str();
  EXPECT_NE(warnings.find("poet.tang.0.json: entry 1 skipped: field 'paragraphs' is a number"), std::string::npos)
      << warnings;
  EXPECT_NE(warnings.find("entry 2 skipped: field 'id' is a number, expected a string"), std::string::npos);
  EXPECT_NE(warnings.find("entry 4 skipped: entry is a string, expected an object"), std::string::npos);
}

TEST(Prepare, InvalidJsonNamesTheFileAndByteAndLeavesNothing) {
  ScratchDir dir;
  write_clone(dir.path() / "corpus", json::array({poem("a", {"春眠不覺曉。"})}));
  const std::string broken = "[{\"id\": \"x\", \"paragraphs\": [}]";
  test::write_text(dir.path() / "corpus" / "全唐诗" / "poet.tang.1000.json", broken);
  std::ostringstream log;
  try {
    prepare_dataset(options_for(dir), log);
    FAIL() << "invalid JSON was accepted";
  } catch (const Error& e) {
    const std::string what = e.what();
    const std::string marker = "poet.tang.1000.json: not valid JSON at byte offset ";
    const size_t at = what.find(marker);
    ASSERT_NE(at, std::string::npos) << what;
    const size_t offset = std::stoul(what.substr(at + marker.size()));
    EXPECT_EQ(broken.at(offset), '}') << what;  // the offset points at the faulty byte
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);  // only corpus/
}

TEST(Prepare, TopLevelMustBeAnArray) {
  ScratchDir dir;
  test::write_text(dir.path() / "corpus" / "poet.tang.0.json", "{\"id\": \"x\"}");
  std::ostringstream log;
  try {
    prepare_dataset(options_for(dir), log);
    FAIL() << "an object at top level was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("top level is an object, expected an array of poems"), std::string::npos);
  }
}

TEST(Prepare, UnwritableOutputFailsBeforeAnyWork) {
  ScratchDir dir;
  write_clone(dir.path() / "corpus", json::array({poem("a", {"春眠不覺曉。"})}));
  PrepareOptions o = options_for(dir);
  o.output = dir / "no/such/folder/out.h5";
  std::ostringstream log;
  EXPECT_THROW(prepare_dataset(o, log), Error);
  o.output = dir / "corpus";  // a folder
  EXPECT_THROW(prepare_dataset(o, log), Error);
}

TEST(Prepare, RejectsOptionsOutOfRange) {
  PrepareOptions o;
  o.output = "x.h5";
  o.val_fraction = 1.5;
  EXPECT_THROW(validate(o), Error);
  o.val_fraction = 0.1;
  o.shards = 0;
  EXPECT_THROW(validate(o), Error);
}

}  // namespace
}  // namespace poet
