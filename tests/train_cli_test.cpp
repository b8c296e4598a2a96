// `poet_dist train` and `poet_dist sample` end to end on a fixture dataset: overfitting one
// batch, bit-for-bit repeats, resume that matches an uninterrupted run step for step,
// corrupt and mismatched checkpoints, and the run directory's files.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "model/precision_choice.h"
#include "test_support.h"

namespace poet {
namespace {

using nlohmann::json;
using test::run_poet;
using test::ScratchDir;

std::vector<json> read_metrics(const std::string& run_dir) {
  std::vector<json> records;
  std::ifstream in(run_dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_discarded()) records.push_back(std::move(record));  // a line still being written
  }
  return records;
}

class TrainCli : public ::testing::Test {
 protected:
  void SetUp() override { test::write_fixture_dataset(dir_ / "d.h5", 120, /*val_fraction=*/0.2); }

  test::CommandResult train(const std::string& run, const std::string& extra = "") {
    return run_poet("train --config " + std::string(POET_SOURCE_DIR) + "/configs/tiny.toml --data " + (dir_ / "d.h5") +
                    " --run-dir " + (dir_ / run) + " --set run.threads=1 " + extra);
  }

  ScratchDir dir_;
};

TEST_F(TrainCli, OverfitsOneBatch) {
  const auto r =
      train("overfit", "--overfit-batch --set run.steps=400 --set run.eval_every=0 --set run.sample_every=0");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto metrics = read_metrics(dir_ / "overfit");
  ASSERT_FALSE(metrics.empty());
  EXPECT_LT(metrics.back()["loss"].get<double>(), 0.05);
  EXPECT_GT(metrics.front()["loss"].get<double>(), 2.0);  // it started from chance
  EXPECT_NE(r.out.find("overfit  loss"), std::string::npos) << r.out;
}

TEST_F(TrainCli, RepeatsBitForBitAndWritesTheRunDirectory) {
  ASSERT_EQ(train("a").exit_code, 0);
  ASSERT_EQ(train("b").exit_code, 0);
  const auto a = read_metrics(dir_ / "a");
  const auto b = read_metrics(dir_ / "b");
  ASSERT_EQ(a.size(), 40u);
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["loss"].get<double>(), b[i]["loss"].get<double>()) << "step " << i + 1;
    EXPECT_EQ(a[i]["grad_norm"].get<double>(), b[i]["grad_norm"].get<double>()) << "step " << i + 1;
  }
  EXPECT_LT(a.back()["loss"].get<double>(), a.front()["loss"].get<double>() - 1.0);  // it learned something
  for (const char* key : {"step", "loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s"}) {
    EXPECT_TRUE(a[5].contains(key)) << key;
  }
  EXPECT_TRUE(a[19].contains("val_loss"));  // eval_every = 20
  EXPECT_TRUE(a[19].contains("val_ppl"));
  EXPECT_FALSE(a[18].contains("val_loss"));
  namespace fs = std::filesystem;
  const fs::path run = dir_ / "a";
  EXPECT_TRUE(fs::exists(run / "config.toml"));
  EXPECT_NE(test::read_text(run / "config.toml").find("hidden = 64"), std::string::npos);
  EXPECT_NE(test::read_text(run / "samples.txt").find("step 40 [五绝]"), std::string::npos);
  // keep_checkpoints = 2: the last two, plus the best by validation loss.
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "ckpt-00000040.pt"));
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "ckpt-00000030.pt"));
  EXPECT_FALSE(fs::exists(run / "checkpoints" / "ckpt-00000020.pt"));
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "best.pt"));
}

