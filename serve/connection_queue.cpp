// ConnectionQueue (see connection_queue.h).
#include "serve/connection_queue.h"

namespace poet {

namespace {

thread_local bool overflow_thread = false;

}  // namespace

ConnectionQueue::ConnectionQueue(size_t threads) {
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(jobs_, /*overflow=*/false); });
  threads_.emplace_back([this] { work(overflow_, /*overflow=*/true); });
}

bool ConnectionQueue::overflowing() { return overflow_thread; }

void ConnectionQueue::enqueue(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    (idle_ > jobs_.size() ? jobs_ : overflow_).push_back(std::move(fn));
  }
  ready_.notify_all();
}

void ConnectionQueue::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shutdown_ = true;
  }
  ready_.notify_all();
  for (auto& t : threads_) t.join();
}

void ConnectionQueue::work(std::list<std::function<void()>>& jobs, bool overflow) {
  overflow_thread = overflow;
  for (;;) {
    std::function<void()> fn;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!overflow) ++idle_;
      ready_.wait(lock, [&] { return !jobs.empty() || shutdown_; });
      if (!overflow) --idle_;
      if (jobs.empty()) return;  // shut down, nothing left
      fn = std::move(jobs.front());
      jobs.pop_front();
    }
    fn();
  }
}

}  // namespace poet
