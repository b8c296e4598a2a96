// ChromeTrace: the Trace Event Format's "X" (complete) events, with thread names as tracks.
#include "common/chrome_trace.h"

#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/temp_file.h"

namespace poet {

ChromeTrace::ChromeTrace(std::string path, std::string process_name)
    : path_(std::move(path)), process_name_(std::move(process_name)), origin_(Clock::now()) {}

int ChromeTrace::track_id(const std::string& track) {
  for (size_t i = 0; i < tracks_.size(); ++i) {
    if (tracks_[i] == track) return static_cast<int>(i) + 1;
  }
  tracks_.push_back(track);
  return static_cast<int>(tracks_.size());
}

void ChromeTrace::span(const std::string& track, const std::string& name, Clock::time_point begin,
                       Clock::time_point end, const std::string& args_json) {
  const auto us = [this](Clock::time_point t) {
    return std::chrono::duration<double, std::micro>(t - origin_).count();
  };
  spans_.push_back({track_id(track), name, us(begin), us(end) - us(begin), args_json});
}

void ChromeTrace::close() {
  const int pid = static_cast<int>(::getpid());
  nlohmann::json events = nlohmann::json::array();
  events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", pid}, {"args", {{"name", process_name_}}}});
  for (size_t i = 0; i < tracks_.size(); ++i) {
    events.push_back(
        {{"ph", "M"}, {"name", "thread_name"}, {"pid", pid}, {"tid", i + 1}, {"args", {{"name", tracks_[i]}}}});
  }
  for (const Span& s : spans_) {
    nlohmann::json e = {{"ph", "X"},      {"name", s.name},   {"pid", pid},
                        {"tid", s.track}, {"ts", s.begin_us}, {"dur", s.duration_us}};
    if (!s.args_json.empty()) e["args"] = nlohmann::json::parse(s.args_json);
    events.push_back(std::move(e));
  }
  TempFile file(path_);
  {
    std::ofstream out(file.path(), std::ios::trunc);
    out << nlohmann::json({{"traceEvents", events}, {"displayTimeUnit", "ms"}}).dump() << "\n";
    if (!out.flush()) throw Error(path_ + ": cannot write the trace");
  }
  file.commit();
}

}  // namespace poet
