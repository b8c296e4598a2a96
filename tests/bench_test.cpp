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
       "python compute +no autocast: LSTM products fp32, cell state fp32, output fp32; output-layer products fp32;.*",
       "RESULT python_padded_tokens_per_s=" + kNumber, "RESULT python_packed_tokens_per_s=" + kNumber});
}

// CPU autocast: the CPU path touches no CUDA API, which a CPU-only torch refuses. Torch 1.13's
// CPU autocast runs the LSTM's products in bf16 but keeps its cell state and output in fp32;
// poet_dist's algorithm keeps the whole LSTM in bf16 (bench/train_bench.sh's header says so).
TEST_F(Bench, PythonTimesAConfigsModelUnderCpuAutocast) {
  expect_figures(
      kPython + " " + kSource + "/bench/train_bench_python.py --data " + data() + " --config " + tiny() +
          " --bf16 --poet-algorithm --warmup 1 --steps 1",
      {"python packed .*/configs/tiny.toml: embed 32, hidden 64, 1 layers, dropout 0, untied  batch 8 x 32 .*",
       "python compute +bf16 autocast: LSTM products bf16, cell state fp32, output fp32; output-layer products bf16;.*",
       "python compute +poet_dist's algorithm, bf16: LSTM products bf16, cell state bf16, output bf16; "
       "output-layer products bf16;.*",
       "RESULT python_packed_tokens_per_s=" + kNumber, "RESULT python_poet_dist_alg_tokens_per_s=" + kNumber});
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

// Both programs in both precisions: a row of medians for each, and the ratios that split
// poet_dist's lead over Python into algorithm and language and runtime.
TEST_F(Bench, TrainBenchScriptComparesBothInBothPrecisions) {
  const std::string figures = " +" + kNumber + " +" + kNumber + " +" + kNumber + "x";
  const std::string ratios = " +" + kNumber + "x +" + kNumber + "x";
  expect_figures(
      kSource + "/bench/train_bench.sh " + data() + " " + kBuild + " 1 --config " + tiny() + " --warmup 1 --steps 1",
      {"  bf16  poet_dist compute +LSTM bf16, output layer bf16.*",
       "  bf16  python compute +bf16 autocast: LSTM products bf16, cell state fp32, output fp32;.*",
       "  bf16  python compute +poet_dist's algorithm, bf16: LSTM products bf16, cell state bf16, output bf16;.*",
       "medians of 1 rounds, tokens/s +fp32 +bf16 +bf16/fp32", "poet_dist" + figures,
       "Python, poet_dist's algorithm" + figures, "Python, usual code \\(bf16: autocast\\)" + figures,
       "Python, usual code, padded \\(useful tokens\\)" + figures, "poet_dist vs Python +fp32 +bf16",
       "  homework batching \\(usual code, padded\\)" + ratios + "  \\(target >= 2\\)",
       "  identical packed workload \\(usual code\\)" + ratios + "  \\(target >= 1.0\\)",
       "  = algorithm \\(Python: poet_dist's / usual\\)" + ratios,
       "  x language and runtime \\(poet_dist / Python\\)" + ratios});
}

TEST_F(Bench, TrainBenchScriptRunsBothPrecisionsItself) {
  const test::CommandResult r =
      test::run_command(kSource + "/bench/train_bench.sh " + data() + " " + kBuild + " 1 --bf16");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("every round runs fp32 and bf16"), std::string::npos) << r.err;
}

