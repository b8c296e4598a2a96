// MpiCommunicator, MpiSession and mpi_fail().
#include "collectives/mpi_communicator.h"

#include <torch/cuda.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <utility>

#include "collectives/mpi_check.h"
#include "common/cpu_count.h"
#include "common/error.h"

namespace poet {

namespace {

MPI_Datatype mpi_type(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32:
      return MPI_FLOAT;
    case torch::kFloat64:
      return MPI_DOUBLE;
    case torch::kInt32:
      return MPI_INT32_T;
    case torch::kInt64:
      return MPI_INT64_T;
    case torch::kUInt8:
      return MPI_UINT8_T;
    default:
      throw Error(std::string("MPI communicator: unsupported tensor type ") + c10::toString(t.scalar_type()));
  }
}

void require_contiguous(const torch::Tensor& t, const char* operation) {
  if (!t.is_contiguous()) throw Error(std::string("MPI communicator: ") + operation + " needs a contiguous tensor");
}

// A non-blocking MPI collective on `host`: MPI_Test (and the progress thread, if any) moves it
// along, CollectiveWatch bounds the wait. When `host` is a staging copy of a device tensor,
// completion copies it back.
class MpiPending final : public PendingCollective {
 public:
  MpiPending(CollectiveWatch& watch, MpiProgress* progress, std::string label, torch::Tensor host,
             torch::Tensor device = {})
      : watch_(watch),
        progress_(progress),
        label_(std::move(label)),
        host_(std::move(host)),
        device_(std::move(device)),
        number_(watch.begin()) {
    if (progress_ != nullptr) progress_->started();
  }
  ~MpiPending() override {
    if (!done_ && progress_ != nullptr) progress_->finished();
  }
  MPI_Request* request() { return &request_; }
  const torch::Tensor& host() const { return host_; }
  bool test() override {
    if (!done_) {
      int flag = 0;
      POET_MPI_CHECK(MPI_Test(&request_, &flag, MPI_STATUS_IGNORE));
      done_ = flag != 0;
      if (done_ && progress_ != nullptr) progress_->finished();
      if (done_ && device_.defined()) device_.copy_(host_);
    }
    return done_;
  }
  void wait() override {
    watch_.wait(number_, label_, [this] { return test(); });
  }

 private:
  CollectiveWatch& watch_;
  MpiProgress* progress_;
  std::string label_;
  torch::Tensor host_;
  torch::Tensor device_;
  int64_t number_;
  MPI_Request request_ = MPI_REQUEST_NULL;
  bool done_ = false;
};

// The collective's pending state for `tensor`: on the CPU it works in place; from a device it
// works on a host copy, taken once the work queued on the tensor has finished (the copy waits).
std::unique_ptr<MpiPending> pending_for(CollectiveWatch& watch, MpiProgress* progress, std::string label,
                                        const torch::Tensor& tensor) {
  if (tensor.device().is_cpu()) return std::make_unique<MpiPending>(watch, progress, std::move(label), tensor);
  return std::make_unique<MpiPending>(watch, progress, std::move(label), tensor.to(torch::kCPU), tensor);
}

// How often the progress thread enters MPI while collectives are in flight: often enough that a
// collective's rounds follow each other within a bucket's time, rarely enough to cost little.
constexpr std::chrono::microseconds kProgressInterval(50);

std::string describe(const char* operation, const torch::Tensor& t) {
  return std::string(operation) + " of " + std::to_string(t.numel()) + " " + c10::toString(t.scalar_type());
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
    // Open MPI's non-blocking all-reduce (libnbc) picks a binomial tree by default, measured at
    // 0.6x the blocking MPI_Allreduce's bandwidth from 4 KB to 256 MB on 2 ranks; Rabenseifner's
    // reduce-scatter + all-gather reached 0.95-1.0x. A user's own setting wins.
    setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "3", /*overwrite=*/0);
    // Collectives start from the gradient hooks, which run on the main thread when backward is
    // on the CPU but on the autograd engine's device thread when it is on CUDA, while the main
    // thread waits in backward(): one thread at a time, though not always the same one. The
    // progress thread (mpi_progress.h) calls MPI meanwhile, which needs MPI_THREAD_MULTIPLE.
    int provided = 0;
    POET_MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided));
    owns_ = true;
    if (provided < MPI_THREAD_SERIALIZED) {
      throw Error("MPI_Init_thread: this MPI gives thread level " + std::to_string(provided) +
                  ", and poet_dist needs MPI_THREAD_SERIALIZED (" + std::to_string(MPI_THREAD_SERIALIZED) + ")");
    }
    // Errors come back as codes that POET_MPI_CHECK turns into exceptions, instead of aborting.
    POET_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  }
}

MpiSession::~MpiSession() {
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (owns_ && !finalised) MPI_Finalize();
}

