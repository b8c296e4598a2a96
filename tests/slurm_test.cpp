// poet_dist on a real Slurm: submit, jobs, cancel, logs, USR1 requeue and resume, and the
// scripts in slurm/, whose jobs `jobs` lists too. The cluster is the one-node Slurm that
// scripts/slurm-cluster.sh starts (scripts/test.sh does, and sets SLURM_CONF); without one these
// tests skip, unless POET_REQUIRE_SLURM=1 (CI) makes that a failure.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "model/checkpoint.h"

namespace poet {
namespace {

namespace fs = std::filesystem;

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class Slurm : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* require = std::getenv("POET_REQUIRE_SLURM");
    if (std::getenv("SLURM_CONF") == nullptr || test::run_command("sinfo -h").exit_code != 0) {
      if (require != nullptr && std::string(require) == "1") FAIL() << "no Slurm cluster, and POET_REQUIRE_SLURM=1";
      GTEST_SKIP() << "no Slurm cluster (scripts/slurm-cluster.sh start, then export SLURM_CONF)";
    }
    test::write_fixture_dataset(dir_ / "d.h5", 120, /*val_fraction=*/0.2);
    // sbatch passes this environment to the job: Open MPI as root, in a container.
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 1);
  }

  // `poet_dist submit` of configs/tiny.toml into dir_/runs; returns the job id.
  std::string submit(const std::string& name, const std::string& extra = "") {
    const auto r = test::run_poet("submit --config " + std::string(POET_SOURCE_DIR) + "/configs/tiny.toml --data " +
                                  (dir_ / "d.h5") + " --run-root " + (dir_ / "runs") + " --name " + name +
                                  " --tasks-per-node 2 --set run.threads=1 " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return trimmed(r.out);
  }

  static std::string state(const std::string& id) {
    const auto r = test::run_command("scontrol show job -o " + id);
    const size_t at = r.out.find("JobState=");
    return at == std::string::npos ? "" : r.out.substr(at + 9, r.out.find(' ', at) - at - 9);
  }

  static bool wait_for_state(const std::string& id, const std::string& wanted, double seconds) {
    return test::eventually(seconds, [&] { return state(id) == wanted; });
  }

  // The row of job `id` in the table that `poet_dist jobs` printed; "" if there is none.
  static std::string job_row(const std::string& table, const std::string& id) {
    const size_t at = table.find("\n" + id + " ");
    return at == std::string::npos ? "" : table.substr(at + 1, table.find('\n', at + 1) - at - 1);
  }

  // The loss of the last line of `run_dir`/metrics.jsonl, as `jobs` prints it.
  static std::string last_loss(const fs::path& run_dir) {
    std::istringstream metrics(test::read_text(run_dir / "metrics.jsonl"));
    std::string last;
    for (std::string line; std::getline(metrics, line);) last = line;
    char loss[16];
    std::snprintf(loss, sizeof(loss), "%.4f", nlohmann::json::parse(last)["loss"].get<double>());
    return loss;
  }

  static size_t metric_lines(const fs::path& run_dir) {
    const std::string text = test::read_text(run_dir / "metrics.jsonl");
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  }

  test::ScratchDir dir_;
};

TEST_F(Slurm, SubmitRunsTinyToCompletionWithCheckpointSampleAndRecord) {
  const std::string id = submit("tiny");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(wait_for_state(id, "COMPLETED", 180)) << "state " << state(id);
  const fs::path run = fs::path(dir_ / "runs") / "tiny";
  EXPECT_EQ(LoadedCheckpoint((run / "checkpoints/ckpt-00000040.pt").string()).meta().step, 40);
  EXPECT_NE(test::read_text(run / "samples.txt").find("step 40 [五绝]"), std::string::npos);
  const auto record = nlohmann::json::parse(test::read_text(run / "job.json"));
  EXPECT_EQ(record["job_id"], id);
  EXPECT_FALSE(record["commit"].get<std::string>().empty());
  EXPECT_TRUE(fs::exists(record["script"].get<std::string>()));

  const auto logs = test::run_poet("logs " + id + " --run-root " + (dir_ / "runs"));
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_NE(logs.out.find("2 ranks (mpi)"), std::string::npos) << logs.out;
  EXPECT_NE(logs.out.find("done     step 40"), std::string::npos) << logs.out;
  EXPECT_EQ(test::run_poet("logs --follow " + id + " --run-root " + (dir_ / "runs")).out, logs.out);
}

