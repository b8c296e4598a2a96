// make_communicator(): the one place that decides device and backend, and knows which backends
// this build has.
#include <torch/cuda.h>

#include "collectives/communicator.h"
#include "collectives/local_communicator.h"
#include "collectives/mpi_communicator.h"
#include "common/error.h"
#ifdef POET_WITH_NCCL
#include "collectives/nccl_communicator.h"
#endif

namespace poet {

std::unique_ptr<Communicator> make_communicator(const std::string& device, const std::string& backend,
                                                bool distributed) {
  if (backend != "auto" && backend != "mpi" && backend != "nccl") {
    throw Error("--backend is '" + backend + "', expected auto, mpi or nccl");
  }
  const bool visible = torch::cuda::is_available();
  if (device == "cuda" && !visible) throw Error("run.device is cuda, but LibTorch sees no CUDA device");
  const bool cuda = device == "cuda" || (device == "auto" && visible);
  const std::string pair = "--backend " + backend + " with run.device " + device +
                           (device == "auto" ? (cuda ? " (a CUDA device)" : " (the CPU: no CUDA device)") : "");
  if (backend == "nccl" && !cuda) {
    throw Error(pair +
                ": NCCL reduces CUDA tensors and this run computes on the CPU (use --backend mpi, or "
                "run.device=cuda on a GPU node)");
  }
  // Staging CUDA tensors through host memory for MPI is not built yet.
  if (backend == "mpi" && cuda) {
    throw Error(pair +
                ": the MPI backend reduces CPU tensors and this run computes on CUDA (use --backend nccl, "
                "or run.device=cpu)");
  }
  const torch::Device where = cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (!distributed) return std::make_unique<LocalCommunicator>(where);
  auto mpi = std::make_unique<MpiCommunicator>();
  if (!cuda) return mpi;
#ifdef POET_WITH_NCCL
  const int gpu = mpi->local_rank() % static_cast<int>(torch::cuda::device_count());
  return std::make_unique<NcclCommunicator>(std::move(mpi), gpu);
#else
  throw Error(pair +
              ": several ranks on CUDA need NCCL, and this build of poet_dist has none (rebuild with CUDA "
              "and NCCL, or run.device=cpu)");
#endif
}

}  // namespace poet
