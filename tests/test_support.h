// Helpers shared by the tests: scratch folders, corpus fixtures written as JSON, and running
// the real poet_dist binary with its exit code and output captured.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace poet::test {

// A fresh folder under the system temp dir, removed when the object dies.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

void write_text(const std::filesystem::path& path, const std::string& text);
std::string read_text(const std::filesystem::path& path);

// {"id", "paragraphs"} and, when given, the matching {"id", "strains"} entry.
nlohmann::json poem(const std::string& id, const std::vector<std::string>& lines);
nlohmann::json strain(const std::string& id, const std::vector<std::string>& lines);

// Writes `poems` (and `strains`, if not empty) as a chinese-poetry clone under `root`.
void write_clone(const std::filesystem::path& root, const nlohmann::json& poems,
                 const nlohmann::json& strains = nlohmann::json::array());

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a shell command, or the poet_dist binary with `args` (already shell-quoted where needed).
CommandResult run_command(const std::string& command);
CommandResult run_poet(const std::string& args);

// A shell command run in the background (as `exec COMMAND` in its own process group, output to
// files), for tests that act on a running job. Killed with its group if still running at the end.
class BackgroundCommand {
 public:
  explicit BackgroundCommand(const std::string& shell_command);
  ~BackgroundCommand();
  BackgroundCommand(const BackgroundCommand&) = delete;
  BackgroundCommand& operator=(const BackgroundCommand&) = delete;

  pid_t pid() const { return pid_; }
  // The exit code (128 + signal if killed) once it ends within `seconds`; -1 if it did not.
  int wait(double seconds);
  std::string out() const { return read_text(dir_.path() / "stdout"); }
  std::string err() const { return read_text(dir_.path() / "stderr"); }

 private:
  ScratchDir dir_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// The processes whose parent is `parent` and whose environment holds `entry` ("NAME=value").
std::vector<pid_t> children_with_environment(pid_t parent, const std::string& entry);

// Polls `condition` every 50 ms for up to `seconds`; returns its last value.
bool eventually(double seconds, const std::function<bool()>& condition);

// The message of the poet::Error `call` throws; "(no error)" when it throws none.
std::string error_of(const std::function<void()>& call);

// Where the real corpus is: $POET_DATA, else ../shared/data/chinese-poetry beside the
// source tree; "" when neither exists.
std::string real_corpus_dir();
// The 平水韵's pingshui.json: $POET_PINGSHUI (the file or its folder), else
// ../shared/data/pingshui beside the source tree; "" when neither exists.
std::string real_pingshui_file();

// The real corpus `corpus` prepared into DIR/tang.h5 (with the 平水韵 when it is at hand, never
// prepare's own lookup, which goes by the working directory) and configs/tiny.toml trained on it
// for 20 steps into DIR/run. "" when both succeed, else what failed and its stderr.
std::string prepare_and_train_tiny(const ScratchDir& dir, const std::string& corpus);

// Whether $`variable` is "1": CI (scripts/test.sh) sets POET_REQUIRE_CORPUS and
// POET_REQUIRE_CHROMIUM, so that a test lacking what it needs fails there instead of skipping.
bool required(const char* variable);

// Skips the test for lack of something (`why`), or fails it when $`variable` is 1.
#define POET_SKIP_UNLESS_REQUIRED(variable, why)                                                  \
  do {                                                                                            \
    if (::poet::test::required(variable)) FAIL() << why << "; and " << variable << "=1 requires it"; \
    GTEST_SKIP() << why;                                                                          \
  } while (0)

}  // namespace poet::test

namespace poet::test {

// Writes a dataset of `poems` synthetic five-character quatrains (traditional script, all in
// train unless val_fraction > 0) to `path`, through the real prepare pipeline, from a corpus it
// leaves beside it in fixture-corpus/.
void write_fixture_dataset(const std::string& path, int poems, double val_fraction = 0.0, int shards = 4);

}  // namespace poet::test
