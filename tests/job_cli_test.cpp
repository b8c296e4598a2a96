// The job CLI without a cluster: the batch script `submit --dry-run` writes, values that are
// refused, the message when Slurm's commands are missing, and `jobs` against stand-ins for
// squeue and scontrol.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "test_support.h"

namespace poet {
namespace {

namespace fs = std::filesystem;

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

// Two jobs of slurm/*.sbatch: one that ended, known only by its run directory, and a pending
// one, known only to squeue. Neither has a comment or a job.json.
TEST(JobCli, JobsListsJobsStartedFromTheBatchScripts) {
  test::ScratchDir dir;
  const fs::path checkout = dir.path() / "checkout";
  test::write_text(dir.path() / "bin/squeue",
                   "#!/bin/sh\necho '8|poet-8gpu|PENDING|0:00|2|3|" + (dir / "elsewhere") + "|(null)|'\n");
  test::write_text(dir.path() / "bin/scontrol",
                   "#!/bin/sh\necho 'JobId=2 JobName=poet-cpu JobState=COMPLETED RunTime=00:00:09 NumNodes=1'\n");
  fs::permissions(dir.path() / "bin/squeue", fs::perms::owner_exec, fs::perm_options::add);
  fs::permissions(dir.path() / "bin/scontrol", fs::perms::owner_exec, fs::perm_options::add);
  test::write_text(checkout / "runs/poet-cpu-2/metrics.jsonl",
                   "{\"step\": 39, \"loss\": 5.5}\n{\"step\": 40, \"loss\": 5.25}\n");
  // Not named JOBNAME-JOBID by a script: a run of `train`, not a job.
  fs::create_directories(checkout / "runs/poet-notes");
  fs::create_directories(checkout / "runs/tiny-3");

  const auto r = test::run_command("cd " + checkout.string() + " && PATH=" + (dir / "bin") + ":$PATH " +
                                   POET_BINARY + " jobs --run-root runs");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto row = [&](const std::string& id) {
    const size_t at = r.out.find("\n" + id + " ");
    return at == std::string::npos ? std::string() : r.out.substr(at + 1, r.out.find('\n', at + 1) - at - 1);
  };
  const std::string ended = row("2");
  for (const std::string& cell : std::vector<std::string>{" poet-cpu ", " COMPLETED ", " 00:00:09 ", " 40 ",
                                                          " 5.2500 ", (checkout / "runs/poet-cpu-2").string()}) {
    EXPECT_NE(ended.find(cell), std::string::npos) << cell << "\n" << r.out;
  }
  const std::string pending = row("8");
  // squeue -O's fields, each ended by '|': id, name, state, time, nodes, requeues, folder, comment.
  for (const std::string& cell :
       std::vector<std::string>{" poet-8gpu ", " PENDING ", " 3 ", dir / "elsewhere/runs/poet-8gpu-8"}) {
    EXPECT_NE(pending.find(cell), std::string::npos) << cell << "\n" << r.out;
  }
  EXPECT_EQ(r.out.find("notes"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("tiny"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace poet
