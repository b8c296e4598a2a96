// Atomic file creation: write under a temporary name in the destination's folder, then
// flush and rename into place. Until commit() the destination is untouched, and the
// temporary file is removed if the writer fails or is interrupted.
#pragma once

#include <string>
#include <vector>

namespace poet {

class TempFile {
 public:
  // Creates the temporary file now, so an unwritable destination fails before any work.
  explicit TempFile(std::string destination);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const { return temp_path_; }
  const std::string& destination() const { return destination_; }

  // fsyncs the temporary file, renames it over the destination and fsyncs the folder.
  void commit();

 private:
  std::string destination_;
  std::string temp_path_;
  bool committed_ = false;
};

// Writes `text` to `destination` through a TempFile: readers see the old file or the new one.
void write_file_atomically(const std::string& destination, const std::string& text);

// Removes the temporary files (".NAME.tmp.PID") that a killed writer left in `dir`, and returns
// their names. A file whose PID is alive on this host is kept; one of a writer alive on another
// host sharing the folder is not told apart, so call this only where no other host writes.
std::vector<std::string> remove_stale_temp_files(const std::string& dir);

}  // namespace poet
