// Every benchmark in bench/, run for a step or two on a fixture dataset so that none stops
// working unnoticed: each must exit 0 and print its figures. Nothing is held to a speed (the
// machine running the suite is shared); the figures only have to be numbers.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace poet {
namespace {

const std::string kSource = POET_SOURCE_DIR;
const std::string kBuild = POET_BUILD_DIR;       // the scripts' BUILD_DIR: the binaries are in its bin/
const std::string kPython = "/usr/bin/python3";  // Debian's: python3-torch and python3-h5py
const std::string kNumber = "[0-9]+(\\.[0-9]+)?";

// Whether a line of `text` matches `pattern` whole.
bool has_line(const std::string& text, const std::string& pattern) {
  const std::regex re(pattern);
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_match(line, re)) return true;
  }
  return false;
}

class Bench : public ::testing::Test {
 protected:
  // One small dataset for all: every run here trains a batch of 8 rows of 32.
  static void SetUpTestSuite() {
    dir_ = new test::ScratchDir;
    test::write_fixture_dataset(*dir_ / "bench.h5", /*poems=*/200, /*val_fraction=*/0.1);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static std::string data() { return *dir_ / "bench.h5"; }
  static std::string tiny() { return kSource + "/configs/tiny.toml"; }

  // Runs `command` and expects exit 0 and, for each of `lines`, a line of its output that matches.
  static void expect_figures(const std::string& command, const std::vector<std::string>& lines) {
    const test::CommandResult r = test::run_command(command);
    ASSERT_EQ(r.exit_code, 0) << command << "\n" << r.out << r.err;
    for (const std::string& pattern : lines) {
      EXPECT_TRUE(has_line(r.out, pattern)) << command << "\nprinted no line matching " << pattern << ":\n" << r.out;
    }
  }

  static test::ScratchDir* dir_;
};

test::ScratchDir* Bench::dir_ = nullptr;

TEST_F(Bench, TrainBenchTimesTheHomeworkModel) {
  expect_figures(
      kBuild + "/bin/train_bench --data " + data() + " --batch 8 --seq-len 32 --warmup 1 --steps 1",
      {"poet_dist packed .* homework model: embed 128, hidden 256, 2 layers, dropout 0, untied  batch 8 x 32 .*",
       "poet_dist compute +LSTM fp32, output layer fp32.*", "RESULT cpp_tokens_per_s=" + kNumber});
}

TEST_F(Bench, TrainBenchTimesAConfigsModelInBf16) {
  expect_figures(
      kBuild + "/bin/train_bench --data " + data() + " --config " + tiny() + " --bf16 --warmup 1 --steps 1",
      {"poet_dist packed .*/configs/tiny.toml: embed 32, hidden 64, 1 layers, dropout 0, untied  batch 8 x 32 .*",
       "poet_dist compute +LSTM bf16, output layer bf16.*", "RESULT cpp_tokens_per_s=" + kNumber});
}

TEST_F(Bench, PythonTimesTheHomeworkModel) {
  expect_figures(
      kPython + " " + kSource + "/bench/train_bench_python.py --data " + data() +
          " --batch 8 --seq-len 32 --warmup 1 --steps 1",
      {"python padded .* homework model: embed 128, hidden 256, 2 layers, dropout 0, untied  batch 8 x 32 .*",
       "python compute +no autocast: LSTM output fp32, logits fp32.*", "RESULT python_padded_tokens_per_s=" + kNumber,
       "RESULT python_packed_tokens_per_s=" + kNumber});
}

// CPU autocast: the CPU path touches no CUDA API, which a CPU-only torch refuses.
TEST_F(Bench, PythonTimesAConfigsModelUnderCpuAutocast) {
  expect_figures(
      kPython + " " + kSource + "/bench/train_bench_python.py --data " + data() + " --config " + tiny() +
          " --bf16 --warmup 1 --steps 1",
      {"python packed .*/configs/tiny.toml: embed 32, hidden 64, 1 layers, dropout 0, untied  batch 8 x 32 .*",
       "python compute +bf16 autocast: .*logits bf16.*", "RESULT python_packed_tokens_per_s=" + kNumber});
}

// The model and batch as scripts/gpu-check.sh passes them, where python3 may lack tomllib.
TEST_F(Bench, PythonTimesAModelGivenOnTheCommandLine) {
  expect_figures(
      kPython + " " + kSource + "/bench/train_bench_python.py --data " + data() +
          " --embed 24 --hidden 24 --layers 2 --dropout 0.1 --tie-weights --batch 8 --seq-len 32 --warmup 1 --steps 1",
      {"python packed .* command-line model: embed 24, hidden 24, 2 layers, dropout 0.1, tied  batch 8 x 32 .*",
       "RESULT python_packed_tokens_per_s=" + kNumber});
}

TEST_F(Bench, ABatchLargerThanTheDatasetIsNamed) {
  for (const std::string& program :
       {kBuild + "/bin/train_bench", kPython + " " + kSource + "/bench/train_bench_python.py"}) {
    const test::CommandResult r = test::run_command(program + " --data " + data() + " --batch 100000 --steps 1");
    EXPECT_EQ(r.exit_code, 1) << program << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find("fewer than one batch of 100000 (lower --batch)"), std::string::npos) << program << r.err;
  }
}

TEST_F(Bench, TrainBenchScriptComparesBoth) {
  expect_figures(
      kSource + "/bench/train_bench.sh " + data() + " " + kBuild + " 1 --config " + tiny() + " --warmup 1 --steps 1",
      {"poet_dist vs Python on the identical packed workload: +" + kNumber + "x .*"});
}

TEST_F(Bench, ScalingBenchScriptComparesOneAndTwoRanks) {
  expect_figures(kSource + "/bench/scaling_bench.sh " + data() + " " + kBuild + " 1 6 " + tiny(),
                 {"np=2 / np=1: " + kNumber + "x .*"});
}

TEST_F(Bench, PrepareBenchTimesTheFixtureCorpus) {
  expect_figures(kBuild + "/bin/prepare_bench --input " + (*dir_ / "fixture-corpus") + " --runs 1",
                 {"threads 1 median: " + kNumber + " s, " + kNumber + " MB/s .*"});
}

TEST_F(Bench, AllreduceBenchComparesWithMpi) {
  expect_figures(
      std::string(POET_MPIEXEC) + " -np 2 --oversubscribe " + kBuild + "/bin/allreduce_bench --max-bytes 65536",
      {" +65536 +" + kNumber + " +" + kNumber + " +" + kNumber});
}

}  // namespace
}  // namespace poet
