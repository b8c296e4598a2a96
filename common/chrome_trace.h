// A Chrome trace (the JSON that chrome://tracing and Perfetto open) of one process: spans on
// named tracks, written atomically when the trace is closed. Recording is a vector push.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace poet {

class ChromeTrace {
 public:
  using Clock = std::chrono::steady_clock;

  // `path` is written by close(); the process is shown under `process_name`.
  ChromeTrace(std::string path, std::string process_name);

  // A span on track `track` ("compute", "communication", ...), from `begin` to `end`.
  void span(const std::string& track, const std::string& name, Clock::time_point begin, Clock::time_point end,
            const std::string& args_json = "");
  void close();

 private:
  struct Span {
    int track;
    std::string name;
    double begin_us;
    double duration_us;
    std::string args_json;
  };
  int track_id(const std::string& track);

  std::string path_;
  std::string process_name_;
  Clock::time_point origin_;
  std::vector<std::string> tracks_;
  std::vector<Span> spans_;
};

// Records [construction, destruction) as a span when `trace` is not null.
class TraceScope {
 public:
  TraceScope(ChromeTrace* trace, const char* track, std::string name)
      : trace_(trace), track_(track), name_(std::move(name)), begin_(ChromeTrace::Clock::now()) {}
  ~TraceScope() {
    if (trace_ != nullptr) trace_->span(track_, name_, begin_, ChromeTrace::Clock::now());
  }
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

 private:
  ChromeTrace* trace_;
  const char* track_;
  std::string name_;
  ChromeTrace::Clock::time_point begin_;
};

}  // namespace poet
