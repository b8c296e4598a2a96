// Two nodes rehearsed on one machine: ctest runs these tests under scripts/two-nodes.sh, which
// makes two network namespaces with hostnames of their own and hands mpirun the options to reach
// them. configs/tiny.toml at np=4 as 2 nodes x 2 ranks trains as np=1 does, step by step, with
// the gradients crossing between the nodes over TCP; Open MPI puts ranks 0,1 on node A and 2,3
// on node B, local ranks 0,1 on each; SIGKILL of every process of one node ends the job within
// 30 s with mpirun's message, leaves no rank running on the other node, and the checkpoints
// written before load. Without root or network namespaces the tests skip, unless
// POET_REQUIRE_TWO_NODES=1 (CI) makes that a failure.
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include "distributed_fixture.h"
#include "model/checkpoint.h"

namespace poet {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// What scripts/two-nodes.sh hands the command it runs.
std::string from_two_nodes(const char* variable) {
  const char* value = std::getenv(variable);
  return value == nullptr ? "" : value;
}

// The value of `name` in the environment of process `pid`; "" when it has none.
std::string environment_of(pid_t pid, const std::string& name) {
  const std::string environment = test::read_text("/proc/" + std::to_string(pid) + "/environ");
  std::istringstream entries(environment);
  for (std::string entry; std::getline(entries, entry, '\0');) {
    if (entry.rfind(name + "=", 0) == 0) return entry.substr(name.size() + 1);
  }
  return "";
}

// The processes in network namespace `node`, as `ip netns pids` lists them.
std::vector<pid_t> processes_on(const std::string& node) {
  const auto r = test::run_command("ip netns pids " + node);
  EXPECT_EQ(r.exit_code, 0) << "ip netns pids " << node << ": " << r.err;
  std::vector<pid_t> pids;
  std::istringstream words(r.out);
  for (long pid = 0; words >> pid;) pids.push_back(static_cast<pid_t>(pid));
  return pids;
}

// Bytes that went into `node` over its veth so far: the only link it has to anything.
int64_t bytes_into(const std::string& link) {
  return std::stoll(test::read_text("/sys/class/net/" + link + "/statistics/tx_bytes"));
}

class TwoNodes : public test::DistributedJob {
 protected:
  void SetUp() override {
    const std::string unavailable = from_two_nodes("TWO_NODES_UNAVAILABLE");
    if (!unavailable.empty()) {
      POET_SKIP_UNLESS_REQUIRED("POET_REQUIRE_TWO_NODES", "no two nodes: " + unavailable);
    }
    if (from_two_nodes("TWO_NODES_MPIRUN_ARGS").empty()) {
      POET_SKIP_UNLESS_REQUIRED("POET_REQUIRE_TWO_NODES", "not run under scripts/two-nodes.sh");
    }
    DistributedJob::SetUp();
    node_a_ = from_two_nodes("TWO_NODES_NODE_A");
    node_b_ = from_two_nodes("TWO_NODES_NODE_B");
  }

  // The fixture's mpiexec `command` with the options that put its ranks on the two nodes.
  std::string on_two_nodes(const std::string& command) {
    return std::string(POET_MPIEXEC) + " " + from_two_nodes("TWO_NODES_MPIRUN_ARGS") +
           command.substr(std::strlen(POET_MPIEXEC));
  }

  // Starts a long job and waits until it has trained and checkpointed (every 5 steps).
  void start_long_job() {
    job_ = std::make_unique<test::BackgroundCommand>(
        on_two_nodes(command(4, "run", "--set run.checkpoint_every=5 --set run.eval_every=0", /*steps=*/1000000)));
    const fs::path metrics = fs::path(dir_ / "run") / "metrics.jsonl";
    const auto trained = [&] {
      const std::string text = test::read_text(metrics);
      return std::count(text.begin(), text.end(), '\n') >= 12;
    };
    test::eventually(120, [&] { return trained() || job_->wait(0) >= 0; });
    ASSERT_TRUE(trained()) << "exit code " << job_->wait(0) << "\n" << job_->out() << job_->err();
  }

  // The ranks of the job on `node`, by their world rank.
  std::map<int, pid_t> ranks_on(const std::string& node) {
    std::map<int, pid_t> ranks;
    for (pid_t pid : processes_on(node)) {
      const std::string rank = environment_of(pid, "OMPI_COMM_WORLD_RANK");
      if (!rank.empty()) ranks[std::stoi(rank)] = pid;
    }
    return ranks;
  }

  // Every checkpoint the run left loads and verifies; returns the newest one's step (0: none).
  int64_t newest_checkpoint_that_loads() {
    const auto all = list_checkpoints(dir_ / "run/checkpoints");
    for (const std::string& path : all) EXPECT_NO_THROW(LoadedCheckpoint{path}) << path;
    return all.empty() ? 0 : LoadedCheckpoint(all.front()).meta().step;
  }

