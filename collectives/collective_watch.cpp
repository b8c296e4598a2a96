// CollectiveWatch: the wait loop, and the question every waiting rank answers: "which collective
// are you waiting in?". Messages are three int64s on a communicator of their own, so they never
// match the training's collectives.
#include "collectives/collective_watch.h"

#include <algorithm>
#include <iostream>
#include <thread>

#include "collectives/mpi_check.h"
#include "common/error.h"

namespace poet {

namespace {

constexpr int kQuestionTag = 1;  // {survey id, collective number asked about, 0}
constexpr int kAnswerTag = 2;    // {survey id, collective this rank waits in (0: none), 0}
constexpr double kSurveySeconds = 2.0;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string join_ranks(const std::vector<int>& ranks) {
  std::string text;
  for (int r : ranks) text += (text.empty() ? "" : ", ") + std::to_string(r);
  return text;
}

}  // namespace

CollectiveWatch::CollectiveWatch(int rank, int size) : rank_(rank), size_(size) {
  if (size_ > 1) POET_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &control_));
}

CollectiveWatch::~CollectiveWatch() {
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (finalised || control_ == MPI_COMM_NULL) return;
  // Answers nobody collected are dropped; the communicator goes when MPI finalises.
  for (auto& o : outgoing_) MPI_Request_free(&o.request);
}

void CollectiveWatch::send(const int64_t (&message)[3], int to, int tag) {
  outgoing_.push_back({{message[0], message[1], message[2]}, MPI_REQUEST_NULL});
  Outgoing& o = outgoing_.back();
  POET_MPI_CHECK(MPI_Isend(o.message, 3, MPI_INT64_T, to, tag, control_, &o.request));
}

void CollectiveWatch::reap_sends() {
  while (!outgoing_.empty()) {
    int done = 0;
    POET_MPI_CHECK(MPI_Test(&outgoing_.front().request, &done, MPI_STATUS_IGNORE));
    if (!done) break;
    outgoing_.pop_front();
  }
}

void CollectiveWatch::answer_questions() {
  for (;;) {
    int pending = 0;
    MPI_Status status;
    POET_MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, kQuestionTag, control_, &pending, &status));
    if (!pending) break;
    int64_t question[3];
    POET_MPI_CHECK(MPI_Recv(question, 3, MPI_INT64_T, status.MPI_SOURCE, kQuestionTag, control_, MPI_STATUS_IGNORE));
    send({question[0], waiting_for_, 0}, status.MPI_SOURCE, kAnswerTag);
  }
  reap_sends();
}

CollectiveWatch::Survey CollectiveWatch::survey(int64_t number) {
  const int64_t id = ++survey_id_ + (int64_t{rank_} << 40);  // ids unique across askers
  for (int r = 0; r < size_; ++r) {
    if (r != rank_) send({id, number, 0}, r, kQuestionTag);
  }
  std::vector<int64_t> answer(static_cast<size_t>(size_), -1);
  answer[static_cast<size_t>(rank_)] = number;
  int missing = size_ - 1;
  const auto start = Clock::now();
  while (missing > 0 && seconds_since(start) < kSurveySeconds) {
    answer_questions();
    int pending = 0;
    MPI_Status status;
    POET_MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, kAnswerTag, control_, &pending, &status));
    if (!pending) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    int64_t reply[3];
    POET_MPI_CHECK(MPI_Recv(reply, 3, MPI_INT64_T, status.MPI_SOURCE, kAnswerTag, control_, MPI_STATUS_IGNORE));
    if (reply[0] != id) continue;  // a late answer to an earlier survey
    answer[static_cast<size_t>(status.MPI_SOURCE)] = reply[1];
    --missing;
  }
  Survey s;
  s.lowest_waiting_here = rank_;
  for (int r = 0; r < size_; ++r) {
    const int64_t a = answer[static_cast<size_t>(r)];
    if (a == number) {
      s.lowest_waiting_here = std::min(s.lowest_waiting_here, r);
    } else if (a <= 0) {
      s.not_arrived.push_back(r);  // silent, or between collectives
    } else {
      s.elsewhere.push_back("rank " + std::to_string(r) + " is waiting in collective #" + std::to_string(a));
    }
  }
  return s;
}

std::string CollectiveWatch::describe(const Survey& s) {
  std::string text;
  if (!s.not_arrived.empty()) {
    text += "ranks not arrived: " + join_ranks(s.not_arrived) + " (still computing, stuck or gone)";
  }
  for (const std::string& e : s.elsewhere) text += (text.empty() ? "" : "; ") + e;
  return text.empty() ? "every rank has arrived, but the collective has not completed" : text;
}

void CollectiveWatch::wait(int64_t number, const std::string& label, const std::function<bool()>& complete) {
  if (complete()) return;
  waiting_for_ = number;
  const auto start = Clock::now();
  double next_warning = timeouts_.warn_seconds;
  for (uint64_t spin = 1;; ++spin) {
    if (complete()) break;
    // Checking the clock and the question queue costs more than a test of the request.
    if (spin % 256 != 0) continue;
    if (control_ != MPI_COMM_NULL) answer_questions();
    const double waited = seconds_since(start);
    if (waited >= timeouts_.abort_seconds) {
      const std::string who = control_ != MPI_COMM_NULL ? "; " + describe(survey(number)) : "";
      waiting_for_ = 0;
      throw Error(label + " (collective #" + std::to_string(number) + ") did not complete within " +
                  std::to_string(static_cast<int>(timeouts_.abort_seconds)) + " s (--collective-timeout)" + who);
    }
    if (waited >= next_warning && control_ != MPI_COMM_NULL) {
      const Survey s = survey(number);
      // One line a stall, from the lowest-numbered rank that is waiting in it.
      if (s.lowest_waiting_here == rank_) {
        std::cerr << "poet_dist: warning: rank " << rank_ << ": " << label << " (collective #" << number
                  << ") has waited " << static_cast<int>(waited) << " s; " << describe(s) << "\n"
                  << std::flush;
      }
      next_warning += timeouts_.warn_seconds;
    }
    if (waited > 0.01) std::this_thread::yield();
  }
  waiting_for_ = 0;
}

}  // namespace poet
