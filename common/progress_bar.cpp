// ProgressBar drawing.
#include "common/progress_bar.h"

#include <unistd.h>

#include <cstdio>

namespace poet {

ProgressBar::ProgressBar(std::string label, long total)
    : label_(std::move(label)), total_(total > 0 ? total : 1), enabled_(::isatty(STDERR_FILENO) == 1) {
  if (enabled_) draw(0);
}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::advance(long n) {
  const long done = done_.fetch_add(n) + n;
  if (enabled_) draw(done);
}

void ProgressBar::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!enabled_ || finished_) return;
  finished_ = true;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

void ProgressBar::draw(long done) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * done / total_);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r%s [%s] %ld/%ld", label_.c_str(), bar.c_str(), done, total_);
  std::fflush(stderr);
}

}  // namespace poet