// With dropout on, between two layers too: the masks come back with the step (dropout_masks.h),
// from no saved random state.
TEST_F(TrainCli, ResumedRunMatchesAnUninterruptedOne) {
  for (const std::string precision : {"fp32", "bf16"}) {
    const std::string set = " --set run.precision=" + precision + " --set model.layers=2 --set model.dropout=0.3";
    ASSERT_EQ(train("whole-" + precision, set).exit_code, 0);
    const auto stopped = train("parts-" + precision, "--stop-after-steps 13" + set);
    ASSERT_EQ(stopped.exit_code, 0) << stopped.err;
    ASSERT_EQ(read_metrics(dir_ / ("parts-" + precision)).size(), 13u);
    const auto resumed = train("parts-" + precision, "--resume auto" + set);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    EXPECT_NE(resumed.out.find("resumed from"), std::string::npos);
    EXPECT_NE(resumed.out.find("LSTM " + precision), std::string::npos) << resumed.out;
    const auto whole = read_metrics(dir_ / ("whole-" + precision));
    const auto parts = read_metrics(dir_ / ("parts-" + precision));
    ASSERT_EQ(parts.size(), whole.size());
    for (size_t i = 0; i < whole.size(); ++i) {
      EXPECT_EQ(parts[i]["step"], whole[i]["step"]);
      EXPECT_EQ(parts[i]["loss"].get<double>(), whole[i]["loss"].get<double>()) << precision << " step " << i + 1;
    }
    EXPECT_EQ(parts.back()["val_loss"].get<double>(), whole.back()["val_loss"].get<double>()) << precision;
  }
}