MpiCommunicator::MpiCommunicator(bool cuda, const std::string& progress_thread, int compute_threads)
    : device_(torch::kCPU) {
  POET_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  POET_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  MPI_Comm node;
  POET_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  POET_MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
  POET_MPI_CHECK(MPI_Comm_size(node, &local_size_));
  POET_MPI_CHECK(MPI_Comm_free(&node));
  if (cuda) {
    device_ = torch::Device(torch::kCUDA,
                            static_cast<c10::DeviceIndex>(local_rank_ % static_cast<int>(torch::cuda::device_count())));
  }
  watch_ = std::make_unique<CollectiveWatch>(rank_, size_);
  // Measured at np 2 on 2 cores, each computing (bench/scaling_bench.sh): the thread's reductions
  // took the compute's core and the step was 4-7% slower, though the first bucket completed
  // inside backward.
  const bool free_core = cuda || (compute_threads > 0 && compute_threads * local_size_ < available_cores());
  // MpiProgress is collective (it duplicates the communicator): every rank takes the decision of
  // the least favoured one, so that nodes unlike in cores or ranks agree.
  int level = 0;
  POET_MPI_CHECK(MPI_Query_thread(&level));
  int wanted_and_able[2] = {progress_thread == "on" || (progress_thread == "auto" && free_core),
                            level == MPI_THREAD_MULTIPLE};
  POET_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, wanted_and_able, 2, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
  const bool wanted = wanted_and_able[0] != 0;
  if (wanted && size_ > 1 && wanted_and_able[1] != 0) {
    progress_ = std::make_unique<MpiProgress>(rank_, kProgressInterval);
  } else if (wanted && size_ > 1 && rank_ == 0) {
    std::cerr << "poet_dist: warning: this MPI gives thread level " << level << ", below MPI_THREAD_MULTIPLE ("
              << MPI_THREAD_MULTIPLE << "): no progress thread, so gradient buckets move only between layers\n";
  }
}

std::unique_ptr<PendingCollective> MpiCommunicator::start_all_reduce_sum(const torch::Tensor& tensor,
                                                                         const std::string& label) {
  require_contiguous(tensor, "all_reduce_sum");
  auto pending = pending_for(*watch_, progress_.get(), label, tensor);
  POET_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, pending->host().data_ptr(), static_cast<int>(tensor.numel()),
                                mpi_type(tensor), MPI_SUM, MPI_COMM_WORLD, pending->request()));
  return pending;
}

void MpiCommunicator::broadcast(torch::Tensor& tensor, int root) {
  require_contiguous(tensor, "broadcast");
  auto pending = pending_for(*watch_, progress_.get(), describe("broadcast", tensor), tensor);
  POET_MPI_CHECK(MPI_Ibcast(pending->host().data_ptr(), static_cast<int>(tensor.numel()), mpi_type(tensor), root,
                            MPI_COMM_WORLD, pending->request()));
  pending->wait();
}

void MpiCommunicator::barrier() {
  MpiPending pending(*watch_, progress_.get(), "barrier", torch::Tensor());
  POET_MPI_CHECK(MPI_Ibarrier(MPI_COMM_WORLD, pending.request()));
  pending.wait();
}

std::vector<int64_t> MpiCommunicator::all_gather(int64_t value) {
  std::vector<int64_t> values(static_cast<size_t>(size_));
  MpiPending pending(*watch_, progress_.get(), "all_gather", torch::Tensor());
  POET_MPI_CHECK(
      MPI_Iallgather(&value, 1, MPI_INT64_T, values.data(), 1, MPI_INT64_T, MPI_COMM_WORLD, pending.request()));
  pending.wait();
  return values;
}

std::vector<std::string> MpiCommunicator::all_gather(const std::string& value) {
  const std::vector<int64_t> lengths = all_gather(static_cast<int64_t>(value.size()));
  std::vector<int> counts;
  std::vector<int> offsets;
  int total = 0;
  for (int64_t length : lengths) {
    offsets.push_back(total);
    counts.push_back(static_cast<int>(length));
    total += static_cast<int>(length);
  }
  std::string all(static_cast<size_t>(total), '\0');
  MpiPending pending(*watch_, progress_.get(), "all_gather of strings", torch::Tensor());
  POET_MPI_CHECK(MPI_Iallgatherv(value.data(), static_cast<int>(value.size()), MPI_CHAR, all.data(), counts.data(),
                                 offsets.data(), MPI_CHAR, MPI_COMM_WORLD, pending.request()));
  pending.wait();
  std::vector<std::string> values;
  for (size_t r = 0; r < counts.size(); ++r)
    values.push_back(all.substr(static_cast<size_t>(offsets[r]), static_cast<size_t>(counts[r])));
  return values;
}

}  // namespace poet