// Both sides through mpiexec with the same binding policy, the bindings printed.
TEST_F(Bench, ScalingBenchScriptComparesOneAndTwoRanks) {
  expect_figures(
      kSource + "/bench/scaling_bench.sh " + data() + " " + kBuild + " 1 6 " + tiny(),
      {"np=1 x 2 threads: \\[.*\\] MCW rank 0 (is not bound|bound to).*",
       "np=2 x 1 thread:  \\[.*\\] MCW rank 1 bound to .*",
       "round 1: np=1 x 2 threads " + kNumber + " tokens/s; np=2 x 1 thread " + kNumber + " tokens/s, " + kNumber +
           "% of the step waiting on communication; with the progress thread " + kNumber + " tokens/s, " + kNumber +
           "% waiting; without it " + kNumber + " tokens/s, " + kNumber + "% waiting",
       "medians of 1 rounds: np=1 x 2 threads " + kNumber + ", np=2 x 1 thread " + kNumber + " tokens/s",
       "np=2 / np=1: " + kNumber + "x \\(target >= 0.9\\)", "np=2 communication wait: " + kNumber + "% of the step",
       "np=2 progress thread: on " + kNumber + ", off " + kNumber + " tokens/s; step " + kNumber + " ms on, " + kNumber +
           " ms off \\(saved -?" + kNumber + " ms, -?" + kNumber + "%\\)",
       "np=2 communication wait: " + kNumber + "% of the step with the progress thread, " + kNumber + "% without",
       "np=2 gradient bytes all-reduced before backward ended: " + kNumber + "% with the progress thread, " + kNumber +
           "% without"});
}

// fp32 against bf16: speed, FLOP rates against both peaks, and the loss after the same steps.
TEST_F(Bench, PrecisionBenchComparesFp32AndBf16) {
  const std::string percent = kNumber + "%";
  const std::string row =
      " +" + kNumber + " +" + kNumber + " +" + percent + " +" + percent + "  " + kNumber + " \\(" + kNumber + " s\\)";
  expect_figures(kSource + "/bench/precision_bench.sh " + data() + " " + kBuild + " 1 2 " + tiny(),
                 {"medians of 1 rounds; matrix-product peaks \\(LibTorch 1024x1024\\): fp32 " + kNumber + ", bf16 " +
                      kNumber + " GFLOP/s",
                  "fp32" + row, "bf16" + row, "bf16 / fp32 tokens/s: " + kNumber + "x \\(target >= 1.7\\)",
                  "bf16 val loss vs fp32: [+-]" + kNumber + "% \\(target within 1%\\)",
                  "  compute  LSTM bf16, output layer bf16, .*", "           bf16: run.precision bf16, .*"});
}

// Candidates: the chosen poem's quality and the time to write it at each count.
TEST_F(Bench, CandidatesBenchWeighsQualityAgainstTime) {
  const auto trained = test::run_poet("train --config " + tiny() + " --data " + data() + " --run-dir " +
                                      (*dir_ / "candidates") + " --set run.steps=2");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const std::string row = " +-" + kNumber + " +" + kNumber + "% +" + kNumber;  // logp, repeats, seconds
  expect_figures(
      kSource + "/bench/candidates_bench.sh " + (*dir_ / "candidates/checkpoints/best.pt") + " " + kBuild + " 2 '1 3'",
      {"search      candidates  logp/char  repeated  s/poem \\(median\\)", "candidates +1" + row, "beam +1" + row,
       "candidates +3" + row, "beam +3" + row,
       "one 七律 at the defaults \\(" + kNumber + " candidates, (candidates|beam)\\): " + kNumber + " s writing, " +
           kNumber + " s wall with loading"});
}

// One 七绝 a request at 1, 2 and 8 clients; the server is the real binary.
TEST_F(Bench, ServeBenchTimesPoemsAtThreeConcurrencies) {
  const auto trained = test::run_poet("train --config " + tiny() + " --data " + data() + " --run-dir " +
                                      (*dir_ / "served") + " --set run.steps=2");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  std::vector<std::string> lines = {"poet_dist serve: http://127.0.0.1:[0-9]+/ .*",
                                    "clients  poems/s  p50 ms  p99 ms  refused \\(503\\)  poems"};
  for (const char* clients : {"1", "2", "8"}) {
    lines.push_back(std::string("RESULT clients=") + clients + " poems_per_s=" + kNumber + " p50_ms=" + kNumber +
                    " p99_ms=" + kNumber);
  }
  expect_figures(kBuild + "/bin/serve_bench --binary " + POET_BINARY + " --checkpoint " +
                     (*dir_ / "served/checkpoints/best.pt") + " --requests 8",
                 lines);
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
