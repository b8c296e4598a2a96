// A job under mpiexec ends, and never hangs, when one rank fails: an error, kill -9, a rank that
// stops answering (stall warning, then the collective timeout), SIGTERM (checkpoint, clean exit)
// and a dataset without the shards a rank needs.
#include <hdf5.h>
#include <signal.h>

#include <chrono>
#include <filesystem>

#include "distributed_fixture.h"
#include "model/checkpoint.h"

namespace poet {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class DistributedFailure : public test::DistributedJob {
 protected:
  // Starts a long np=2 job and waits until it has trained and checkpointed; returns rank 1's pid.
  pid_t start_long_job(const std::string& extra = "") {
    job_ = std::make_unique<test::BackgroundCommand>(
        command(2, "run", "--set run.checkpoint_every=5 --set run.eval_every=0 " + extra, /*steps=*/1000000));
    const fs::path metrics = fs::path(dir_ / "run") / "metrics.jsonl";
    const bool trained = test::eventually(120, [&] {
      const std::string text = test::read_text(metrics);
      return std::count(text.begin(), text.end(), '\n') >= 12;
    });
    EXPECT_TRUE(trained) << job_->err();
    pid_t rank1 = -1;
    EXPECT_TRUE(test::eventually(10, [&] {
      const auto found = test::children_with_environment(job_->pid(), "OMPI_COMM_WORLD_RANK=1");
      if (found.size() == 1) rank1 = found[0];
      return rank1 > 0;
    }));
    return rank1;
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
  EXPECT_NE(r.err.find("rank "), std::string::npos) << r.err;
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
