// MpiProgress: the progress thread's loop, started and stopped with the communicator.
#include "collectives/mpi_progress.h"

#include <iostream>

#include "collectives/mpi_check.h"
#include "common/error.h"

namespace poet {

MpiProgress::MpiProgress(int rank, std::chrono::microseconds interval) : rank_(rank), interval_(interval) {
  POET_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
  thread_ = std::thread([this] { run(); });
}

MpiProgress::~MpiProgress() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (!finalised) MPI_Comm_free(&comm_);
}

void MpiProgress::started() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++in_flight_;
  }
  wake_.notify_one();
}

void MpiProgress::finished() {
  std::lock_guard<std::mutex> lock(mutex_);
  --in_flight_;
}

void MpiProgress::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stop_ || in_flight_ > 0; });
    if (stop_) return;
    lock.unlock();
    int arrived = 0;
    const int code = MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &arrived, MPI_STATUS_IGNORE);
    if (code != MPI_SUCCESS) {
      // The waits go on without this thread: each MPI_Test of theirs progresses too.
      std::cerr << "poet_dist: warning: rank " << rank_ << ": the MPI progress thread stopped: MPI_Iprobe returned "
                << code << "\n";
      return;
    }
    std::this_thread::sleep_for(interval_);
    lock.lock();
  }
}

}  // namespace poet
