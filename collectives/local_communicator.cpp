// LocalCommunicator: the sum over one rank is the tensor itself.
#include "collectives/local_communicator.h"

namespace poet {

namespace {

class Completed final : public PendingCollective {
 public:
  bool test() override { return true; }
  void wait() override {}
};

}  // namespace

std::unique_ptr<PendingCollective> LocalCommunicator::start_all_reduce_sum(const torch::Tensor&, const std::string&) {
  return std::make_unique<Completed>();
}

}  // namespace poet
