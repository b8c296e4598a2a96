// poet_dist train under mpiexec: the same global batch gives the same training at any world
// size (np 1, 2, 4), and a run checkpointed at np 2 resumes at np 4.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "test_support.h"
#include "trainer/checkpoint.h"
#include "trainer/train_config.h"

namespace poet {
namespace {

using test::ScratchDir;

class Distributed : public ::testing::Test {
 protected:
  void SetUp() override {
    test::write_fixture_dataset(dir_ / "d.h5", 120, /*val_fraction=*/0.2);
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 1);
  }

  test::CommandResult train(int np, const std::string& run, const std::string& extra = "") {
    const std::string command = std::string(POET_MPIEXEC) + " -np " + std::to_string(np) + " --oversubscribe " +
                                POET_BINARY + " train --config " + POET_SOURCE_DIR + "/configs/tiny.toml --data " +
                                (dir_ / "d.h5") + " --run-dir " + (dir_ / run) +
                                " --set run.steps=20 --set run.threads=1 --backend mpi " + extra;
    return test::run_command(command);
  }

  // Every parameter of a checkpoint, by name.
  std::vector<std::pair<std::string, torch::Tensor>> parameters(const std::string& run) {
    LoadedCheckpoint ckpt(dir_ / (run + "/checkpoints/ckpt-00000020.pt"));
    const TrainConfig config = parse_train_config(ckpt.meta().config_toml, run);
    PoetModel model(static_cast<int64_t>(ckpt.meta().vocab_tokens.size()), config.model);
    ckpt.restore_model(model);
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& item : model->named_parameters()) out.emplace_back(item.key(), item.value().detach().clone());
    return out;
  }

  ScratchDir dir_;
};

double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).norm().item<double>() / std::max(a.norm().item<double>(), 1e-30);
}

TEST_F(Distributed, SameParametersAtAnyWorldSize) {
  for (int np : {1, 2, 4}) {
    const auto r = train(np, "np" + std::to_string(np));
    ASSERT_EQ(r.exit_code, 0) << "np " << np << "\n" << r.out << r.err;
    if (np > 1) EXPECT_NE(r.out.find(std::to_string(np) + " ranks (mpi)"), std::string::npos) << r.out;
  }
  const auto one = parameters("np1");
  for (const char* run : {"np2", "np4"}) {
    const auto other = parameters(run);
    ASSERT_EQ(other.size(), one.size());
    for (size_t i = 0; i < one.size(); ++i) {
      EXPECT_LT(relative_difference(other[i].second, one[i].second), 1e-5) << run << " " << one[i].first;
    }
  }
}

TEST_F(Distributed, MetricsRecordTimeSpentCommunicating) {
  ASSERT_EQ(train(2, "comm").exit_code, 0);
  const std::string metrics = test::read_text(dir_ / "comm/metrics.jsonl");
  const size_t at = metrics.find("\"comm_s\":");
  ASSERT_NE(at, std::string::npos) << metrics.substr(0, 300);
  EXPECT_GT(std::stod(metrics.substr(at + 9)), 0.0);  // two ranks really exchanged gradients
}

TEST_F(Distributed, SrunWithoutPmiIsRefused) {
  // What srun without --mpi=pmix looks like from inside one of its processes: a Slurm step of
  // two tasks, and no MPI launcher around this one.
  const auto r = test::run_command("SLURM_NTASKS=2 SLURM_STEP_ID=0 " + std::string(POET_BINARY) +
                                   " train --config " + POET_SOURCE_DIR + "/configs/tiny.toml --data " + (dir_ / "d.h5") +
                                   " --run-dir " + (dir_ / "srun"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Slurm started 2 tasks but MPI sees a world of 1"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "srun"));
}

TEST_F(Distributed, ResumesAtAnotherWorldSize) {
  ASSERT_EQ(train(1, "whole").exit_code, 0);
  const auto first = train(2, "moved", "--stop-after-steps 10");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto second = train(4, "moved", "--resume auto");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("resumed from"), std::string::npos) << second.out;
  const auto whole = parameters("whole");
  const auto moved = parameters("moved");
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_LT(relative_difference(moved[i].second, whole[i].second), 1e-5) << whole[i].first;
  }
}

TEST_F(Distributed, AnErrorEndsTheJobNamingTheRank) {
  // Rows longer than the data: the ranks refuse, MPI_Abort ends the job instead of a hang.
  const auto r = train(2, "bad", "--set data.seq_len=100000");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("rank "), std::string::npos) << r.err;
}

}  // namespace
}  // namespace poet
