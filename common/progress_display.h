// Progress on the console, one display for every command: a bar redrawn in place where a person
// watches, plain lines in a log, or nothing.
#pragma once

#include <mutex>
#include <ostream>
#include <string>

namespace poet {

enum class ProgressStyle {
  kBar,    // one line redrawn with a bar (carriage returns and ESC[K)
  kLines,  // each update a plain line
  kOff,    // nothing
};

// --progress auto|bar|plain. "auto" is a bar only where a person watches: stdout and stderr are
// terminals and no batch scheduler runs the process. isatty alone is not enough: under mpirun
// Open MPI gives each rank a pseudo-terminal, even inside sbatch. Throws poet::Error on another
// value.
ProgressStyle progress_style(const std::string& choice);

class ProgressDisplay {
 public:
  ProgressDisplay(std::ostream& out, ProgressStyle style);
  ~ProgressDisplay();
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;

  // Shows `line`, with a bar `fraction` full in kBar style. Safe to call from several threads.
  void update(const std::string& line, double fraction);
  // A line that stays (an evaluation, a sample): the bar is cleared first.
  std::ostream& message();
  // Clears the bar, for output that follows on the same stream.
  void finish();

 private:
  std::ostream& out_;
  ProgressStyle style_;
  bool drawn_ = false;
  std::mutex mutex_;
};

}  // namespace poet
