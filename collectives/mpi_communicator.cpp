// MpiCommunicator, MpiSession and mpi_fail().
#include "collectives/mpi_communicator.h"

#include <cstdlib>
#include <string>

#include "collectives/mpi_check.h"
#include "common/error.h"

namespace poet {

namespace {

MPI_Datatype mpi_type(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32: return MPI_FLOAT;
    case torch::kFloat64: return MPI_DOUBLE;
    case torch::kInt32: return MPI_INT32_T;
    case torch::kInt64: return MPI_INT64_T;
    case torch::kUInt8: return MPI_UINT8_T;
    default: throw Error(std::string("MPI communicator: unsupported tensor type ") + c10::toString(t.scalar_type()));
  }
}

void require_cpu_contiguous(const torch::Tensor& t, const char* operation) {
  if (!t.device().is_cpu() || !t.is_contiguous()) {
    throw Error(std::string("MPI communicator: ") + operation + " needs a contiguous CPU tensor");
  }
}

}  // namespace

void mpi_fail(int code, const char* call, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw_call_failure(call, file, line, std::string(text, static_cast<size_t>(length)));
}

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

void abort_other_ranks(int exit_code) {
  int initialised = 0;
  int finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (!initialised || finalised) return;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
}

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialised = 0;
  POET_MPI_CHECK(MPI_Initialized(&initialised));
  if (!initialised) {
    POET_MPI_CHECK(MPI_Init(argc, argv));
    owns_ = true;
    // Errors come back as codes that POET_MPI_CHECK turns into exceptions, instead of aborting.
    POET_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  }
}

MpiSession::~MpiSession() {
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (owns_ && !finalised) MPI_Finalize();
}

MpiCommunicator::MpiCommunicator() {
  POET_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  POET_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  MPI_Comm node;
  POET_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  POET_MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
  POET_MPI_CHECK(MPI_Comm_size(node, &local_size_));
  POET_MPI_CHECK(MPI_Comm_free(&node));
}

void MpiCommunicator::all_reduce_sum(torch::Tensor& tensor) {
  require_cpu_contiguous(tensor, "all_reduce_sum");
  POET_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, tensor.data_ptr(), static_cast<int>(tensor.numel()), mpi_type(tensor),
                               MPI_SUM, MPI_COMM_WORLD));
}

void MpiCommunicator::broadcast(torch::Tensor& tensor, int root) {
  require_cpu_contiguous(tensor, "broadcast");
  POET_MPI_CHECK(
      MPI_Bcast(tensor.data_ptr(), static_cast<int>(tensor.numel()), mpi_type(tensor), root, MPI_COMM_WORLD));
}

void MpiCommunicator::barrier() { POET_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD)); }

std::vector<int64_t> MpiCommunicator::all_gather(int64_t value) {
  std::vector<int64_t> values(static_cast<size_t>(size_));
  POET_MPI_CHECK(MPI_Allgather(&value, 1, MPI_INT64_T, values.data(), 1, MPI_INT64_T, MPI_COMM_WORLD));
  return values;
}

}  // namespace poet
