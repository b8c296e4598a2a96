// The NCCL communicator: CUDA tensors, one GPU a rank. MPI only bootstraps it: rank 0 makes the
// NCCL unique id and MPI_Bcast shares it, as llm.c does.
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include <memory>

#include "collectives/collective_watch.h"
#include "collectives/communicator.h"
#include "collectives/mpi_communicator.h"

namespace poet {

class NcclCommunicator final : public Communicator {
 public:
  // `mpi` gives the ranks, shares NCCL's unique id and carries the small collectives (barrier,
  // all_gather); `device` is the CUDA device this rank uses.
  NcclCommunicator(std::unique_ptr<MpiCommunicator> mpi, int device);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return mpi_->local_rank(); }
  int local_size() const override { return mpi_->local_size(); }
  const char* backend() const override { return "nccl"; }
  torch::Device device() const override { return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(device_)); }
  std::unique_ptr<PendingCollective> start_all_reduce_sum(const torch::Tensor& tensor,
                                                          const std::string& label) override;
  void set_timeouts(const CollectiveTimeouts& timeouts) override;
  void broadcast(torch::Tensor& tensor, int root) override;
  void barrier() override { mpi_->barrier(); }
  std::vector<int64_t> all_gather(int64_t value) override { return mpi_->all_gather(value); }
  std::vector<std::string> all_gather(const std::string& value) override { return mpi_->all_gather(value); }

 private:
  // Orders NCCL's stream after the work LibTorch has queued on this device so far.
  void follow_torch_stream();
  ncclComm_t live_comm() const;  // throws once a collective failed

  std::unique_ptr<MpiCommunicator> mpi_;
  int rank_;
  int size_;
  int device_;
  ncclComm_t comm_ = nullptr;
  // A collective failed or timed out: the other ranks may never reach ncclCommDestroy's barrier.
  bool failed_ = false;
  // NCCL's own stream, so that collectives overlap the computation on LibTorch's current stream;
  // each collective first waits on an event recorded there (the gradients are ready).
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<CollectiveWatch> watch_;
};

}  // namespace poet
