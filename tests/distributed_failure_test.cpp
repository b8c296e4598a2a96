// A job under mpiexec ends, and never hangs, when one rank fails: an error, kill -9 (of any rank,
// and of rank 0 while it writes a checkpoint), a rank that stops answering (stall warning, then
// the collective timeout), SIGTERM (checkpoint, clean exit) and a dataset without the shards a
// rank needs. And the time a rank waits for the others is what metrics.jsonl's comm_s says.
#include <hdf5.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <sstream>
#include <thread>

#include "distributed_fixture.h"
#include "model/checkpoint.h"

namespace poet {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class DistributedFailure : public test::DistributedJob {
 protected:
  // Starts a long np=2 job and waits until it has trained and checkpointed; returns rank `rank`'s
  // pid.
  pid_t start_long_job(const std::string& extra = "", int rank = 1) {
    job_ = std::make_unique<test::BackgroundCommand>(
        command(2, "run", "--set run.checkpoint_every=5 --set run.eval_every=0 " + extra, /*steps=*/1000000));
    const bool trained = test::eventually(120, [&] { return metric_lines() >= 12; });
    EXPECT_TRUE(trained) << job_->err();
    return rank_pid(rank);
  }

  pid_t rank_pid(int rank) {
    pid_t pid = -1;
    EXPECT_TRUE(test::eventually(10, [&] {
      const auto found = test::children_with_environment(job_->pid(), "OMPI_COMM_WORLD_RANK=" + std::to_string(rank));
      if (found.size() == 1) pid = found[0];
      return pid > 0;
    }));
    return pid;
  }

  size_t metric_lines() {
    const std::string text = test::read_text(dir_ / "run/metrics.jsonl");
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  }

  // The step of the newest checkpoint's name (ckpt-STEP.pt); -1 when there is none.
  long newest_checkpoint_step() {
    const auto all = list_checkpoints(dir_ / "run/checkpoints");
    return all.empty() ? -1 : std::stol(fs::path(all[0]).filename().string().substr(5));
  }

  // The temporary files (".NAME.tmp.PID") in the run's checkpoint folder.
  std::vector<std::string> temporary_files() {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_ / "run/checkpoints", ec)) {
      const std::string name = entry.path().filename();
      if (name.rfind(".ckpt-", 0) == 0 && name.find(".tmp.") != std::string::npos) found.push_back(entry.path());
    }
    return found;
  }

  // Every checkpoint the run left loads and verifies; returns how many there are.
  size_t checkpoints_that_load() {
    const auto all = list_checkpoints(dir_ / "run/checkpoints");
    for (const std::string& path : all) EXPECT_NO_THROW(LoadedCheckpoint{path}) << path;
    return all.size();
  }

  std::unique_ptr<test::BackgroundCommand> job_;
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

TEST_F(DistributedFailure, AnErrorEndsTheJobNamingTheRank) {
  // Rows longer than the data: the ranks refuse, MPI_Abort ends the job instead of a hang.
  const auto r = train(2, "bad", "--set data.seq_len=100000");
  EXPECT_NE(r.exit_code, 0);
  for (const char* rank : {"rank 0: ", "rank 1: "}) {
    EXPECT_NE(r.err.find(std::string("poet_dist: error: ") + rank + (dir_ / "d.h5") +
                         ": the training split makes 0 rows of 100000 characters, fewer than one batch of 8"),
              std::string::npos)
        << r.err;
  }
}

