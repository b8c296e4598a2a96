// Keeps a collective that cannot complete from hanging the job. Every rank counts the collectives
// it starts; a rank that has waited longer than the warning time asks the others, over a private
// MPI communicator, which collective they are waiting in, and reports the ranks that have not
// arrived (as Horovod's stall check does). Past the timeout the wait throws, naming the operation
// and those ranks, and the caller's error path aborts the job.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include <mpi.h>

#include "collectives/communicator.h"

namespace poet {

class CollectiveWatch {
 public:
  CollectiveWatch(int rank, int size);
  ~CollectiveWatch();
  CollectiveWatch(const CollectiveWatch&) = delete;
  CollectiveWatch& operator=(const CollectiveWatch&) = delete;

  void set_timeouts(const CollectiveTimeouts& timeouts) { timeouts_ = timeouts; }
  const CollectiveTimeouts& timeouts() const { return timeouts_; }

  // Numbers the next collective. Every rank issues the same collectives in the same order, so
  // the numbers agree across ranks.
  int64_t begin() { return ++started_; }

  // Calls `complete` until it returns true, answering the other ranks' questions meanwhile.
  // Warns after the warning time and throws poet::Error after the timeout.
  void wait(int64_t number, const std::string& label, const std::function<bool()>& complete);

 private:
  struct Survey {
    std::vector<int> not_arrived;        // no answer: computing, stuck or gone
    std::vector<std::string> elsewhere;  // "rank 3 in collective #12"
    int lowest_waiting_here;             // the rank that reports for this collective
  };
  void answer_questions();
  Survey survey(int64_t number);
  static std::string describe(const Survey& s);
  void send(const int64_t (&message)[3], int to, int tag);
  void reap_sends();

  int rank_;
  int size_;
  MPI_Comm control_ = MPI_COMM_NULL;
  CollectiveTimeouts timeouts_;
  int64_t started_ = 0;
  int64_t waiting_for_ = 0;  // 0: not inside wait()
  int64_t survey_id_ = 0;
  struct Outgoing {
    int64_t message[3];
    MPI_Request request;
  };
  std::deque<Outgoing> outgoing_;  // sends in flight; a deque keeps their buffers in place
};

}  // namespace poet
