// The workers that write poems for serve: one PoemMaker each (a model of its own, so that no
// two requests share a module's state), lent to one request at a time. Requests that find every
// worker busy wait in a bounded queue; beyond it they are refused at once, and a request whose
// deadline passes while it waits is refused too. Nothing here blocks without a deadline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "poems/poem_maker.h"

namespace poet {

class PoemWorkers {
 public:
  PoemWorkers(std::vector<std::unique_ptr<PoemMaker>> makers, size_t max_waiting);

  enum class Refusal { kNone, kQueueFull, kTimedOut };

  // A worker, given back when the lease dies.
  class Lease {
   public:
    Lease(PoemWorkers* owner, PoemMaker* maker) : owner_(owner), maker_(maker) {}
    Lease(Lease&& other) noexcept : owner_(other.owner_), maker_(other.maker_) { other.maker_ = nullptr; }
    Lease(const Lease&) = delete;
    ~Lease();
    PoemMaker* get() const { return maker_; }
    explicit operator bool() const { return maker_ != nullptr; }

   private:
    PoemWorkers* owner_;
    PoemMaker* maker_;
  };

  // A free worker, or once one frees before `deadline`; else an empty lease and why.
  Lease acquire(std::chrono::steady_clock::time_point deadline, Refusal* refusal);

  size_t workers() const { return makers_.size(); }
  size_t max_waiting() const { return max_waiting_; }
  struct Load {
    size_t busy = 0;
    size_t waiting = 0;
  };
  Load load();

 private:
  void give_back(PoemMaker* maker);

  std::vector<std::unique_ptr<PoemMaker>> makers_;
  size_t max_waiting_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<PoemMaker*> free_;
  size_t waiting_ = 0;
};

}  // namespace poet