TEST_F(Slurm, Usr1CheckpointsRequeuesAndTheJobCompletesItsSteps) {
  const std::string id =
      submit("preempted", "--set run.steps=1500 --set run.checkpoint_every=500 --set run.log_every=100");
  const fs::path run = fs::path(dir_ / "runs") / "preempted";
  ASSERT_TRUE(test::eventually(120, [&] { return metric_lines(run) >= 100; })) << state(id);
  const auto jobs = test::run_poet("jobs --run-root " + (dir_ / "runs"));
  EXPECT_NE(jobs.out.find(id), std::string::npos) << jobs.out;
  EXPECT_NE(jobs.out.find("RUNNING"), std::string::npos) << jobs.out;

  ASSERT_EQ(test::run_command("scancel --signal=USR1 " + id).exit_code, 0);
  const fs::path log = run / ("slurm-" + id + ".out");
  ASSERT_TRUE(test::eventually(60, [&] { return test::read_text(log).find("requeued job") != std::string::npos; }))
      << test::read_text(log);
  // Slurm holds a requeued batch job for two minutes before it may start again; skip the wait.
  ASSERT_TRUE(wait_for_state(id, "PENDING", 60)) << state(id);
  ASSERT_EQ(test::run_command("scontrol update JobId=" + id + " StartTime=now").exit_code, 0);
  ASSERT_TRUE(wait_for_state(id, "COMPLETED", 180)) << state(id) << test::read_text(log);

  const std::string text = test::read_text(log);
  EXPECT_NE(text.find("start 2"), std::string::npos) << text;
  EXPECT_NE(text.find("resumed from"), std::string::npos) << text;
  // Every step from 1 to 1500 once: the resumed run began where the checkpoint was taken.
  std::istringstream metrics(test::read_text(run / "metrics.jsonl"));
  int64_t expected = 1;
  for (std::string line; std::getline(metrics, line); ++expected) {
    ASSERT_EQ(nlohmann::json::parse(line)["step"].get<int64_t>(), expected);
  }
  EXPECT_EQ(expected - 1, 1500);

  const auto after = test::run_poet("jobs --run-root " + (dir_ / "runs"));
  const std::string row = job_row(after.out, id);
  ASSERT_FALSE(row.empty()) << after.out;
  EXPECT_NE(row.find("COMPLETED"), std::string::npos) << row;
  EXPECT_NE(row.find(" 1500 "), std::string::npos) << row;
  EXPECT_NE(row.find(last_loss(run)), std::string::npos) << row << " (loss " << last_loss(run) << ")";
}

TEST_F(Slurm, CancelEndsARunningJob) {
  const std::string id = submit("cancelled", "--set run.steps=1000000");
  const fs::path run = fs::path(dir_ / "runs") / "cancelled";
  ASSERT_TRUE(test::eventually(120, [&] { return metric_lines(run) >= 5; })) << state(id);
  const auto r = test::run_poet("cancel " + id);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(trimmed(r.out), "cancelled job " + id);
  EXPECT_TRUE(wait_for_state(id, "CANCELLED", 60)) << state(id);
}

