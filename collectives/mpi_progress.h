// A thread that keeps MPI's non-blocking collectives moving while this rank computes. Open MPI
// 4.1 advances a non-blocking all-reduce (libnbc, over shared memory or TCP) only inside MPI
// calls, and the LSTM's backward is one autograd node, so no gradient hook, and no MPI call,
// runs during most of it: a bucket started early would wait through it. While collectives are in
// flight this thread enters MPI's progress engine every `interval`, by MPI_Iprobe on a
// communicator of its own where no message ever arrives; otherwise it sleeps. The requests stay
// the caller's (MPI allows one thread at a time to test a request). Needs MPI_THREAD_MULTIPLE.
#pragma once

#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace poet {

class MpiProgress {
 public:
  // Collective over MPI_COMM_WORLD (it duplicates the communicator).
  MpiProgress(int rank, std::chrono::microseconds interval);
  ~MpiProgress();
  MpiProgress(const MpiProgress&) = delete;
  MpiProgress& operator=(const MpiProgress&) = delete;

  // A collective was started; and one of those was seen complete (or given up).
  void started();
  void finished();

 private:
  void run();

  int rank_;
  std::chrono::microseconds interval_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  std::mutex mutex_;
  std::condition_variable wake_;
  int in_flight_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace poet
