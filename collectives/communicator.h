// One communicator interface for data-parallel training, with an MPI implementation for CPU
// tensors and an NCCL implementation for CUDA tensors (compiled only when NCCL is found).
// The trainer sees only this interface: never an MPI_ or nccl symbol.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace poet {

// How long a rank waits in one collective: a warning that names the ranks not arrived after
// `warn_seconds` (then again each such period), an error after `abort_seconds`.
struct CollectiveTimeouts {
  double warn_seconds = 60;
  double abort_seconds = 300;
};

// A collective in flight. The tensor it works on must stay untouched until it completes.
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  // True once complete. Cheap; under MPI each call also moves the operation along.
  virtual bool test() = 0;
  // Until complete; warns when stalled and throws poet::Error past the collective timeout.
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // This rank's place among the ranks on its node.
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  virtual const char* backend() const = 0;
  // Where this rank computes, and so where the tensors given to the collectives live.
  virtual torch::Device device() const = 0;

  // Starts summing a contiguous tensor across ranks, in place; `label` names it in stall
  // warnings and timeouts. Every rank must start the same collectives in the same order.
  virtual std::unique_ptr<PendingCollective> start_all_reduce_sum(const torch::Tensor& tensor,
                                                                  const std::string& label) = 0;
  // The blocking collectives below wait the same way: no collective waits forever.
  virtual void set_timeouts(const CollectiveTimeouts& timeouts) = 0;

  // Sums a contiguous tensor across ranks, in place.
  void all_reduce_sum(torch::Tensor& tensor) { start_all_reduce_sum(tensor, "all_reduce_sum")->wait(); }
  // Copies `root`'s contiguous tensor into every rank's, in place.
  virtual void broadcast(torch::Tensor& tensor, int root) = 0;
  virtual void barrier() = 0;
  // Every rank's `value`, in rank order.
  virtual std::vector<int64_t> all_gather(int64_t value) = 0;
  virtual std::vector<std::string> all_gather(const std::string& value) = 0;
};

// The job's device and backend, decided together. `device`: run.device as the config checked
// it, auto (CUDA when visible), cpu or cuda; `backend`: auto (NCCL with CUDA when this build has
// it, otherwise MPI), mpi (on CUDA, staged through host memory) or nccl; `distributed`: started
// by mpirun or srun. One process gets a LocalCommunicator; ranks of several take GPUs in turn
// (local rank r uses GPU r mod GPUs visible). A pair that cannot work (NCCL on the CPU, NCCL in
// a build without it, more NCCL ranks on a node than GPUs) is refused with a poet::Error that
// names both choices, at any world size where it can be known, so a job that starts on one
// process starts on many. Several ranks need MPI initialised (see MpiSession).
// `progress_thread` (distributed.progress_thread: on, off or auto) and `compute_threads`
// (run.threads, 0 for every core): whether MPI's collectives get a thread that moves them along
// (mpi_progress.h).
std::unique_ptr<Communicator> make_communicator(const std::string& device, const std::string& backend,
                                                bool distributed, const std::string& progress_thread = "auto",
                                                int compute_threads = 0);

// True when this process was started by mpirun/mpiexec or srun with PMI (rank variables set).
bool launched_by_mpi();

// Ends every rank of the job with `exit_code` (MPI_Abort) when MPI runs with several ranks;
// otherwise returns, and the caller exits normally. Keeps one failing rank from hanging the rest.
void abort_other_ranks(int exit_code);

// MPI_Init on construction (when not yet initialised) and MPI_Finalize on destruction.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

 private:
  bool owns_ = false;
};

}  // namespace poet
