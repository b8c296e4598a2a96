// The communicators under mpiexec (np 1, 2 and 4): every rank calls every collective before
// any assertion, so a failure on one rank cannot leave the others waiting.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "collectives/communicator.h"
#include "common/error.h"

namespace poet {
namespace {

TEST(MpiCommunicator, AllReduceSumsEveryElementAcrossRanks) {
  const auto comm = make_communicator("cpu", "mpi", /*distributed=*/true);
  const int n = comm->size();
  const int r = comm->rank();
  torch::Tensor f = torch::arange(1000, torch::kFloat32) * static_cast<float>(r + 1);
  torch::Tensor d = torch::full({3}, 0.5 + r, torch::kFloat64);
  torch::Tensor i = torch::full({5}, int64_t{1} << (40 + r), torch::kInt64);
  comm->all_reduce_sum(f);
  comm->all_reduce_sum(d);
  comm->all_reduce_sum(i);
  const double ranks_sum = n * (n + 1) / 2.0;  // sum of r + 1
  EXPECT_TRUE(f.equal(torch::arange(1000, torch::kFloat32) * static_cast<float>(ranks_sum)));
  EXPECT_DOUBLE_EQ(d[2].item<double>(), 0.5 * n + (n - 1) * n / 2.0);
  int64_t expected = 0;
  for (int k = 0; k < n; ++k) expected += int64_t{1} << (40 + k);
  EXPECT_EQ(i[4].item<int64_t>(), expected);
  EXPECT_STREQ(comm->backend(), "mpi");
}

TEST(MpiCommunicator, BroadcastCopiesTheRootsTensor) {
  const auto comm = make_communicator("cpu", "mpi", /*distributed=*/true);
  const int root = comm->size() - 1;
  torch::Tensor t = torch::full({64}, static_cast<float>(comm->rank()), torch::kFloat32);
  comm->broadcast(t, root);
  EXPECT_TRUE(t.equal(torch::full({64}, static_cast<float>(root), torch::kFloat32)));
}

TEST(MpiCommunicator, AllGatherAndBarrier) {
  const auto comm = make_communicator("cpu", "mpi", /*distributed=*/true);
  const auto values = comm->all_gather(100 + comm->rank());
  comm->barrier();
  ASSERT_EQ(values.size(), static_cast<size_t>(comm->size()));
  for (int r = 0; r < comm->size(); ++r) EXPECT_EQ(values[static_cast<size_t>(r)], 100 + r);
}

TEST(MpiCommunicator, RefusesWhatItCannotReduce) {
  const auto comm = make_communicator("cpu", "mpi", /*distributed=*/true);
  torch::Tensor strided = torch::zeros({4, 4}).t();
  EXPECT_THROW(comm->all_reduce_sum(strided), Error);
  torch::Tensor half = torch::zeros({4}, torch::kFloat16);
  EXPECT_THROW(comm->all_reduce_sum(half), Error);
  EXPECT_THROW(make_communicator("cpu", "gloo", /*distributed=*/true), Error);
}

TEST(Backends, NcclWithoutAGpuIsRefused) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a GPU is visible: the GPU tests cover NCCL";
  try {
    make_communicator("auto", "nccl", /*distributed=*/true);
    FAIL() << "nccl was accepted without a GPU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nccl"), std::string::npos) << e.what();
  }
  EXPECT_STREQ(make_communicator("auto", "auto", /*distributed=*/true)->backend(), "mpi");
}

TEST(NcclCommunicator, AllReduceOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto comm = make_communicator("cuda", "nccl", /*distributed=*/true);
  torch::Tensor t =
      torch::full({1 << 20}, static_cast<float>(comm->rank() + 1), torch::TensorOptions().device(torch::kCUDA));
  comm->all_reduce_sum(t);
  const double expected = comm->size() * (comm->size() + 1) / 2.0;
  EXPECT_EQ(t.min().item<float>(), expected);
  EXPECT_EQ(t.max().item<float>(), expected);
}

// MPI with CUDA tensors: copied to the host, reduced there, and copied back on completion.
TEST(MpiCommunicator, CudaTensorsAreStagedThroughTheHost) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto comm = make_communicator("cuda", "mpi", /*distributed=*/true);
  ASSERT_TRUE(comm->device().is_cuda());
  const auto on_gpu = torch::TensorOptions().device(comm->device());
  torch::Tensor t = torch::full({1 << 16}, static_cast<float>(comm->rank() + 1), on_gpu);
  comm->all_reduce_sum(t);
  torch::Tensor b = torch::full({8}, static_cast<double>(comm->rank()), on_gpu.dtype(torch::kFloat64));
  comm->broadcast(b, comm->size() - 1);
  const double expected = comm->size() * (comm->size() + 1) / 2.0;
  EXPECT_TRUE(t.is_cuda());
  EXPECT_EQ(t.min().item<float>(), expected);
  EXPECT_EQ(t.max().item<float>(), expected);
  EXPECT_EQ(b.min().item<double>(), comm->size() - 1);
}

}  // namespace
}  // namespace poet
