// poet_dist train under mpiexec: the same global batch gives the same training at any world
// size (np 1, 2, 4; in bf16 to its rounding) and any bucket size, a run checkpointed at np 2
// resumes at np 4, each rank reads only its shards, and the trace shows gradient buckets
// all-reduced during backward.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <tuple>

#include "data/dataset_file.h"
#include "distributed_fixture.h"

namespace poet {
namespace {

using test::ScratchDir;

using Distributed = test::DistributedJob;
using test::relative_difference;
using test::step_losses_and_norms;

// Step by step, not only at the end: AdamW is nearly blind to the gradient's scale and clipping
// normalises it, so ranks that averaged over their own targets, or skipped the all-reduce, could
// still end near np 1's parameters; their gradient norms cannot match. With two layers and
// dropout on: each row's masks are its own whichever rank holds it (model/dropout_masks.h).
TEST_F(Distributed, SameTrainingAtAnyWorldSizeStepByStep) {
  const std::string model = "--set model.layers=2 --set model.dropout=0.3 ";
  const std::string clip = "--set optim.grad_clip=0.1 ";  // tiny's gradients are smaller than 1
  const std::string no_clip = "--set optim.grad_clip=0 ";
  // Many small buckets: each all-reduced on its own, during backward.
  const std::string small = "--set distributed.first_bucket_mb=0.002 --set distributed.bucket_mb=0.01 ";
  const std::vector<std::tuple<std::string, int, std::string>> runs = {
      {"np1", 1, model + clip},           {"np2", 2, model + clip},
      {"np4", 4, model + clip},           {"small", 2, model + clip + small},
      {"np1-noclip", 1, model + no_clip}, {"np4-noclip", 4, model + no_clip}};
  for (const auto& [run, np, extra] : runs) {
    const auto r = train(np, run, extra);
    ASSERT_EQ(r.exit_code, 0) << run << "\n" << r.out << r.err;
    if (np > 1) EXPECT_NE(r.out.find(std::to_string(np) + " ranks (mpi)"), std::string::npos) << r.out;
    if (run != "small") continue;
    const size_t at = r.out.find("buckets  ");
    ASSERT_NE(at, std::string::npos) << r.out;
    EXPECT_GE(std::stoi(r.out.substr(at + 9)), 4) << r.out.substr(at, 120);
  }
  for (const auto& [reference, others] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{{"np1", {"np2", "np4", "small"}},
                                                                    {"np1-noclip", {"np4-noclip"}}}) {
    const auto expected = step_losses_and_norms(dir_ / reference);
    ASSERT_EQ(expected.size(), 20u) << reference;
    for (const std::string& run : others) {
      const auto seen = step_losses_and_norms(dir_ / run);
      ASSERT_EQ(seen.size(), expected.size()) << run;
      for (size_t i = 0; i < seen.size(); ++i) {
        EXPECT_NEAR(seen[i].first, expected[i].first, 1e-5 * expected[i].first) << run << " loss, step " << i + 1;
        EXPECT_NEAR(seen[i].second, expected[i].second, 1e-4 * expected[i].second) << run << " |g|, step " << i + 1;
      }
      const auto one = parameters(reference);
      const auto other = parameters(run);
      ASSERT_EQ(other.size(), one.size());
      for (size_t i = 0; i < one.size(); ++i) {
        EXPECT_LT(relative_difference(other[i].second, one[i].second), 1e-5) << run << " " << one[i].first;
      }
    }
  }
  // Clipping was on and clipped most steps: otherwise the runs without it would add nothing.
  int clipped = 0;
  for (const auto& [loss, norm] : step_losses_and_norms(dir_ / "np1")) clipped += norm > 0.1;
  EXPECT_GE(clipped, 10);
}

// In bf16 each rank's weight gradients are rounded to bf16 before the fp32 all-reduce, so world
// sizes agree to bf16's rounding rather than fp32's: within 2e-2 after 20 steps (3.6e-3 seen on
// AVX512-BF16; other bf16 units may round otherwise), where ranks that skipped the all-reduce
// differ by 0.25.
TEST_F(Distributed, Bf16AgreesAtAnyWorldSizeWithinItsRounding) {
  for (int np : {1, 2, 4}) {
    const auto r = train(np, "bf16-np" + std::to_string(np), "--set run.precision=bf16");
    ASSERT_EQ(r.exit_code, 0) << "np " << np << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find("LSTM bf16, output layer bf16"), std::string::npos) << r.out;
  }
  const auto one = parameters("bf16-np1");
  for (const char* run : {"bf16-np2", "bf16-np4"}) {
    const auto other = parameters(run);
    ASSERT_EQ(other.size(), one.size());
    for (size_t i = 0; i < one.size(); ++i) {
      EXPECT_LT(relative_difference(other[i].second, one[i].second), 2e-2) << run << " " << one[i].first;
    }
  }
}

TEST_F(Distributed, SrunWithoutPmiIsRefused) {
  // What srun without --mpi=pmix looks like from inside one of its processes: a Slurm step of
  // two tasks, and no MPI launcher around this one.
  const auto r = test::run_command("SLURM_NTASKS=2 SLURM_STEP_ID=0 " + std::string(POET_BINARY) + " train --config " +
                                   POET_SOURCE_DIR + "/configs/tiny.toml --data " + (dir_ / "d.h5") + " --run-dir " +
                                   (dir_ / "srun"));
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

TEST_F(Distributed, EachRankReadsOnlyItsOwnShards) {
  ASSERT_EQ(train(2, "reads").exit_code, 0);
  // What the file holds per shard, read here independently of the trainer.
  const DatasetFile file(dir_ / "d.h5");
  std::vector<int64_t> expected(2, 0);
  int64_t total = 0;
  for (Split split : {Split::kTrain, Split::kVal}) {
    const SplitData index = file.read_index(split);
    for (size_t s = 0; s + 1 < index.shard_offsets.size(); ++s) {
      const int64_t tokens = index.poem_offsets[static_cast<size_t>(index.shard_offsets[s + 1])] -
                             index.poem_offsets[static_cast<size_t>(index.shard_offsets[s])];
      expected[s % 2] += tokens;
      total += tokens;
    }
  }
  const auto ranks = nlohmann::json::parse(test::read_text(dir_ / "reads/ranks.json"));
  ASSERT_EQ(ranks["world"], 2);
  for (int r = 0; r < 2; ++r) {
    const auto& entry = ranks["ranks"][static_cast<size_t>(r)];
    EXPECT_EQ(entry["tokens_read"].get<int64_t>(), expected[static_cast<size_t>(r)]) << "rank " << r;
    EXPECT_LT(entry["tokens_read"].get<int64_t>(), total) << "rank " << r << " read the whole dataset";
    EXPECT_EQ(entry["train_shards"], (r == 0 ? nlohmann::json{0, 2} : nlohmann::json{1, 3}));
  }
}

// Under MPI a non-blocking all-reduce advances only inside MPI calls, and the LSTM's backward is
// one autograd node in which no gradient hook runs. The output layer's bucket starts as backward
// begins; the progress thread (collectives/mpi_progress.h) completes it while the LSTM's backward
// runs, so that the first test after it (the bucket's second) finds it complete, where without
// the thread that test has to move it along. A model larger than tiny, so that the LSTM's
// backward takes milliseconds.
TEST_F(Distributed, TraceShowsBucketsAllReducedDuringBackward) {
  const std::string model =
      "--set distributed.first_bucket_mb=0.01 --set model.hidden=512 --set model.embed=128 --set data.seq_len=64 ";
  std::map<std::string, int> done_in_backward;
  for (const std::string progress : {"on", "off"}) {
    const std::string trace = dir_ / ("trace-" + progress + ".json");
    const auto r = train(2, "trace-" + progress, model + "--set distributed.progress_thread=" + progress + " --trace " + trace);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto events = nlohmann::json::parse(test::read_text(trace))["traceEvents"];
    std::vector<std::pair<double, double>> backward;
    std::vector<double> first_bucket_start;
    int optimizer_steps = 0;
    int forwards = 0;
    for (const auto& e : events) {
      if (e["ph"] != "X" || e["pid"] != events[0]["pid"]) continue;  // rank 0's
      const std::string name = e["name"];
      if (name == "backward")
        backward.emplace_back(e["ts"].get<double>(), e["ts"].get<double>() + e["dur"].get<double>());
      if (name == "all_reduce bucket 0") {
        first_bucket_start.push_back(e["ts"].get<double>());
        // Its second test is the first after the LSTM's backward.
        done_in_backward[progress] += e["args"]["done_in_backward"].get<bool>() && e["args"]["tests_in_backward"] <= 2;
      }
      optimizer_steps += name == "optimizer step";
      forwards += name == "forward";
    }
    EXPECT_EQ(forwards, 20);
    EXPECT_EQ(optimizer_steps, 20);
    ASSERT_EQ(backward.size(), 20u);
    ASSERT_EQ(first_bucket_start.size(), 20u);
    // The output layer's gradients are ready first: their bucket starts inside backward.
    for (size_t i = 0; i < backward.size(); ++i) {
      EXPECT_GT(first_bucket_start[i], backward[i].first) << "step " << i + 1;
      EXPECT_LT(first_bucket_start[i], backward[i].second) << "step " << i + 1;
    }
  }
  const std::string counts = std::to_string(done_in_backward["on"]) + " of 20 steps with the progress thread, " +
                             std::to_string(done_in_backward["off"]) + " without";
  EXPECT_GE(done_in_backward["on"], 16) << counts;
  EXPECT_LE(done_in_backward["off"], 4) << counts;
}

// Open MPI gives each rank a pseudo-terminal for stdout even when mpirun writes to a file, as in a
// batch job's log: isatty alone would draw a bar there.
TEST_F(Distributed, LogsUnderMpirunHoldNoControlCharacters) {
  const auto r = train(1, "log", "--set run.log_every=1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\nstep 1/20  loss "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nstep 20/20  loss "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find_first_of("\r\x1b"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find_first_of("\r\x1b"), std::string::npos) << r.err;
  // Asked for, the bar is drawn even there: the check above can see one.
  const auto bar = train(1, "bar", "--progress bar");
  ASSERT_EQ(bar.exit_code, 0) << bar.err;
  EXPECT_NE(bar.out.find("\r\x1b[K["), std::string::npos) << bar.out;
}

}  // namespace
}  // namespace poet
