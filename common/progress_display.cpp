// ProgressDisplay: the bar, the plain lines, and the choice between them.
#include "common/progress_display.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "common/error.h"

namespace poet {

namespace {

// The job id variables of Slurm, PBS/Torque, LSF and Grid Engine: set inside a batch job.
bool under_batch_scheduler() {
  for (const char* name : {"SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "JOB_ID"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return true;
  }
  return false;
}

}  // namespace

ProgressStyle progress_style(const std::string& choice) {
  if (choice == "bar") return ProgressStyle::kBar;
  if (choice == "plain") return ProgressStyle::kLines;
  if (choice != "auto") throw Error("--progress is '" + choice + "', expected auto, bar or plain");
  const bool watched = ::isatty(STDOUT_FILENO) == 1 && ::isatty(STDERR_FILENO) == 1 && !under_batch_scheduler();
  return watched ? ProgressStyle::kBar : ProgressStyle::kLines;
}

ProgressDisplay::ProgressDisplay(std::ostream& out, ProgressStyle style) : out_(out), style_(style) {}

ProgressDisplay::~ProgressDisplay() { finish(); }

void ProgressDisplay::update(const std::string& line, double fraction) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (style_ == ProgressStyle::kLines) {
    out_ << line << "\n" << std::flush;
  } else if (style_ == ProgressStyle::kBar) {
    constexpr int kWidth = 24;
    std::string bar(static_cast<size_t>(kWidth * std::clamp(fraction, 0.0, 1.0)), '#');
    bar.resize(kWidth, '.');
    out_ << "\r\033[K[" << bar << "] " << line << std::flush;
    drawn_ = true;
  }
}

std::ostream& ProgressDisplay::message() {
  finish();
  return out_;
}

void ProgressDisplay::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!drawn_) return;
  out_ << "\r\033[K" << std::flush;
  drawn_ = false;
}

}  // namespace poet
