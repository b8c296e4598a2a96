// make_communicator(): device and backend decided together. One process is a world of one whose
// collectives leave tensors as they are; a pair that cannot work is refused naming both choices.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "collectives/communicator.h"
#include "common/error.h"

namespace poet {
namespace {

std::string refusal(const std::string& device, const std::string& backend) {
  try {
    make_communicator(device, backend, /*distributed=*/false);
  } catch (const Error& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(CommunicatorChoice, OneProcessIsAWorldOfOne) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a GPU is visible: auto would choose it";
  const auto comm = make_communicator("auto", "auto", /*distributed=*/false);
  EXPECT_EQ(comm->size(), 1);
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_STREQ(comm->backend(), "local");
  EXPECT_EQ(comm->device(), torch::Device(torch::kCPU));
  torch::Tensor t = torch::arange(5, torch::kFloat64);
  comm->all_reduce_sum(t);
  EXPECT_TRUE(t.equal(torch::arange(5, torch::kFloat64)));
  EXPECT_EQ(comm->all_gather(42), std::vector<int64_t>{42});
}

TEST(CommunicatorChoice, PairsThatCannotWorkAreRefusedNamingBoth) {
  EXPECT_NE(refusal("cpu", "nccl").find("--backend nccl with run.device cpu: NCCL reduces CUDA tensors"),
            std::string::npos)
      << refusal("cpu", "nccl");
  EXPECT_NE(refusal("cpu", "gloo").find("--backend is 'gloo', expected auto, mpi or nccl"), std::string::npos);
  if (torch::cuda::is_available()) {
    EXPECT_EQ(refusal("cuda", "mpi"), "(accepted)");  // staged through host memory
  } else {
    EXPECT_NE(refusal("cuda", "auto").find("run.device is cuda, but LibTorch sees no CUDA device"), std::string::npos);
    EXPECT_NE(refusal("auto", "nccl").find("--backend nccl with run.device auto (the CPU: no CUDA device)"),
              std::string::npos)
        << refusal("auto", "nccl");
  }
}

}  // namespace
}  // namespace poet
