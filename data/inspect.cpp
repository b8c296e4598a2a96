// inspect_dataset(): verification of a dataset against its own metadata.
#include "data/inspect.h"

#include <xxhash.h>

#include "common/error.h"
#include "data/dataset_file.h"
#include "data/poem_form.h"
#include "data/prepare_report.h"

namespace poet {

namespace {

void expect(bool condition, const std::string& path, const std::string& what) {
  if (!condition) throw Error(path + ": corrupt dataset: " + what);
}

void expect_offsets(const std::vector<int64_t>& offsets, int64_t last, const std::string& path,
                    const std::string& name) {
  expect(!offsets.empty() && offsets.front() == 0, path, name + " must start at 0");
  for (size_t i = 1; i < offsets.size(); ++i) {
    expect(offsets[i] >= offsets[i - 1], path,
           name + " decreases at index " + std::to_string(i) + " (" + std::to_string(offsets[i - 1]) + " > " +
               std::to_string(offsets[i]) + ")");
  }
  expect(offsets.back() == last, path,
         name + " ends at " + std::to_string(offsets.back()) + ", expected " + std::to_string(last));
}

struct SplitSummary {
  SplitData index;
  std::vector<int32_t> tokens;
};

SplitSummary verify_split(const DatasetFile& file, Split split, long long expected_tokens) {
  const std::string name = std::string("/") + split_name(split);
  const std::string& path = file.path();
  SplitSummary s{file.read_index(split), {}};
  const int64_t poems = static_cast<int64_t>(s.index.forms.size());
  expect(static_cast<int64_t>(s.index.poem_ids.size()) == poems, path, name + "/poem_ids has the wrong length");
  expect(static_cast<int64_t>(s.index.poem_offsets.size()) == poems + 1, path,
         name + "/poem_offsets has the wrong length");
  const int64_t token_count = s.index.poem_offsets.empty() ? 0 : s.index.poem_offsets.back();
  expect(token_count == expected_tokens, path,
         name + " holds " + std::to_string(token_count) + " tokens, the report says " +
             std::to_string(expected_tokens));
  s.tokens = file.read_tokens(split, 0, token_count);
  expect_offsets(s.index.poem_offsets, static_cast<int64_t>(s.tokens.size()), path, name + "/poem_offsets");
  expect_offsets(s.index.shard_offsets, poems, path, name + "/shard_offsets");
  const auto vocab_size = static_cast<int32_t>(file.vocab().size());
  for (size_t i = 0; i < s.tokens.size(); ++i) {
    const int32_t t = s.tokens[i];
    expect(t == Vocabulary::kUnk || (t >= Vocabulary::kNumSpecial && t < vocab_size), path,
           name + "/tokens[" + std::to_string(i) + "] = " + std::to_string(t) + " is not a character id");
  }
  for (size_t i = 0; i < s.index.forms.size(); ++i) {
    expect(s.index.forms[i] < kNumForms, path, name + "/forms[" + std::to_string(i) + "] is not a form");
  }
  const auto& offsets = s.index.poem_offsets;
  expect(XXH64(s.tokens.data(), s.tokens.size() * sizeof(int32_t), 0) == file.stored_checksum(split, "tokens_xxh64"),
         path, name + "/tokens does not match its checksum");
  expect(XXH64(offsets.data(), offsets.size() * sizeof(int64_t), 0) ==
             file.stored_checksum(split, "poem_offsets_xxh64"),
         path, name + "/poem_offsets does not match its checksum");
  return s;
}

}  // namespace

void inspect_dataset(const std::string& path, int poems_to_show, std::ostream& out) {
  const DatasetFile file(path);
  PrepareReport report;
  try {
    report = file.attribute_json("report").get<PrepareReport>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": attribute 'report' lacks a field: " + e.what());
  }
  const nlohmann::json options = file.attribute_json("options");
  const nlohmann::json sources = file.attribute_json("sources");

  out << "dataset     " << path << "\n";
  out << "options     " << options.dump() << "\n";
  print_report(out, report);

  const Vocabulary& vocab = file.vocab();
  expect(static_cast<long>(vocab.size()) == report.vocab_size, path, "vocabulary size differs from the report");
  expect(file.vocab_counts().size() == vocab.size(), path, "/vocab/counts has the wrong length");
  expect(file.tones().size() == vocab.size(), path, "/vocab/tone_* have the wrong length");
  const SplitSummary train = verify_split(file, Split::kTrain, report.train_characters);
  const SplitSummary val = verify_split(file, Split::kVal, report.val_characters);
  expect(static_cast<long>(train.index.forms.size()) == report.train_poems, path,
         "train poem count differs from the report");
  expect(static_cast<long>(val.index.forms.size()) == report.val_poems, path, "val poem count differs from the report");

  out << "verified    offsets, shard boundaries, token ids, checksums of tokens and offsets; "
      << sources.size() << " source files recorded; vocabulary checksum " << std::hex << vocab.checksum()
      << std::dec << "\n";
  const auto poems = std::min<size_t>(static_cast<size_t>(std::max(0, poems_to_show)), train.index.forms.size());
  for (size_t p = 0; p < poems; ++p) {
    const auto begin = static_cast<size_t>(train.index.poem_offsets[p]);
    const auto end = static_cast<size_t>(train.index.poem_offsets[p + 1]);
    out << "poem " << p << "  [" << form_label(static_cast<PoemForm>(train.index.forms[p])) << "] "
        << vocab.decode(train.tokens.data() + begin, end - begin) << "\n";
  }
}

}  // namespace poet
