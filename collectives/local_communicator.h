// The communicator of a job of one process: a world of size one, as llm.c runs one process with
// num_processes = 1. Its collectives complete at once and leave tensors as they are, so the
// trainer has one path for one process and for many.
#pragma once

#include "collectives/communicator.h"

namespace poet {

class LocalCommunicator final : public Communicator {
 public:
  explicit LocalCommunicator(torch::Device device) : device_(device) {}

  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  const char* backend() const override { return "local"; }
  torch::Device device() const override { return device_; }
  std::unique_ptr<PendingCollective> start_all_reduce_sum(const torch::Tensor& tensor,
                                                          const std::string& label) override;
  void set_timeouts(const CollectiveTimeouts&) override {}
  void broadcast(torch::Tensor&, int) override {}
  void barrier() override {}
  std::vector<int64_t> all_gather(int64_t value) override { return {value}; }
  std::vector<std::string> all_gather(const std::string& value) override { return {value}; }

 private:
  torch::Device device_;
};

}  // namespace poet