// Rank 1 held still for 1.5 s: rank 0 waits for it in the step's all-reduce, and that step's
// comm_s says so, while the other steps' waits are short.
TEST_F(DistributedFailure, CommTimeIsTheWaitForTheOtherRanks) {
  const pid_t rank1 = start_long_job();
  ASSERT_GT(rank1, 0);
  ASSERT_EQ(::kill(rank1, SIGSTOP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_EQ(::kill(rank1, SIGCONT), 0);
  const size_t lines = metric_lines();
  EXPECT_TRUE(test::eventually(60, [&] { return metric_lines() >= lines + 10; }));
  ASSERT_EQ(::kill(rank1, SIGTERM), 0);
  EXPECT_EQ(job_->wait(30), 130) << job_->err();
  std::vector<double> comm;
  std::istringstream metrics(test::read_text(dir_ / "run/metrics.jsonl"));
  for (std::string line; std::getline(metrics, line);) comm.push_back(nlohmann::json::parse(line)["comm_s"]);
  std::sort(comm.begin(), comm.end());
  EXPECT_GT(comm.back(), 1.3) << "the step rank 1 was stopped in";
  EXPECT_LT(comm[comm.size() - 2], 0.5) << "the step after it, or any other";
  EXPECT_LT(comm[comm.size() / 2], 0.05) << "the median step";
}

// Rank 0 writes every checkpoint. Killed with -9 five times, at random moments and the moment a
// checkpoint's temporary file appears, while it writes one every step: every checkpoint left
// loads, --resume auto goes on from the newest, and the next start removes the temporary files
// the killed writer left. A larger model than tiny's, so that a write takes a while.
TEST_F(DistributedFailure, KillNineOfTheWriterLeavesOnlyWholeCheckpoints) {
  const std::string extra =
      "--resume auto --set run.checkpoint_every=1 --set run.keep_checkpoints=3 --set run.sample_every=0 "
      "--set model.hidden=384 --set model.embed=128";
  std::mt19937 random(20261130);
  std::vector<std::string> stale;
  long newest = -1;
  int caught_writing = 0;
  for (int round = 0; round < 6; ++round) {
    job_ = std::make_unique<test::BackgroundCommand>(
        command(2, "run", extra + (round == 5 ? " --stop-after-steps 2" : ""), /*steps=*/1000000));
    const pid_t rank0 = rank_pid(0);
    ASSERT_GT(rank0, 0);
    // The start resumed from the newest checkpoint left, and removed the killed writer's files.
    ASSERT_TRUE(test::eventually(60, [&] { return job_->out().find("\nrun      ") != std::string::npos; }));
    EXPECT_TRUE(test::eventually(30, [&] { return newest_checkpoint_step() > newest; })) << job_->out() << job_->err();
    if (newest >= 0) {
      char name[32];
      std::snprintf(name, sizeof(name), "ckpt-%08ld.pt at step %ld", newest, newest);
      EXPECT_NE(job_->out().find(name), std::string::npos) << "round " << round << "\n" << job_->out();
    }
    for (const std::string& file : stale) {
      EXPECT_FALSE(fs::exists(file)) << file;
      EXPECT_NE(job_->out().find("removed " + file), std::string::npos) << job_->out();
    }
    if (round == 5) {
      EXPECT_EQ(job_->wait(60), 0) << job_->err();
      break;
    }
    if (round % 2 == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 700)(random)));
    } else {  // the moment a write is under way
      const auto until = Clock::now() + std::chrono::seconds(20);
      while (temporary_files().empty() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ASSERT_EQ(::kill(rank0, SIGKILL), 0);
    EXPECT_GT(job_->wait(30), 0) << "mpiexec still running 30 s after rank 0 was killed";
    stale = temporary_files();
    caught_writing += !stale.empty();
    const auto left = list_checkpoints(dir_ / "run/checkpoints");
    ASSERT_FALSE(left.empty());
    for (const std::string& path : left) EXPECT_NO_THROW(LoadedCheckpoint{path}) << path;
    newest = LoadedCheckpoint(left[0]).meta().step;
  }
  EXPECT_GE(caught_writing, 2) << "the kills meant to land inside a write did not";
}

TEST_F(DistributedFailure, KillNineOfOneRankEndsTheJobAndTheLastCheckpointLoads) {
  const pid_t rank1 = start_long_job();
  ASSERT_GT(rank1, 0);
  const auto killed = Clock::now();
  ASSERT_EQ(::kill(rank1, SIGKILL), 0);
  const int code = job_->wait(30);
  EXPECT_GT(code, 0) << "mpiexec still running 30 s after a rank was killed";
  EXPECT_LT(seconds_since(killed), 30.0);
  EXPECT_GE(checkpoints_that_load(), 1u);
}

TEST_F(DistributedFailure, SigtermToOneRankWritesACheckpointAndExits130) {
  const pid_t rank1 = start_long_job();
  ASSERT_GT(rank1, 0);
  ASSERT_EQ(::kill(rank1, SIGTERM), 0);
  EXPECT_EQ(job_->wait(30), 130) << job_->err();
  const std::string err = job_->err();
  const size_t at = err.find("interrupted at step ");
  ASSERT_NE(at, std::string::npos) << err;
  const long step = std::stol(err.substr(at + 20));
  char name[32];
  std::snprintf(name, sizeof(name), "ckpt-%08ld.pt", step);
  const fs::path stopped = fs::path(dir_ / "run/checkpoints") / name;
  ASSERT_TRUE(fs::exists(stopped)) << stopped;
  EXPECT_EQ(LoadedCheckpoint(stopped.string()).meta().step, step);
  checkpoints_that_load();
}

TEST_F(DistributedFailure, AStalledRankIsNamedThenTheTimeoutEndsTheJob) {
  const pid_t rank1 = start_long_job("--stall-warning 1 --collective-timeout 4");
  ASSERT_GT(rank1, 0);
  const auto stopped = Clock::now();
  ASSERT_EQ(::kill(rank1, SIGSTOP), 0);  // alive, but never reaches the next collective
  const int code = job_->wait(30);
  ::kill(rank1, SIGKILL);
  EXPECT_GT(code, 0);
  EXPECT_LT(seconds_since(stopped), 30.0);
  const std::string err = job_->err();
  EXPECT_NE(err.find("warning: rank 0: all_reduce"), std::string::npos) << err;
  EXPECT_NE(err.find("ranks not arrived: 1 "), std::string::npos) << err;
  EXPECT_NE(err.find("did not complete within 4 s (--collective-timeout)"), std::string::npos) << err;
}

TEST_F(DistributedFailure, TooFewShardsForTheRanksIsRefused) {
  test::write_fixture_dataset(dir_ / "two.h5", 60, 0.2, /*shards=*/2);
  const auto r = test::run_command(command(4, "few", "", 5, "two.h5"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("2 shards for 4 ranks"), std::string::npos) << r.err;
}

TEST_F(DistributedFailure, AMissingShardFailsTheJobNamingShardAndRank) {
  // The index promises more tokens than the file holds: the last shard's data is missing.
  const std::string path = dir_ / "d.h5";
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t offsets = H5Dopen2(file, "/train/poem_offsets", H5P_DEFAULT);
  const hid_t space = H5Dget_space(offsets);
  hsize_t n = 0;
  H5Sget_simple_extent_dims(space, &n, nullptr);
  std::vector<int64_t> values(n);
  ASSERT_GE(H5Dread(offsets, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  values.back() += 1000;
  ASSERT_GE(H5Dwrite(offsets, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  H5Sclose(space);
  H5Dclose(offsets);
  H5Fclose(file);

  const auto r = train(2, "missing");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("rank 1: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cannot read shard 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/train/tokens"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace poet
