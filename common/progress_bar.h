// A one-line progress bar on stderr, drawn only when stderr is a terminal so that logs
// stay clean. Safe to advance from several threads.
#pragma once

#include <atomic>
#include <mutex>
#include <string>

namespace poet {

class ProgressBar {
 public:
  ProgressBar(std::string label, long total);
  ~ProgressBar();
  void advance(long n = 1);
  void finish();

 private:
  void draw(long done);

  std::string label_;
  long total_;
  std::atomic<long> done_{0};
  bool enabled_;
  bool finished_ = false;
  std::mutex mutex_;
};

}  // namespace poet
