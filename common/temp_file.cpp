// TempFile: the write-then-rename discipline shared by datasets and checkpoints.
#include "common/temp_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>

#include "common/error.h"

namespace poet {

namespace fs = std::filesystem;

namespace {

std::string errno_text() { return std::strerror(errno); }

void fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) throw Error("cannot open " + path + " to flush it: " + errno_text());
  const int rc = ::fsync(fd);
  const std::string why = errno_text();
  ::close(fd);
  if (rc != 0) throw Error("cannot flush " + path + " to disk: " + why);
}

}  // namespace

TempFile::TempFile(std::string destination) : destination_(std::move(destination)) {
  const fs::path dest(destination_);
  if (dest.filename().empty()) throw Error("output path '" + destination_ + "' names a folder, expected a file");
  std::error_code ec;
  if (fs::is_directory(dest, ec)) throw Error("output path '" + destination_ + "' is a folder, expected a file");
  const fs::path dir = dest.has_parent_path() ? dest.parent_path() : fs::path(".");
  temp_path_ = (dir / ("." + dest.filename().string() + ".tmp." + std::to_string(::getpid()))).string();
  const int fd = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw Error("cannot write output " + destination_ + ": " + errno_text() + " (while creating " + temp_path_ + ")");
  }
  ::close(fd);
}

TempFile::~TempFile() {
  if (!committed_) ::unlink(temp_path_.c_str());
}

void TempFile::commit() {
  fsync_path(temp_path_, O_RDONLY | O_CLOEXEC);
  if (::rename(temp_path_.c_str(), destination_.c_str()) != 0) {
    throw Error("cannot rename " + temp_path_ + " to " + destination_ + ": " + errno_text());
  }
  committed_ = true;
  const fs::path dir = fs::path(destination_).has_parent_path() ? fs::path(destination_).parent_path() : ".";
  fsync_path(dir.string(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

void write_file_atomically(const std::string& destination, const std::string& text) {
  TempFile file(destination);
  {
    std::ofstream out(file.path(), std::ios::trunc | std::ios::binary);
    out << text;
    if (!out.flush()) throw Error("cannot write output " + destination + ": " + errno_text());
  }
  file.commit();
}

std::vector<std::string> remove_stale_temp_files(const std::string& dir) {
  static const std::regex kTempName(R"(\..+\.tmp\.([0-9]+))");
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    std::smatch m;
    if (!entry.is_regular_file(ec) || !std::regex_match(name, m, kTempName)) continue;
    // A writer alive on this host (`evaluate` beside a restarting run, say) keeps its file.
    const long pid = std::strtol(m[1].str().c_str(), nullptr, 10);
    const bool a_pid = pid > 0 && pid <= std::numeric_limits<pid_t>::max();
    if (a_pid && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) continue;
    if (fs::remove(entry.path(), ec)) removed.push_back(name);
  }
  return removed;
}

}  // namespace poet
