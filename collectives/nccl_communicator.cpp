// NcclCommunicator, with POET_NCCL_CHECK and POET_CUDA_CHECK at every call.
#include "collectives/nccl_communicator.h"

#include <exception>
#include <functional>
#include <string>
#include <utility>

#include "collectives/mpi_check.h"
#include "common/error.h"
#ifdef POET_TORCH_HAS_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

#define POET_NCCL_CHECK(call)                                                                  \
  do {                                                                                         \
    const ncclResult_t poet_nccl_result_ = (call);                                             \
    if (poet_nccl_result_ != ncclSuccess) {                                                    \
      ::poet::throw_call_failure(#call, __FILE__, __LINE__, ncclGetErrorString(poet_nccl_result_)); \
    }                                                                                          \
  } while (0)

#define POET_CUDA_CHECK(call)                                                                  \
  do {                                                                                         \
    const cudaError_t poet_cuda_error_ = (call);                                               \
    if (poet_cuda_error_ != cudaSuccess) {                                                     \
      ::poet::throw_call_failure(#call, __FILE__, __LINE__, cudaGetErrorString(poet_cuda_error_)); \
    }                                                                                          \
  } while (0)

namespace poet {

namespace {

ncclDataType_t nccl_type(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32: return ncclFloat32;
    case torch::kFloat64: return ncclFloat64;
    case torch::kBFloat16: return ncclBfloat16;
    case torch::kFloat16: return ncclFloat16;
    case torch::kInt32: return ncclInt32;
    case torch::kInt64: return ncclInt64;
    case torch::kUInt8: return ncclUint8;
    default: throw Error(std::string("NCCL communicator: unsupported tensor type ") + c10::toString(t.scalar_type()));
  }
}

void require_cuda_contiguous(const torch::Tensor& t, const char* operation) {
  if (!t.is_cuda() || !t.is_contiguous()) {
    throw Error(std::string("NCCL communicator: ") + operation + " needs a contiguous CUDA tensor");
  }
}

// A collective on NCCL's stream: an event marks its end; a stuck one aborts the communicator so
// that the error path can end the job.
class NcclPending final : public PendingCollective {
 public:
  NcclPending(ncclComm_t comm, std::function<void()> abort, CollectiveWatch& watch, std::string label,
              torch::Tensor tensor)
      : comm_(comm), abort_(std::move(abort)), watch_(watch), label_(std::move(label)), tensor_(std::move(tensor)),
        number_(watch.begin()) {
    POET_CUDA_CHECK(cudaEventCreateWithFlags(&done_event_, cudaEventDisableTiming));
  }
  ~NcclPending() override { cudaEventDestroy(done_event_); }
  cudaEvent_t event() const { return done_event_; }
  bool test() override {
    if (done_) return true;
    ncclResult_t async_error = ncclSuccess;
    POET_NCCL_CHECK(ncclCommGetAsyncError(comm_, &async_error));
    POET_NCCL_CHECK(async_error);
    const cudaError_t state = cudaEventQuery(done_event_);
    if (state == cudaErrorNotReady) return false;
    POET_CUDA_CHECK(state);
    done_ = true;
    return true;
  }
  void wait() override {
    try {
      watch_.wait(number_, label_, [this] { return test(); });
    } catch (...) {
      abort_();
      throw;
    }
  }

 private:
  ncclComm_t comm_;
  std::function<void()> abort_;
  CollectiveWatch& watch_;
  std::string label_;
  torch::Tensor tensor_;
  int64_t number_;
  cudaEvent_t done_event_ = nullptr;
  bool done_ = false;
};

}  // namespace

NcclCommunicator::NcclCommunicator(std::unique_ptr<MpiCommunicator> mpi, int device)
    : mpi_(std::move(mpi)), rank_(mpi_->rank()), size_(mpi_->size()), device_(device) {
  POET_CUDA_CHECK(cudaSetDevice(device_));
  ncclUniqueId id;
  if (rank_ == 0) POET_NCCL_CHECK(ncclGetUniqueId(&id));
  POET_MPI_CHECK(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD));
  POET_NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
  POET_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  watch_ = std::make_unique<CollectiveWatch>(rank_, size_);
}

// While an error unwinds, the other ranks may never reach ncclCommDestroy's barrier, so the
// communicator is aborted instead, which never waits. (The error has been printed and the other
// ranks told to stop before this runs: the launcher holds the communicator outside its error
// handler.) The stream goes after the communicator that uses it.
NcclCommunicator::~NcclCommunicator() {
  if (comm_ != nullptr) {
    if (std::uncaught_exceptions() > 0) {
      ncclCommAbort(comm_);
    } else {
      ncclCommDestroy(comm_);
    }
  }
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

void NcclCommunicator::abort() {
  if (comm_ == nullptr) return;
  ncclCommAbort(comm_);
  comm_ = nullptr;
}

ncclComm_t NcclCommunicator::live_comm() const {
  if (comm_ == nullptr) throw Error("NCCL communicator: used after a timeout aborted it");
  return comm_;
}

void NcclCommunicator::follow_torch_stream() {
#ifdef POET_TORCH_HAS_CUDA
  const cudaStream_t torch_stream = c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_)).stream();
#else
  // A CPU LibTorch makes no CUDA tensors: this backend is compiled there but never runs.
  const cudaStream_t torch_stream = cudaStreamLegacy;
#endif
  cudaEvent_t ready = nullptr;
  POET_CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  POET_CUDA_CHECK(cudaEventRecord(ready, torch_stream));
  POET_CUDA_CHECK(cudaStreamWaitEvent(stream_, ready, 0));
  POET_CUDA_CHECK(cudaEventDestroy(ready));
}

std::unique_ptr<PendingCollective> NcclCommunicator::start_all_reduce_sum(const torch::Tensor& tensor,
                                                                          const std::string& label) {
  require_cuda_contiguous(tensor, "all_reduce_sum");
  auto pending = std::make_unique<NcclPending>(live_comm(), [this] { abort(); }, *watch_, label, tensor);
  follow_torch_stream();
  POET_NCCL_CHECK(ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), static_cast<size_t>(tensor.numel()),
                                nccl_type(tensor), ncclSum, comm_, stream_));
  POET_CUDA_CHECK(cudaEventRecord(pending->event(), stream_));
  return pending;
}

void NcclCommunicator::broadcast(torch::Tensor& tensor, int root) {
  require_cuda_contiguous(tensor, "broadcast");
  NcclPending pending(live_comm(), [this] { abort(); }, *watch_, "broadcast", tensor);
  follow_torch_stream();
  POET_NCCL_CHECK(ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(), static_cast<size_t>(tensor.numel()),
                                nccl_type(tensor), root, comm_, stream_));
  POET_CUDA_CHECK(cudaEventRecord(pending.event(), stream_));
  pending.wait();
}

void NcclCommunicator::set_timeouts(const CollectiveTimeouts& timeouts) {
  watch_->set_timeouts(timeouts);
  mpi_->set_timeouts(timeouts);
}

}  // namespace poet
