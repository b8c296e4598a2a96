// poet_dist on a real Slurm: submit, jobs (live from squeue, ended from accounting or, without
// it, from slurmctld), cancel, logs, USR1 requeue and resume, and the scripts in slurm/, whose
// jobs `jobs` lists too. The cluster is the one-node Slurm with accounting (slurmdbd on MariaDB)
// that scripts/slurm-cluster.sh starts (scripts/test.sh does, and sets SLURM_CONF); without one
// these tests skip, unless POET_REQUIRE_SLURM=1 (CI) makes that a failure.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

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

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> all;
  for (std::string word; in >> word;) all.push_back(word);
  return all;
}

// The lines of `text` that contain `needle`: what a failure shows instead of a whole log.
std::string lines_with(const std::string& text, const std::string& needle) {
  std::istringstream lines(text);
  std::string found;
  for (std::string line; std::getline(lines, line);) {
    if (line.find(needle) != std::string::npos) found += line + "\n";
  }
  return found;
}

// The first of `before`'s lines that `after` does not repeat at the same place, with both
// versions; "" when `after` begins with all of them, byte for byte.
std::string first_changed_line(const std::string& before, const std::string& after) {
  std::istringstream old_lines(before);
  std::istringstream new_lines(after);
  std::string old_line;
  std::string new_line;
  for (int line = 1; std::getline(old_lines, old_line); ++line) {
    if (!std::getline(new_lines, new_line)) return "line " + std::to_string(line) + " is gone";
    if (new_line != old_line) return "line " + std::to_string(line) + ": " + old_line + "\nbecame " + new_line;
  }
  return "";
}

