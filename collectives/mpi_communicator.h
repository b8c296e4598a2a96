// The MPI communicator over MPI_COMM_WORLD. It reduces host memory: a rank computing on CUDA has
// its tensors copied to the host, reduced there and copied back when the collective completes,
// which is what a cluster without NCCL (or a node with more ranks than GPUs) needs.
#pragma once

#include <memory>

#include "collectives/collective_watch.h"
#include "collectives/communicator.h"
#include "collectives/mpi_progress.h"

namespace poet {

class MpiCommunicator final : public Communicator {
 public:
  // `cuda`: this rank computes on its local rank's GPU (make_communicator); otherwise on the CPU.
  // `progress_thread`: whether an MpiProgress moves collectives along while the rank computes:
  // "on", "off", or "auto", on where the thread has a core of its own: on CUDA, or when
  // `compute_threads` (run.threads) times the ranks on this node is below the cores this process
  // may use. It needs MPI_THREAD_MULTIPLE (rank 0 warns where MPI gives less).
  explicit MpiCommunicator(bool cuda = false, const std::string& progress_thread = "auto", int compute_threads = 0);

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  const char* backend() const override { return "mpi"; }
  torch::Device device() const override { return device_; }
  std::unique_ptr<PendingCollective> start_all_reduce_sum(const torch::Tensor& tensor,
                                                          const std::string& label) override;
  void set_timeouts(const CollectiveTimeouts& timeouts) override { watch_->set_timeouts(timeouts); }
  void broadcast(torch::Tensor& tensor, int root) override;
  void barrier() override;
  std::vector<int64_t> all_gather(int64_t value) override;
  std::vector<std::string> all_gather(const std::string& value) override;

 private:
  torch::Device device_;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  std::unique_ptr<CollectiveWatch> watch_;
  std::unique_ptr<MpiProgress> progress_;  // null: progress only inside this rank's MPI calls
};

}  // namespace poet