  std::string node_a_;
  std::string node_b_;
  std::unique_ptr<test::BackgroundCommand> job_;
};

using test::relative_difference;
using test::step_losses_and_norms;

// np=4 differs from np=1 only in the order of the sums: over 20 steps, 1.1e-7 relative at most
// was seen in the losses and gradient norms, 3.1e-7 in the parameters.
TEST_F(TwoNodes, TrainsAsOneProcessDoesWithGradientsCrossingTheNodes) {
  const auto one = train(1, "one");
  ASSERT_EQ(one.exit_code, 0) << one.out << one.err;
  const int64_t into_a = bytes_into(from_two_nodes("TWO_NODES_LINK_A"));
  const int64_t into_b = bytes_into(from_two_nodes("TWO_NODES_LINK_B"));
  const auto two = test::run_command(on_two_nodes(command(4, "two")));
  ASSERT_EQ(two.exit_code, 0) << two.out << two.err;
  EXPECT_NE(two.out.find("poet_dist train: 4 ranks (mpi) on 2 nodes, "), std::string::npos) << two.out;
  // Where poet_dist says each rank ran, in its summary and in ranks.json.
  EXPECT_NE(two.out.find("\nranks    " + node_a_ + ": 0 (local 0), 1 (local 1); " + node_b_ +
                         ": 2 (local 0), 3 (local 1)\n"),
            std::string::npos)
      << two.out;
  const auto ranks = nlohmann::json::parse(test::read_text(dir_ / "two/ranks.json"))["ranks"];
  ASSERT_EQ(ranks.size(), 4u);
  for (size_t r = 0; r < 4; ++r) {
    EXPECT_EQ(ranks[r]["host"], r < 2 ? node_a_ : node_b_) << ranks[r];
    EXPECT_EQ(ranks[r]["local_rank"], r % 2) << ranks[r];
  }

  const auto expected = step_losses_and_norms(dir_ / "one");
  const auto seen = step_losses_and_norms(dir_ / "two");
  ASSERT_EQ(expected.size(), 20u);
  ASSERT_EQ(seen.size(), expected.size());
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_NEAR(seen[i].first, expected[i].first, 1e-6 * expected[i].first) << "loss, step " << i + 1;
    EXPECT_NEAR(seen[i].second, expected[i].second, 1e-6 * expected[i].second) << "|g|, step " << i + 1;
  }
  const auto reference = parameters("one");
  const auto trained = parameters("two");
  ASSERT_EQ(trained.size(), reference.size());
  int64_t gradient_bytes = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    EXPECT_LT(relative_difference(trained[i].second, reference[i].second), 1e-5) << reference[i].first;
    gradient_bytes += reference[i].second.numel() * static_cast<int64_t>(sizeof(float));
  }
  // Each step, each node's summed gradients depend on the other node's, all of them, in fp32:
  // at least that much went into each node over its veth, whatever the all-reduce's algorithm.
  const int64_t least = static_cast<int64_t>(seen.size()) * gradient_bytes;
  EXPECT_GE(bytes_into(from_two_nodes("TWO_NODES_LINK_A")) - into_a, least);
  EXPECT_GE(bytes_into(from_two_nodes("TWO_NODES_LINK_B")) - into_b, least);
}

// Where the processes really are: in each node's namespace, with its hostname, and the rank and
// local rank Open MPI gave them (what poet_dist says of itself is checked above).
TEST_F(TwoNodes, RanksZeroAndOneOnNodeATwoAndThreeOnNodeBLocalRanksZeroAndOne) {
  ASSERT_NO_FATAL_FAILURE(start_long_job());
  const std::map<std::string, std::vector<int>> expected = {{node_a_, {0, 1}}, {node_b_, {2, 3}}};
  for (const auto& [node, world_ranks] : expected) {
    const auto ranks = ranks_on(node);
    ASSERT_EQ(ranks.size(), 2u) << node;
    for (size_t local = 0; local < world_ranks.size(); ++local) {
      ASSERT_EQ(ranks.count(world_ranks[local]), 1u) << "rank " << world_ranks[local] << " not on " << node;
      const pid_t pid = ranks.at(world_ranks[local]);
      EXPECT_EQ(environment_of(pid, "OMPI_COMM_WORLD_LOCAL_RANK"), std::to_string(local)) << "pid " << pid;
      const auto hostname = test::run_command("nsenter --target " + std::to_string(pid) + " --uts hostname");
      EXPECT_EQ(hostname.out, node + "\n") << hostname.err;
    }
  }
  ASSERT_EQ(::kill(job_->pid(), SIGTERM), 0);
  EXPECT_GE(job_->wait(30), 0);
  for (const auto& [node, world_ranks] : expected) {
    EXPECT_TRUE(test::eventually(10, [&] { return processes_on(node).empty(); }))
        << "mpirun left processes on " << node;
  }
}

// SIGKILL of all of a node's processes (its daemon and ranks), node A with rank 0, the writer of
// checkpoints, and node B, whose ranks only exchange gradients.
TEST_F(TwoNodes, KillingEitherNodeEndsTheJobWithAMessageAndCheckpointsLoad) {
  for (const auto& [killed, other] : {std::pair{node_a_, node_b_}, std::pair{node_b_, node_a_}}) {
    SCOPED_TRACE("killed " + killed);
    fs::remove_all(dir_ / "run");
    ASSERT_NO_FATAL_FAILURE(start_long_job());
    const auto pids = processes_on(killed);
    ASSERT_GE(pids.size(), 3u) << "the daemon and two ranks";
    const auto at = Clock::now();
    for (pid_t pid : pids) EXPECT_EQ(::kill(pid, SIGKILL), 0) << "kill " << pid << ": " << std::strerror(errno);
    const int code = job_->wait(30);
    const double seconds = std::chrono::duration<double>(Clock::now() - at).count();
    EXPECT_GT(code, 0) << "mpirun still running 30 s after a node was killed";
    EXPECT_LT(seconds, 30.0);
    const std::string err = job_->err();
    EXPECT_NE(err.find("ORTE has lost communication with a remote daemon"), std::string::npos) << err;
    EXPECT_NE(err.find("on node " + killed), std::string::npos) << err;
    // The other node's ranks went with the job, and no daemon waits there for the next.
    EXPECT_TRUE(test::eventually(10, [&] { return processes_on(other).empty(); })) << other;
    // Step 10's was written before step 12's metrics, which the kill waited for.
    EXPECT_GE(newest_checkpoint_that_loads(), 10);
    job_.reset();
  }
}

}  // namespace
}  // namespace poet
