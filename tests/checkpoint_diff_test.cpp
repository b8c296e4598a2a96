// The checkpoint_diff tool (tests/checkpoint_diff.cpp), run on checkpoints written here with
// poet::save_checkpoint: identical ones pass, a perturbed one fails above the tolerance and
// passes within it, and a NaN fails whatever the tolerance, the tensor named.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>

#include "config/train_config.h"
#include "model/checkpoint.h"
#include "model/poet_model.h"

namespace poet {
namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  std::string out;
};

Result run(const std::string& command) {
  Result r;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((command + " 2>&1").c_str(), "r"), pclose);
  if (!pipe) return r;
  std::array<char, 4096> buffer{};
  while (fgets(buffer.data(), buffer.size(), pipe.get()) != nullptr) r.out += buffer.data();
  const int status = pclose(pipe.release());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class CheckpointDiff : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "checkpoint-diff-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes the same small model (fixed seed) to NAME, after `change` has had its way with it.
  std::string write(const std::string& name, void (*change)(PoetModel&)) {
    const std::string toml = "[model]\nembed = 8\nhidden = 16\nlayers = 1\ndropout = 0.0\n";
    torch::manual_seed(7);
    PoetModel model(/*vocab_size=*/12, parse_train_config(toml, name).model);
    {
      torch::NoGradGuard no_grad;
      change(model);
    }
    CheckpointMeta meta;
    meta.config_toml = toml;
    meta.script = "simplified";
    for (int i = 0; i < 12; ++i) meta.vocab_tokens.push_back("t" + std::to_string(i));
    const std::string path = (dir_ / name).string();
    save_checkpoint(path, model, /*optimizer=*/nullptr, meta);
    return path;
  }

  static Result diff(const std::string& a, const std::string& b, const std::string& tolerance) {
    return run(std::string(POET_CHECKPOINT_DIFF) + " " + a + " " + b + " --tolerance " + tolerance);
  }

  fs::path dir_;
};

void unchanged(PoetModel&) {}
void perturbed(PoetModel& m) { m->named_parameters()["lstm.weight_hh_l0"][0][0] += 1e-3; }
void with_a_nan(PoetModel& m) {
  m->named_parameters()["lstm.weight_hh_l0"][0][0] = std::numeric_limits<float>::quiet_NaN();
}

TEST_F(CheckpointDiff, IdenticalCheckpointsAreWithinZero) {
  const Result r = diff(write("a.pt", unchanged), write("b.pt", unchanged), "0");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("largest parameter difference 0 ((none)); tolerance 0: within"), std::string::npos) << r.out;
}

TEST_F(CheckpointDiff, APerturbedWeightIsAboveATighterTolerance) {
  const std::string a = write("a.pt", unchanged);
  const std::string b = write("b.pt", perturbed);
  const Result above = diff(a, b, "1e-4");
  EXPECT_EQ(above.exit_code, 1) << above.out;
  EXPECT_NE(above.out.find("(lstm.weight_hh_l0); tolerance 0.0001: ABOVE"), std::string::npos) << above.out;
  const Result within = diff(a, b, "1e-2");
  EXPECT_EQ(within.exit_code, 0) << within.out;
}

TEST_F(CheckpointDiff, ANanFailsWhateverTheToleranceAndIsNamed) {
  const Result r = diff(write("a.pt", unchanged), write("nan.pt", with_a_nan), "1e30");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("not finite: lstm.weight_hh_l0 (NaN or infinity in "), std::string::npos) << r.out;
}

}  // namespace
}  // namespace poet
