// NcclCommunicator, with POET_NCCL_CHECK and POET_CUDA_CHECK at every call.
#include "collectives/nccl_communicator.h"

#include <functional>
#include <string>
#include <utility>

#include "collectives/mpi_check.h"
#include "common/error.h"
#ifdef POET_TORCH_HAS_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

#define POET_NCCL_CHECK(call)                                                                       \
  do {                                                                                              \
    const ncclResult_t poet_nccl_result_ = (call);                                                  \
    if (poet_nccl_result_ != ncclSuccess) {                                                         \
      ::poet::throw_call_failure(#call, __FILE__, __LINE__, ncclGetErrorString(poet_nccl_result_)); \
    }                                                                                               \
  } while (0)

#define POET_CUDA_CHECK(call)                                                                      \
  do {                                                                                             \
    const cudaError_t poet_cuda_error_ = (call);                                                   \
    if (poet_cuda_error_ != cudaSuccess) {                                                         \
      ::poet::throw_call_failure(#call, __FILE__, __LINE__, cudaGetErrorString(poet_cuda_error_)); \
    }                                                                                              \
  } while (0)

namespace poet {

namespace {

ncclDataType_t nccl_type(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32:
      return ncclFloat32;
    case torch::kFloat64:
      return ncclFloat64;
    case torch::kBFloat16:
      return ncclBfloat16;
    case torch::kFloat16:
      return ncclFloat16;
    case torch::kInt32:
      return ncclInt32;
    case torch::kInt64:
      return ncclInt64;
    case torch::kUInt8:
      return ncclUint8;
    default:
      throw Error(std::string("NCCL communicator: unsupported tensor type ") + c10::toString(t.scalar_type()));
  }
}

#ifdef POET_TORCH_HAS_CUDA
cudaStream_t torch_stream(int device) {
  return c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device)).stream();
}
#else
// A CPU LibTorch makes no CUDA tensors, so the factory never builds this backend with one; this
// keeps a build that missed LibTorch's CUDA from running on the wrong stream.
cudaStream_t torch_stream(int) {
  throw Error("NCCL communicator: this build's LibTorch has no CUDA, so its current stream is unknown");
}
#endif

void require_cuda_contiguous(const torch::Tensor& t, const char* operation) {
  if (!t.is_cuda() || !t.is_contiguous()) {
    throw Error(std::string("NCCL communicator: ") + operation + " needs a contiguous CUDA tensor");
  }
}

// A collective on NCCL's stream: an event marks its end. A failed or stuck one marks the
// communicator failed and throws; the error path prints it and ends the job.
class NcclPending final : public PendingCollective {
 public:
  NcclPending(ncclComm_t comm, std::function<void()> on_failure, CollectiveWatch& watch, std::string label,
              torch::Tensor tensor)
      : comm_(comm),
        on_failure_(std::move(on_failure)),
        watch_(watch),
        label_(std::move(label)),
        tensor_(std::move(tensor)),
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
      on_failure_();
      throw;
    }
  }

 private:
  ncclComm_t comm_;
  std::function<void()> on_failure_;
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

// A failed communicator is aborted, which never waits for the other ranks; a healthy one is
// destroyed, which does. The launcher holds the communicator outside its error handler, so this
// runs after the error has been printed and the other ranks told to stop. The stream goes after
// the communicator that uses it.
NcclCommunicator::~NcclCommunicator() {
  if (comm_ != nullptr) {
    if (failed_) {
      ncclCommAbort(comm_);
    } else {
      ncclCommDestroy(comm_);
    }
  }
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

ncclComm_t NcclCommunicator::live_comm() const {
  if (failed_) throw Error("NCCL communicator: used after a collective failed");
  return comm_;
}

void NcclCommunicator::follow_torch_stream() {
  cudaEvent_t ready = nullptr;
  POET_CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  POET_CUDA_CHECK(cudaEventRecord(ready, torch_stream(device_)));
  POET_CUDA_CHECK(cudaStreamWaitEvent(stream_, ready, 0));
  POET_CUDA_CHECK(cudaEventDestroy(ready));
}

std::unique_ptr<PendingCollective> NcclCommunicator::start_all_reduce_sum(const torch::Tensor& tensor,
                                                                          const std::string& label) {
  require_cuda_contiguous(tensor, "all_reduce_sum");
  auto pending = std::make_unique<NcclPending>(
      live_comm(), [this] { failed_ = true; }, *watch_, label, tensor);
  follow_torch_stream();
  POET_NCCL_CHECK(ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), static_cast<size_t>(tensor.numel()),
                                nccl_type(tensor), ncclSum, comm_, stream_));
  POET_CUDA_CHECK(cudaEventRecord(pending->event(), stream_));
  return pending;
}

void NcclCommunicator::broadcast(torch::Tensor& tensor, int root) {
  require_cuda_contiguous(tensor, "broadcast");
  NcclPending pending(
      live_comm(), [this] { failed_ = true; }, *watch_, "broadcast", tensor);
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
