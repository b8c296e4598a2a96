// PoemWorkers (see poem_workers.h).
#include "serve/poem_workers.h"

namespace poet {

PoemWorkers::PoemWorkers(std::vector<std::unique_ptr<PoemMaker>> makers, size_t max_waiting)
    : makers_(std::move(makers)), max_waiting_(max_waiting) {
  for (const auto& m : makers_) free_.push_back(m.get());
}

PoemWorkers::Lease::~Lease() {
  if (maker_ != nullptr) owner_->give_back(maker_);
}

PoemWorkers::Lease PoemWorkers::acquire(std::chrono::steady_clock::time_point deadline, Refusal* refusal) {
  std::unique_lock<std::mutex> lock(mutex_);
  *refusal = Refusal::kNone;
  if (free_.empty()) {
    if (waiting_ >= max_waiting_) {
      *refusal = Refusal::kQueueFull;
      return {this, nullptr};
    }
    ++waiting_;
    const bool freed = freed_.wait_until(lock, deadline, [&] { return !free_.empty(); });
    --waiting_;
    if (!freed) {
      *refusal = Refusal::kTimedOut;
      return {this, nullptr};
    }
  }
  PoemMaker* maker = free_.back();
  free_.pop_back();
  return {this, maker};
}

void PoemWorkers::give_back(PoemMaker* maker) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(maker);
  }
  freed_.notify_one();
}

PoemWorkers::Load PoemWorkers::load() {
  std::lock_guard<std::mutex> lock(mutex_);
  return {makers_.size() - free_.size(), waiting_};
}

}  // namespace poet