// The steps of the lines "step N/M ..." that training logs (one a step with run.log_every=1), as
// ranges in the order logged: "1..523" when each step from 1 to 523 came once, in order;
// "1..523, 523..1500" when step 523 ran twice.
std::string logged_steps(const std::string& log) {
  std::vector<std::pair<long long, long long>> ranges;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("step ", 0) != 0) continue;
    const long long step = std::stoll(line.substr(5));
    if (!ranges.empty() && ranges.back().second + 1 == step) {
      ranges.back().second = step;
    } else {
      ranges.emplace_back(step, step);
    }
  }
  std::string text;
  for (const auto& [first, last] : ranges) {
    text += (text.empty() ? "" : ", ") + std::to_string(first) + ".." + std::to_string(last);
  }
  return text;
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

  // `poet_dist submit` of configs/tiny.toml into dir_/runs, on `data` (default the fixture
  // dataset); returns the job id.
  std::string submit(const std::string& name, const std::string& extra = "", std::string data = "") {
    if (data.empty()) data = dir_ / "d.h5";
    const auto r = test::run_poet("submit --config " + std::string(POET_SOURCE_DIR) + "/configs/tiny.toml --data " +
                                  data + " --run-root " + (dir_ / "runs") + " --name " + name +
                                  " --tasks-per-node 2 --set run.threads=1 " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return trimmed(r.out);
  }

  // A field of `scontrol show job`; "" once slurmctld has forgotten the job.
  static std::string job_field(const std::string& id, const std::string& key) {
    const auto r = test::run_command("scontrol show job -o " + id);
    const size_t at = r.out.find(" " + key + "=");
    if (at == std::string::npos) return "";
    const size_t value = at + key.size() + 2;
    return r.out.substr(value, r.out.find_first_of(" \n", value) - value);
  }

  static std::string state(const std::string& id) { return job_field(id, "JobState"); }

  static bool wait_for_state(const std::string& id, const std::string& wanted, double seconds) {
    return test::eventually(seconds, [&] { return state(id) == wanted; });
  }

  // The row of job `id` in the table that `poet_dist jobs` printed; "" if there is none.
  static std::string job_row(const std::string& table, const std::string& id) {
    const size_t at = table.find("\n" + id + " ");
    return at == std::string::npos ? "" : table.substr(at + 1, table.find('\n', at + 1) - at - 1);
  }

  // The columns of the table that `poet_dist jobs` prints.
  enum Column { kId, kName, kState, kElapsed, kNodes, kRequeues, kStep, kLoss, kRunDir, kColumns };

  // A cell of job `id`'s row in `table`, for names without spaces; "(no row)" when the row is
  // missing or does not have every column.
  static std::string cell(const std::string& table, const std::string& id, Column column) {
    const std::vector<std::string> cells = words(job_row(table, id));
    return cells.size() == kColumns ? cells[column] : "(no row)";
  }

  std::string jobs_table() { return test::run_poet("jobs --run-root " + (dir_ / "runs")).out; }

  // `poet_dist jobs` once slurmctld has forgotten the ended jobs, MinJobAge after they end (5
  // minutes by default; an hour on the test cluster, for the tests that ask scontrol): a scontrol
  // that answers as it then does leaves accounting alone to ask, as for any older job on a real
  // cluster.
  std::string jobs_table_after_slurmctld_forgot() {
    const fs::path bin = dir_.path() / "forgetful-slurmctld";
    fs::create_directories(bin);
    test::write_text(bin / "scontrol",
                     "#!/bin/sh\necho 'slurm_load_jobs error: Invalid job id specified' >&2\nexit 1\n");
    fs::permissions(bin / "scontrol", fs::perms::owner_all);
    const auto r =
        test::run_command("PATH=" + bin.string() + ":$PATH " + POET_BINARY + " jobs --run-root " + (dir_ / "runs"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  // The runs of job `id` that accounting holds, oldest first (each requeue starts a record), as
  // {state, elapsed}; waits up to a minute for the latest to reach `final_state`, since slurmctld
  // sends a job's end to slurmdbd after the fact.
  static std::vector<std::pair<std::string, std::string>> accounted_runs(const std::string& id,
                                                                         const std::string& final_state) {
    std::vector<std::pair<std::string, std::string>> runs;
    test::eventually(60, [&] {
      runs.clear();
      std::istringstream lines(test::run_command("sacct -n -P -X -D -j " + id + " -o State,Elapsed").out);
      for (std::string line; std::getline(lines, line);) {
        const size_t bar = line.find('|');
        if (bar != std::string::npos) runs.emplace_back(line.substr(0, bar), line.substr(bar + 1));
      }
      return !runs.empty() && runs.back().first.rfind(final_state, 0) == 0;
    });
    return runs;
  }

  // Job `id` ended once, in `final_state`, by accounting: once slurmctld has forgotten it, `jobs`
  // shows that state, sacct's elapsed time and no requeue. Returns that table.
  std::string expect_ended_once_from_accounting(const std::string& id, const std::string& final_state) {
    const auto runs = accounted_runs(id, final_state);
    EXPECT_EQ(runs.size(), 1u);
    const std::string ended = jobs_table_after_slurmctld_forgot();
    EXPECT_EQ(cell(ended, id, kState), final_state) << ended;
    if (!runs.empty()) EXPECT_EQ(cell(ended, id, kElapsed), runs[0].second) << ended;
    EXPECT_EQ(cell(ended, id, kRequeues), "0") << ended;
    return ended;
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

// Preempted by USR1, the job checkpoints, requeues itself and resumes exactly once: from the
// checkpoint written at the signal, keeping the metrics written up to it byte for byte, and
// training no step twice. metrics.jsonl alone could not show the last: a resumed run rewrites it
// from the step it resumed at.
TEST_F(Slurm, Usr1CheckpointsRequeuesAndTheJobResumesExactlyOnce) {
  const std::string id =
      submit("preempted", "--set run.steps=1500 --set run.checkpoint_every=500 --set run.log_every=1");
  const fs::path run = fs::path(dir_ / "runs") / "preempted";
  // The signal goes at once: the whole run takes seconds on an idle machine.
  ASSERT_TRUE(test::eventually(120, [&] { return metric_lines(run) >= 100; })) << state(id);
  ASSERT_EQ(test::run_command("scancel --signal=USR1 " + id).exit_code, 0);
  const fs::path log = run / ("slurm-" + id + ".out");
  ASSERT_TRUE(test::eventually(120, [&] { return test::read_text(log).find("requeued job") != std::string::npos; }))
      << test::read_text(log);
  // Slurm holds a requeued batch job for two minutes before it may start again: while it waits,
  // what the first run left is read; then the wait is skipped.
  ASSERT_TRUE(wait_for_state(id, "PENDING", 60)) << state(id);
  const std::string metrics_at_signal = test::read_text(run / "metrics.jsonl");
  const int64_t signal_step = static_cast<int64_t>(metric_lines(run));
  const std::string step_text = std::to_string(signal_step);
  char checkpoint_name[32];
  std::snprintf(checkpoint_name, sizeof(checkpoint_name), "ckpt-%08lld.pt", static_cast<long long>(signal_step));
  const std::string signal_checkpoint = (run / "checkpoints" / checkpoint_name).string();
  const auto checkpoints = list_checkpoints((run / "checkpoints").string());
  ASSERT_FALSE(checkpoints.empty());
  EXPECT_EQ(checkpoints.front(), signal_checkpoint);
  EXPECT_EQ(LoadedCheckpoint(signal_checkpoint).meta().step, signal_step);
  EXPECT_NE(test::read_text(log).find("interrupted at step " + step_text + ";"), std::string::npos)
      << lines_with(test::read_text(log), "poet_dist:");
  const std::string pending = jobs_table();
  EXPECT_EQ(cell(pending, id, kState), "PENDING") << pending;
  EXPECT_EQ(cell(pending, id, kRequeues), "1") << pending;
  ASSERT_EQ(test::run_command("scontrol update JobId=" + id + " StartTime=now").exit_code, 0);
  ASSERT_TRUE(wait_for_state(id, "COMPLETED", 180)) << state(id) << test::read_text(log);

  const std::string text = test::read_text(log);
  // The second run resumed at the step of the checkpoint written at the signal...
  EXPECT_NE(text.find("resumed from " + signal_checkpoint + " at step " + step_text + "\n"), std::string::npos)
      << lines_with(text, "resumed from");
  // ... kept the metrics of the steps before it as they were...
  const std::string metrics = test::read_text(run / "metrics.jsonl");
  EXPECT_EQ(first_changed_line(metrics_at_signal, metrics), "");
  std::istringstream lines(metrics);
  int64_t expected = 1;
  for (std::string line; std::getline(lines, line); ++expected) {
    ASSERT_EQ(nlohmann::json::parse(line)["step"].get<int64_t>(), expected);
  }
  EXPECT_EQ(expected - 1, 1500);
  // ... and trained each step once: the first run logged the steps up to the signal, the second
  // those after it.
  const size_t second_start = text.find(", start 2\n");
  ASSERT_NE(second_start, std::string::npos) << lines_with(text, "poet_dist:");
  EXPECT_EQ(logged_steps(text.substr(0, second_start)), "1.." + step_text);
  EXPECT_EQ(logged_steps(text.substr(second_start)), std::to_string(signal_step + 1) + "..1500");

  // Ended, the job comes from accounting: its requeued run, then the one that completed, whose
  // elapsed time `jobs` shows.
  const auto runs = accounted_runs(id, "COMPLETED");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].first, "REQUEUED");
  const std::string ended = jobs_table_after_slurmctld_forgot();
  EXPECT_EQ(cell(ended, id, kState), "COMPLETED") << ended;
  EXPECT_EQ(cell(ended, id, kElapsed), runs[1].second) << ended;
  EXPECT_EQ(cell(ended, id, kRequeues), "1") << ended;
  EXPECT_EQ(cell(ended, id, kStep), "1500") << ended;
  EXPECT_EQ(cell(ended, id, kLoss), last_loss(run)) << ended;
}

// slurmdbd stopped by the pid that scripts/slurm-cluster.sh's cluster keeps next to slurm.conf,
// and started again, as the script starts it, when this goes out of scope.
class SlurmdbdDown {
 public:
  SlurmdbdDown() {
    const std::string pid =
        trimmed(test::read_text(fs::path(std::getenv("SLURM_CONF")).parent_path() / "slurmdbd.pid"));
    // Gone, or a zombie until init reaps it.
    stopped_ = !pid.empty() && test::run_command("kill " + pid).exit_code == 0 && test::eventually(30, [&] {
      const auto r = test::run_command("ps -o stat= -p " + pid);
      return r.exit_code != 0 || r.out.find('Z') != std::string::npos;
    });
  }
  ~SlurmdbdDown() {
    if (!stopped_) return;
    EXPECT_EQ(test::run_command("slurmdbd").exit_code, 0);
    EXPECT_TRUE(test::eventually(60, [] { return test::run_command("sacctmgr -n list cluster").exit_code == 0; }))
        << "slurmdbd did not come back; the tests after this one find no accounting";
  }
  SlurmdbdDown(const SlurmdbdDown&) = delete;
  SlurmdbdDown& operator=(const SlurmdbdDown&) = delete;

  bool stopped() const { return stopped_; }

 private:
  bool stopped_ = false;
};

TEST_F(Slurm, CancelEndsARunningJob) {
  const std::string id = submit("cancelled", "--set run.steps=1000000");
  const fs::path run = fs::path(dir_ / "runs") / "cancelled";
  ASSERT_TRUE(test::eventually(120, [&] { return metric_lines(run) >= 5; })) << state(id);
  const std::string running = jobs_table();
  EXPECT_EQ(cell(running, id, kState), "RUNNING") << running;
  EXPECT_EQ(cell(running, id, kRequeues), "0") << running;
  const auto r = test::run_poet("cancel " + id);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(trimmed(r.out), "cancelled job " + id);
  ASSERT_TRUE(wait_for_state(id, "CANCELLED", 60)) << state(id);
  // Accounting says who cancelled it ("CANCELLED by 0"); `jobs` shows the state alone.
  expect_ended_once_from_accounting(id, "CANCELLED");
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

// A job that fails (its data is no dataset) is listed FAILED from accounting. With slurmdbd
// down, `jobs` works as it did without accounting: slurmctld answers for the jobs it remembers,
// and for one it has forgotten `jobs` says so, with sacct's own error.
TEST_F(Slurm, AFailedJobComesFromAccountingOrWithSlurmdbdDownFromSlurmctld) {
  test::write_text(dir_ / "not.h5", "not a dataset\n");
  const std::string id = submit("broken", "", dir_ / "not.h5");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(wait_for_state(id, "FAILED", 180)) << state(id);
  const std::string ended = expect_ended_once_from_accounting(id, "FAILED");
  EXPECT_EQ(cell(ended, id, kStep), "-") << ended;  // it trained no step

  const SlurmdbdDown down;
  ASSERT_TRUE(down.stopped()) << "no slurmdbd.pid of scripts/slurm-cluster.sh next to " << std::getenv("SLURM_CONF");
  ASSERT_NE(test::run_command("sacct -n -j " + id).exit_code, 0);
  const std::string table = jobs_table();
  EXPECT_EQ(cell(table, id, kState), "FAILED") << table;
  EXPECT_EQ(cell(table, id, kElapsed), job_field(id, "RunTime")) << table;
  EXPECT_EQ(cell(table, id, kRequeues), "0") << table;
  EXPECT_EQ(table.find("(state ?"), std::string::npos) << table;
  const std::string forgotten_table = jobs_table_after_slurmctld_forgot();
  EXPECT_EQ(cell(forgotten_table, id, kState), "?") << forgotten_table;
  EXPECT_EQ(cell(forgotten_table, id, kElapsed), "-") << forgotten_table;
  EXPECT_NE(forgotten_table.find("(state ?: slurmctld no longer remembers the job, and sacct failed: "),
            std::string::npos)
      << forgotten_table;
  EXPECT_NE(forgotten_table.find("Connection refused"), std::string::npos) << forgotten_table;
}

}  // namespace
}  // namespace poet
