// The task queue serve gives cpp-httplib in place of its ThreadPool, whose list of waiting
// connections has no bound in 0.11: a fixed pool of threads, and one more that takes every
// connection arriving while the whole pool is busy. On that thread overflowing() is true, and
// POST /api/poems answers 503 at once; the page and /healthz are served as usual. serve turns
// keep-alive off, so a connection is one request and the pool's size counts requests.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

namespace poet {

class ConnectionQueue : public httplib::TaskQueue {
 public:
  explicit ConnectionQueue(size_t threads);

  void enqueue(std::function<void()> fn) override;
  // Finishes every connection taken, then joins the threads.
  void shutdown() override;

  // Whether the calling thread serves the connections beyond the pool.
  static bool overflowing();

 private:
  void work(std::list<std::function<void()>>& jobs, bool overflow);

  std::mutex mutex_;
  std::condition_variable ready_;
  std::list<std::function<void()>> jobs_;
  std::list<std::function<void()>> overflow_;
  size_t idle_ = 0;  // pool threads waiting for a connection
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace poet
