// make_communicator(): the one place that knows which backends this build has.
#include <torch/cuda.h>

#include "collectives/communicator.h"
#include "collectives/mpi_communicator.h"
#include "common/error.h"
#ifdef POET_WITH_NCCL
#include "collectives/nccl_communicator.h"
#endif

namespace poet {

std::unique_ptr<Communicator> make_communicator(const std::string& backend) {
  if (backend != "auto" && backend != "mpi" && backend != "nccl") {
    throw Error("--backend is '" + backend + "', expected auto, mpi or nccl");
  }
#ifdef POET_WITH_NCCL
  const bool gpu = torch::cuda::is_available();
  if (backend == "nccl" || (backend == "auto" && gpu)) {
    if (!gpu) throw Error("--backend nccl needs a CUDA device, and this process sees none (use --backend mpi)");
    auto mpi = std::make_unique<MpiCommunicator>();
    const int device = mpi->local_rank() % static_cast<int>(torch::cuda::device_count());
    return std::make_unique<NcclCommunicator>(std::move(mpi), device);
  }
#else
  if (backend == "nccl") throw Error("--backend nccl: this build of poet_dist has no NCCL (use --backend mpi)");
#endif
  return std::make_unique<MpiCommunicator>();
}

}  // namespace poet