TEST_F(Slurm, AJobNameIsNeverRunByAShell) {
  const std::string canary = dir_ / "canary";
  const std::string name = "'x; touch " + canary + "'";
  const auto dry = test::run_poet("submit --config " + std::string(POET_SOURCE_DIR) + "/configs/tiny.toml --name " +
                                  name + " --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out.find("; touch"), std::string::npos) << dry.out;  // only the folder-safe form
  const std::string id = submit(name);
  ASSERT_TRUE(wait_for_state(id, "COMPLETED", 180)) << state(id);
  EXPECT_FALSE(fs::exists(canary));
  EXPECT_NE(test::run_command("scontrol show job " + id).out.find("JobName=x; touch " + canary), std::string::npos);
  // The run directory is named after the job, with the shell's characters made plain.
  for (const auto& entry : fs::directory_iterator(dir_ / "runs")) {
    EXPECT_EQ(entry.path().filename().string().rfind("x__touch__", 0), 0u) << entry.path();
  }
}

TEST_F(Slurm, MultiNodeAndGpuScriptsPassTestOnly) {
  const std::string tang8 = std::string(POET_SOURCE_DIR) + "/configs/tang-8gpu.toml";
  const auto dry = test::run_poet("submit --config " + tang8 +
                                  " --nodes 2 --gpus-per-node 8 --cpus-per-task 8 "
                                  "--partition gpu --time 04:00:00 --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  test::write_text(dir_ / "multi.sbatch", dry.out);
  const auto multi = test::run_command("sbatch --test-only " + (dir_ / "multi.sbatch"));
  EXPECT_EQ(multi.exit_code, 0) << multi.err;
  EXPECT_NE(multi.err.find("using 128 processors on nodes gpu-[1-2]"), std::string::npos) << multi.err;
  for (const char* script : {"node-8gpu.sbatch", "nodes-8gpu.sbatch", "gpu-debug.sbatch"}) {
    const auto r = test::run_command("sbatch --test-only -p gpu " + std::string(POET_SOURCE_DIR) + "/slurm/" + script +
                                     " " + tang8 + " " + (dir_ / "d.h5"));
    EXPECT_EQ(r.exit_code, 0) << script << ": " << r.err;
    EXPECT_NE(r.err.find("to start at"), std::string::npos) << script << ": " << r.err;
  }
}

// Started straight from the script, so with no job.json and no comment: `jobs` still lists it,
// pending (from squeue, by its name) and ended (from its run directory).
TEST_F(Slurm, TheCpuScriptTrainsForRealAndJobsListsIt) {
  const auto r = test::run_command("cd " + dir_.path().string() + " && POET_BIN=" + POET_BINARY +
                                   " POET_RUN_ROOT=runs sbatch --parsable --hold " + POET_SOURCE_DIR +
                                   "/slurm/cpu.sbatch " + POET_SOURCE_DIR + "/configs/tiny.toml " + (dir_ / "d.h5") +
                                   " --set run.threads=1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id = trimmed(r.out);
  const fs::path run = fs::path(dir_ / "runs") / ("poet-cpu-" + id);
  const std::string held = job_row(test::run_poet("jobs --run-root runs").out, id);
  EXPECT_NE(held.find(" poet-cpu "), std::string::npos) << held;
  EXPECT_NE(held.find(" PENDING "), std::string::npos) << held;
  EXPECT_NE(held.find(run.string()), std::string::npos) << held;
  ASSERT_EQ(test::run_command("scontrol release " + id).exit_code, 0);

  ASSERT_TRUE(wait_for_state(id, "COMPLETED", 180)) << state(id);
  EXPECT_EQ(LoadedCheckpoint((run / "checkpoints/ckpt-00000040.pt").string()).meta().step, 40);
  EXPECT_NE(test::read_text(dir_ / ("poet-cpu-" + id + ".out")).find("2 ranks (mpi)"), std::string::npos);
  const std::string ended = job_row(test::run_poet("jobs --run-root " + (dir_ / "runs")).out, id);
  EXPECT_NE(ended.find(" COMPLETED "), std::string::npos) << ended;
  EXPECT_NE(ended.find(" 40 "), std::string::npos) << ended;
  EXPECT_NE(ended.find(last_loss(run)), std::string::npos) << ended << " (loss " << last_loss(run) << ")";
  EXPECT_NE(ended.find(run.string()), std::string::npos) << ended;
}

}  // namespace
}  // namespace poet
