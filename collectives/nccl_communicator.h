// The NCCL communicator: CUDA tensors, one GPU a rank. MPI only bootstraps it: rank 0 makes the
// NCCL unique id and MPI_Bcast shares it, as llm.c does.
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include "collectives/communicator.h"

namespace poet {

class NcclCommunicator final : public Communicator {
 public:
  // Takes rank and node placement from `mpi`; `device` is the CUDA device this rank uses.
  NcclCommunicator(const Communicator& mpi, int device);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  const char* backend() const override { return "nccl"; }
  void all_reduce_sum(torch::Tensor& tensor) override;
  void broadcast(torch::Tensor& tensor, int root) override;
  void barrier() override;
  std::vector<int64_t> all_gather(int64_t value) override;

 private:
  int rank_;
  int size_;
  int local_rank_;
  int local_size_;
  int device_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;  // a blocking stream: ordered after LibTorch's default stream
};

}  // namespace poet
