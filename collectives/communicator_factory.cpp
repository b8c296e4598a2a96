// make_communicator(): the one place that decides device and backend, and knows which backends
// this build has.
#include <c10/core/impl/DeviceGuardImplInterface.h>
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
                                                bool distributed, const std::string& progress_thread,
                                                int compute_threads) {
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
#ifndef POET_WITH_NCCL
  if (backend == "nccl") {
    throw Error(pair + ": this build of poet_dist has no NCCL (rebuild with CUDA and NCCL, or --backend mpi)");
  }
#endif
  const torch::Device where = cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (!distributed) return std::make_unique<LocalCommunicator>(where);
#ifdef POET_WITH_NCCL
  const bool nccl = cuda && backend != "mpi";
#else
  const bool nccl = false;
#endif
  // Under NCCL, MPI carries no gradients: no progress thread.
  auto mpi = std::make_unique<MpiCommunicator>(cuda, nccl ? "off" : progress_thread, compute_threads);
  if (!cuda) return mpi;
  // Tensors made without a device go to the rank's own GPU.
  const torch::Device gpu = mpi->device();
  c10::impl::getDeviceGuardImpl(torch::kCUDA)->setDevice(gpu);
#ifdef POET_WITH_NCCL
  if (backend != "mpi") {
    const auto gpus = torch::cuda::device_count();
    if (static_cast<size_t>(mpi->local_size()) > gpus) {
      throw Error(pair + ": " + std::to_string(mpi->local_size()) + " ranks on this node share " +
                  std::to_string(gpus) +
                  " GPUs, and NCCL needs a GPU of its own for each rank (--backend mpi shares them, through host "
                  "memory)");
    }
    return std::make_unique<NcclCommunicator>(std::move(mpi), gpu.index());
  }
#endif
  return mpi;  // on CUDA, staged through host memory
}

}  // namespace poet
