// NcclCommunicator, with POET_NCCL_CHECK and POET_CUDA_CHECK at every call.
#include "collectives/nccl_communicator.h"

#include <string>

#include "collectives/mpi_check.h"
#include "common/error.h"

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

}  // namespace

NcclCommunicator::NcclCommunicator(const Communicator& mpi, int device)
    : rank_(mpi.rank()), size_(mpi.size()), local_rank_(mpi.local_rank()), local_size_(mpi.local_size()),
      device_(device) {
  POET_CUDA_CHECK(cudaSetDevice(device_));
  ncclUniqueId id;
  if (rank_ == 0) POET_NCCL_CHECK(ncclGetUniqueId(&id));
  POET_MPI_CHECK(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD));
  POET_NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
  POET_CUDA_CHECK(cudaStreamCreate(&stream_));
}

NcclCommunicator::~NcclCommunicator() {
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
  if (comm_ != nullptr) ncclCommDestroy(comm_);
}

void NcclCommunicator::all_reduce_sum(torch::Tensor& tensor) {
  require_cuda_contiguous(tensor, "all_reduce_sum");
  POET_NCCL_CHECK(ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), static_cast<size_t>(tensor.numel()),
                                nccl_type(tensor), ncclSum, comm_, stream_));
  POET_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void NcclCommunicator::broadcast(torch::Tensor& tensor, int root) {
  require_cuda_contiguous(tensor, "broadcast");
  POET_NCCL_CHECK(ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(), static_cast<size_t>(tensor.numel()),
                                nccl_type(tensor), root, comm_, stream_));
  POET_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void NcclCommunicator::barrier() { POET_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD)); }

std::vector<int64_t> NcclCommunicator::all_gather(int64_t value) {
  std::vector<int64_t> values(static_cast<size_t>(size_));
  POET_MPI_CHECK(MPI_Allgather(&value, 1, MPI_INT64_T, values.data(), 1, MPI_INT64_T, MPI_COMM_WORLD));
  return values;
}

}  // namespace poet