// The summary names what ran and why auto chose it on this processor.
TEST_F(TrainCli, SummarySaysWhichPrecisionAutoChoseAndWhy) {
  const auto r = train("auto", "--set run.precision=auto --set run.steps=2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const PrecisionChoice expected = choose_precision("auto", torch::kCPU);
  const std::string dtype = expected.precision.lstm == torch::kBFloat16 ? "bf16" : "fp32";
  EXPECT_NE(r.out.find("compute  LSTM " + dtype + ", output layer " + dtype), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n         " + expected.reason + "\n"), std::string::npos) << r.out;
  EXPECT_NE(expected.reason.find(native_bf16_units().empty() ? "no native bf16 units" : native_bf16_units()),
            std::string::npos);
}

TEST_F(TrainCli, AccumulatedMicroBatchesEqualOneBigBatch) {
  // Two micro-batches of 4 rows are the same rows as one batch of 8, in the same order.
  ASSERT_EQ(train("big", "--set run.steps=10").exit_code, 0);
  ASSERT_EQ(train("accum", "--set run.steps=10 --set data.batch_size=4 --set optim.grad_accum=2").exit_code, 0);
  const auto big = read_metrics(dir_ / "big");
  const auto accum = read_metrics(dir_ / "accum");
  ASSERT_EQ(big.size(), accum.size());
  for (size_t i = 0; i < big.size(); ++i) {
    EXPECT_NEAR(accum[i]["loss"].get<double>(), big[i]["loss"].get<double>(), 1e-4) << "step " << i + 1;
  }
  EXPECT_EQ(accum.back()["tokens"], big.back()["tokens"]);
}

TEST_F(TrainCli, SigtermWritesACheckpointAndExits130) {
  namespace fs = std::filesystem;
  const std::string run = dir_ / "signal";
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string config = std::string(POET_SOURCE_DIR) + "/configs/tiny.toml";
    const std::string data = dir_ / "d.h5";
    std::freopen((run + ".out").c_str(), "w", stdout);
    execl(POET_BINARY, POET_BINARY, "train", "--config", config.c_str(), "--data", data.c_str(), "--run-dir",
          run.c_str(), "--set", "run.steps=100000", "--set", "run.checkpoint_every=0", "--set", "run.threads=1",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until training is under way: metrics.jsonl has a few steps.
  for (int i = 0; i < 2000 && read_metrics(run).size() < 3; ++i) usleep(5000);
  ASSERT_GE(read_metrics(run).size(), 3u);
  kill(child, SIGTERM);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const auto metrics = read_metrics(run);
  const int64_t last = metrics.back()["step"];
  char name[32];
  std::snprintf(name, sizeof(name), "ckpt-%08lld.pt", static_cast<long long>(last));
  EXPECT_TRUE(fs::exists(fs::path(run) / "checkpoints" / name)) << name;
}

TEST_F(TrainCli, CorruptCheckpointIsSkippedWithAWarning) {
  ASSERT_EQ(train("whole").exit_code, 0);
  ASSERT_EQ(train("run", "--stop-after-steps 13").exit_code, 0);
  const std::string newest = dir_ / "run/checkpoints/ckpt-00000013.pt";
  {
    std::fstream io(newest, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(1000);
    io.put('\x7f');
  }
  const std::string kept = dir_ / "corrupt.pt";  // the run prunes old checkpoints as it goes on
  std::filesystem::copy_file(newest, kept);
  const auto resumed = train("run", "--resume auto");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("warning: skipping checkpoint"), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("checksum does not match"), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("at step 10"), std::string::npos) << resumed.out;
  const auto whole = read_metrics(dir_ / "whole");
  const auto run = read_metrics(dir_ / "run");
  ASSERT_EQ(run.size(), whole.size());
  EXPECT_EQ(run.back()["loss"].get<double>(), whole.back()["loss"].get<double>());
  // Given by path, a corrupt checkpoint is an error, not a warning.
  const auto explicit_resume = train("run", "--resume " + kept);
  EXPECT_EQ(explicit_resume.exit_code, 1);
  EXPECT_NE(explicit_resume.err.find("checksum does not match"), std::string::npos) << explicit_resume.err;
}

TEST_F(TrainCli, CheckpointOfAnotherShapeIsRefused) {
  ASSERT_EQ(train("run", "--stop-after-steps 10").exit_code, 0);
  const auto r = train("run", "--resume auto --set model.hidden=48");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model.hidden 64 (checkpoint) vs 48 (this run)"), std::string::npos) << r.err;
}

// A writer killed mid-write leaves ".NAME.tmp.PID" behind; a checkpoint's is tens of megabytes.
TEST_F(TrainCli, StartRemovesTemporaryFilesOfAKilledWriter) {
  const pid_t ended = ::fork();  // a writer that has ended: its pid is free
  if (ended == 0) ::_exit(0);
  ASSERT_GT(ended, 0);
  ::waitpid(ended, nullptr, 0);
  const std::string dead = std::to_string(ended);
  const std::string alive = std::to_string(::getpid());
  const std::string run = dir_ / "stale";
  std::filesystem::create_directories(run + "/checkpoints");
  for (const std::string& name :
       {"/checkpoints/.ckpt-00000010.pt.tmp." + dead, "/.metrics.jsonl.tmp." + dead, "/.evaluation.json.tmp." + alive,
        std::string("/checkpoints/keep.txt"), std::string("/checkpoints/.notes.tmp")}) {
    test::write_text(run + name, "partial");
  }
  const auto r = train("stale", "--set run.steps=2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(run + "/checkpoints/.ckpt-00000010.pt.tmp." + dead));
  EXPECT_FALSE(std::filesystem::exists(run + "/.metrics.jsonl.tmp." + dead));
  EXPECT_TRUE(std::filesystem::exists(run + "/.evaluation.json.tmp." + alive));  // its writer is still at work
  EXPECT_TRUE(std::filesystem::exists(run + "/checkpoints/keep.txt"));           // not a temporary file
  EXPECT_TRUE(std::filesystem::exists(run + "/checkpoints/.notes.tmp"));         // no writer's pid
  EXPECT_NE(r.out.find("removed " + run + "/checkpoints/.ckpt-00000010.pt.tmp." + dead), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(run + "/checkpoints/ckpt-00000002.pt"));
}

// The one-process path on a GPU: model, optimizer state and gradient buckets on the device.
TEST_F(TrainCli, TrainsOnCudaAsOneProcess) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto r = train("cuda", "--set run.device=cuda --set run.steps=20");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("devices  cuda:0"), std::string::npos) << r.out;
  const auto metrics = read_metrics(dir_ / "cuda");
  ASSERT_EQ(metrics.size(), 20u);
  EXPECT_LT(metrics.back()["loss"].get<double>(), metrics.front()["loss"].get<double>());
}

// Device and backend are one choice: a pair that cannot work is refused before anything runs.
TEST_F(TrainCli, ImpossibleDeviceAndBackendPairIsRefused) {
  const auto r = train("nccl-cpu", "--backend nccl --set run.device=cpu");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--backend nccl with run.device cpu: NCCL reduces CUDA tensors"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "nccl-cpu"));
}

TEST_F(TrainCli, TiedWeightsTrain) {
  const auto r = train("tied", "--set model.embed=64 --set model.tie_weights=true --set run.steps=20");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto metrics = read_metrics(dir_ / "tied");
  EXPECT_LT(metrics.back()["loss"].get<double>(), metrics.front()["loss"].get<double>() - 0.5);
}

TEST_F(TrainCli, DebugModeLogsEveryStep) {
  const auto r = run_poet("train --debug --data " + (dir_ / "d.h5") + " --run-dir " + (dir_ / "debug") +
                          " --set run.steps=3 --set run.threads=1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("debug mode"), std::string::npos);
  for (const char* line : {"step 1/3", "step 2/3", "step 3/3"}) EXPECT_NE(r.out.find(line), std::string::npos) << line;
}

TEST_F(TrainCli, SampleWritesJson) {
  ASSERT_EQ(train("run").exit_code, 0);
  const auto r = run_poet("sample --checkpoint " + (dir_ / "run/checkpoints/ckpt-00000040.pt") +
                          " --form qijue --num 3 --seed 7 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out);
  ASSERT_EQ(out["poems"].size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const json& poem = out["poems"][i];
    EXPECT_EQ(poem["form"], "qijue");
    EXPECT_EQ(poem["seed"], 7 + i);
    ASSERT_EQ(poem["lines"].size(), 4u);
    std::string joined;
    for (const auto& line : poem["lines"]) joined += line.get<std::string>();
    EXPECT_EQ(joined, poem["text"].get<std::string>());
  }
  const auto again = run_poet("sample --checkpoint " + (dir_ / "run/checkpoints/ckpt-00000040.pt") +
                              " --form qijue --num 3 --seed 7 --json");
  // Same seed, same poems; only the time each took to write may differ.
  const auto without_seconds = [](json poems) {
    for (auto& poem : poems["poems"]) poem.erase("seconds");
    return poems;
  };
  EXPECT_EQ(without_seconds(json::parse(again.out)), without_seconds(out));
  // The fixture is traditional; a simplified acrostic is converted before lookup.
  const auto acrostic = run_poet("sample --checkpoint " + (dir_ / "run/checkpoints/ckpt-00000040.pt") +
                                 " --acrostic 风云 --form wujue --json");
  ASSERT_EQ(acrostic.exit_code, 0) << acrostic.err;
  const json a = json::parse(acrostic.out)["poems"][0];
  EXPECT_EQ(a["lines"][0].get<std::string>().substr(0, 3), "風");
  EXPECT_EQ(a["lines"][1].get<std::string>().substr(0, 3), "雲");
  const auto refused = run_poet("sample --checkpoint " + (dir_ / "run/checkpoints/ckpt-00000040.pt") + " --prompt 龍");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("'龍'"), std::string::npos) << refused.err;
}

TEST_F(TrainCli, SampleTakesGreedyDecodingKeywordsAndCandidates) {
  ASSERT_EQ(train("run").exit_code, 0);
  const std::string sample = "sample --checkpoint " + (dir_ / "run/checkpoints/ckpt-00000040.pt") + " --json ";
  // Temperature 0 is greedy decoding, as in most generation tools: every seed writes one poem.
  const auto greedy = run_poet(sample + "--form wujue --temperature 0 --num 2");
  ASSERT_EQ(greedy.exit_code, 0) << greedy.err;
  const json g = json::parse(greedy.out)["poems"];
  EXPECT_EQ(g[0]["text"], g[1]["text"]);
  EXPECT_EQ(g[0]["candidates"], 1);
  const auto negative = run_poet(sample + "--form wujue --top-k -1");
  EXPECT_EQ(negative.exit_code, 1);
  EXPECT_NE(negative.err.find("--top-k is -1, expected 0 (off) or a positive number"), std::string::npos)
      << negative.err;
  // Keywords in either script, one a line, a two-character word among them; a 七绝 to fit them.
  const auto keywords = run_poet(sample + "--keywords 风,云,,月 --tones off");
  EXPECT_EQ(keywords.exit_code, 1);
  EXPECT_NE(keywords.err.find("an empty keyword"), std::string::npos) << keywords.err;
  const auto placed = run_poet(sample + "--keywords 风，云雨,月 --tones off --candidates 3");
  ASSERT_EQ(placed.exit_code, 0) << placed.err;
  const json k = json::parse(placed.out)["poems"][0];
  EXPECT_EQ(k["form"], "qijue");
  EXPECT_EQ(k["candidates"], 3);
  EXPECT_LT(k["log_prob"].get<double>(), 0.0);
  EXPECT_NE(k["lines"][0].get<std::string>().find("風"), std::string::npos) << k;
  EXPECT_NE(k["lines"][1].get<std::string>().find("雲雨"), std::string::npos) << k;
  EXPECT_NE(k["lines"][2].get<std::string>().find("月"), std::string::npos) << k;
}

}  // namespace
}  // namespace poet
