// The job CLI without a cluster: the batch script `submit --dry-run` writes, values that are
// refused, and the message when Slurm's commands are missing.
#include <gtest/gtest.h>

#include "test_support.h"

namespace poet {
namespace {

const std::string kTiny = std::string(POET_SOURCE_DIR) + "/configs/tiny.toml";

TEST(JobCli, DryRunWritesTheBatchScript) {
  const auto r = test::run_poet("submit --config " + kTiny +
                                " --nodes 2 --gpus-per-node 8 --cpus-per-task 8 "
                                "--time 1-00:00:00 --partition gpu --account lab --signal USR2 --run-root /tmp/r "
                                "--set model.hidden=512 --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* line : {"#SBATCH --nodes=2\n", "#SBATCH --ntasks-per-node=8\n", "#SBATCH --gpus-per-node=8\n",
                           "#SBATCH --cpus-per-task=8\n", "#SBATCH --time=1-00:00:00\n", "#SBATCH --partition=gpu\n",
                           "#SBATCH --account=lab\n", "#SBATCH --signal=USR2@120\n", "#SBATCH --requeue\n",
                           "#SBATCH --output=/tmp/r/tiny/slurm-%j.out\n", "exec srun --mpi=pmix",
                           "--run-dir '/tmp/r/tiny' --resume auto --requeue-on USR2 --set 'model.hidden=512'"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  }
  const auto mpirun = test::run_poet("submit --config " + kTiny + " --launcher mpirun --dry-run");
  EXPECT_NE(mpirun.out.find("#SBATCH --signal=B:USR1@120"), std::string::npos) << mpirun.out;
  EXPECT_NE(mpirun.out.find("exec mpirun -np \"$SLURM_NTASKS\""), std::string::npos) << mpirun.out;
}

TEST(JobCli, ValuesThatCouldReachAShellAreRefusedOrQuoted) {
  const auto time = test::run_poet("submit --config " + kTiny + " --time '1:00; id' --dry-run");
  EXPECT_EQ(time.exit_code, 1);
  EXPECT_NE(time.err.find("--time is '1:00; id', expected"), std::string::npos) << time.err;
  const auto partition = test::run_poet("submit --config " + kTiny + " --partition 'a b' --dry-run");
  EXPECT_EQ(partition.exit_code, 1);
  EXPECT_NE(partition.err.find("--partition"), std::string::npos) << partition.err;
  const auto root = test::run_poet("submit --config " + kTiny + " --run-root '/tmp/a b' --dry-run");
  EXPECT_EQ(root.exit_code, 1);
  EXPECT_NE(root.err.find("run directory"), std::string::npos) << root.err;
  // An override is data for train, single-quoted, whatever it holds.
  const auto set = test::run_poet("submit --config " + kTiny + " --set \"run.device=x'; id; '\" --dry-run");
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_NE(set.out.find("--set 'run.device=x'\\''; id; '\\'''"), std::string::npos) << set.out;
}

TEST(JobCli, WithoutSlurmTheMessageSaysWhatToDo) {
  for (const char* command : {"submit --config ", "jobs", "cancel 12", "logs 12"}) {
    const std::string args = std::string(command) == "submit --config " ? std::string(command) + kTiny : command;
    const auto r = test::run_command("PATH=/nonexistent " + std::string(POET_BINARY) + " " + args);
    EXPECT_EQ(r.exit_code, 1) << args;
    EXPECT_NE(r.err.find("is not on PATH"), std::string::npos) << args << ": " << r.err;
    EXPECT_NE(r.err.find("--dry-run"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("mpirun -np N poet_dist train"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace poet
