// prepare on the real Tang corpus ($POET_DATA or ../shared/data/chinese-poetry): counts,
// disjoint and repeatable splits, and an interrupted run that leaves nothing behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

#include "common/utf8.h"
#include "data/dataset_file.h"
#include "test_support.h"

namespace poet {
namespace {

using test::ScratchDir;

// The range README.md states for the kept count with default options.
constexpr long kKeptAtLeast = 55000;
constexpr long kKeptAtMost = 56500;

class RealCorpus : public ::testing::Test {
 protected:
  void SetUp() override {
    corpus_ = test::real_corpus_dir();
    if (corpus_.empty()) POET_SKIP_UNLESS_REQUIRED("POET_REQUIRE_CORPUS", "no corpus: set POET_DATA or run scripts/get-data.sh");
  }
  std::string corpus_;
};

std::set<std::string> ids_of(const DatasetFile& f, Split s) {
  const auto ids = f.read_index(s).poem_ids;
  return {ids.begin(), ids.end()};
}

TEST_F(RealCorpus, PrepareReadsEveryPoemAndSplitsRepeatably) {
  ScratchDir dir;
  const auto first = test::run_poet("prepare --input " + corpus_ + " --output " + (dir / "a.h5"));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto second =
      test::run_poet("prepare --input " + corpus_ + " --output " + (dir / "b.h5") + " --seed 7 --threads 1");
  ASSERT_EQ(second.exit_code, 0) << second.err;

  const DatasetFile a(dir / "a.h5");
  const DatasetFile b(dir / "b.h5");
  const auto report = a.attribute_json("report");
  EXPECT_EQ(report["poems_read"], 57607);
  const long kept = report["poems_kept"];
  EXPECT_GE(kept, kKeptAtLeast);
  EXPECT_LE(kept, kKeptAtMost);
  EXPECT_EQ(report["poems_kept"], report["train_poems"].get<long>() + report["val_poems"].get<long>());

  const auto train = ids_of(a, Split::kTrain);
  const auto val = ids_of(a, Split::kVal);
  EXPECT_EQ(static_cast<long>(train.size() + val.size()), kept);
  for (const auto& id : val) EXPECT_EQ(train.count(id), 0u) << id << " is in both splits";
  const double val_share = static_cast<double>(val.size()) / static_cast<double>(kept);
  EXPECT_GT(val_share, 0.015);
  EXPECT_LT(val_share, 0.025);
  // Another seed reorders the training poems across shards but never moves a poem between splits.
  EXPECT_EQ(ids_of(b, Split::kVal), val);
  EXPECT_EQ(ids_of(b, Split::kTrain), train);
  EXPECT_NE(a.read_index(Split::kTrain).poem_ids, b.read_index(Split::kTrain).poem_ids);
  // Nor do the thread count and the seed change anything else: same vocabulary, same val tokens.
  EXPECT_EQ(a.vocab().checksum(), b.vocab().checksum());
  EXPECT_EQ(a.stored_checksum(Split::kVal, "tokens_xxh64"), b.stored_checksum(Split::kVal, "tokens_xxh64"));

  // No text is in both splits either: duplicates were removed before the split.
  const auto texts = [&](Split s) {
    const auto index = a.read_index(s);
    const auto tokens = a.read_tokens(s, 0, index.poem_offsets.back());
    std::set<std::vector<int32_t>> out;
    for (size_t p = 0; p + 1 < index.poem_offsets.size(); ++p) {
      out.emplace(tokens.begin() + index.poem_offsets[p], tokens.begin() + index.poem_offsets[p + 1]);
    }
    return out;
  };
  const auto train_texts = texts(Split::kTrain);
  for (const auto& t : texts(Split::kVal)) EXPECT_EQ(train_texts.count(t), 0u);

  const auto inspected = test::run_poet("inspect " + (dir / "a.h5"));
  EXPECT_EQ(inspected.exit_code, 0) << inspected.err;
  EXPECT_NE(inspected.out.find("poems read                  57,607"), std::string::npos);
}

// Starts prepare and waits until its temporary file exists: by then the signal handlers are
// installed and the real work has begun.
pid_t start_prepare(const std::string& corpus, const ScratchDir& dir, const std::string& out) {
  const pid_t child = fork();
  if (child == 0) {
    execl(POET_BINARY, POET_BINARY, "prepare", "--input", corpus.c_str(), "--output", out.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  const std::string temp = dir / (".out.h5.tmp." + std::to_string(child));
  for (int i = 0; i < 2000 && !std::filesystem::exists(temp); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(std::filesystem::exists(temp)) << "prepare never created " << temp;
  return child;
}

TEST_F(RealCorpus, InterruptedPrepareLeavesNothing) {
  ScratchDir dir;
  const std::string out = dir / "out.h5";
  for (const int signal : {SIGINT, SIGTERM}) {
    const pid_t child = start_prepare(corpus_, dir, out);
    ASSERT_GT(child, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    kill(child, signal);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 130);
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 0)
        << "the output or its temporary file was left behind";
  }
  // kill -9 cannot be caught: the temporary file may stay, but nothing appears at the output path.
  const pid_t child = start_prepare(corpus_, dir, out);
  ASSERT_GT(child, 0);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace poet
