// Test helpers: scratch folders, fixtures, and running the binary.
#include "test_support.h"

#include "common/error.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace poet::test {

namespace fs = std::filesystem;

ScratchDir::ScratchDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("poet_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
  fs::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

nlohmann::json poem(const std::string& id, const std::vector<std::string>& lines) {
  return {{"author", "佚名"}, {"title", "無題"}, {"id", id}, {"paragraphs", lines}};
}

nlohmann::json strain(const std::string& id, const std::vector<std::string>& lines) {
  return {{"id", id}, {"strains", lines}};
}

void write_clone(const fs::path& root, const nlohmann::json& poems, const nlohmann::json& strains) {
  write_text(root / "全唐诗" / "poet.tang.0.json", poems.dump(2));
  if (!strains.empty()) write_text(root / "strains" / "json" / "poet.tang.0.json", strains.dump(2));
}

CommandResult run_poet(const std::string& args) { return run_command(std::string(POET_BINARY) + " " + args); }

CommandResult run_command(const std::string& shell_command) {
  ScratchDir dir;
  const std::string out = dir / "stdout";
  const std::string err = dir / "stderr";
  const std::string command = shell_command + " >" + out + " 2>" + err;
  const int status = std::system(command.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_text(out);
  result.err = read_text(err);
  return result;
}

BackgroundCommand::BackgroundCommand(const std::string& shell_command) {
  const std::string command = "exec " + shell_command + " >" + (dir_ / "stdout") + " 2>" + (dir_ / "stderr");
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
}

BackgroundCommand::~BackgroundCommand() {
  if (pid_ > 0 && exit_code_ < 0) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

int BackgroundCommand::wait(double seconds) {
  if (exit_code_ >= 0) return exit_code_;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  do {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  return -1;
}

std::vector<pid_t> children_with_environment(pid_t parent, const std::string& entry) {
  std::vector<pid_t> found;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream status(e.path() / "status");
    pid_t ppid = -1;
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("PPid:", 0) == 0) ppid = static_cast<pid_t>(std::stol(line.substr(5)));
    }
    if (ppid != parent) continue;
    const std::string environment = read_text(e.path() / "environ");
    size_t at = 0;
    while (at < environment.size()) {
      const size_t end = environment.find('\0', at);
      if (environment.compare(at, (end == std::string::npos ? environment.size() : end) - at, entry) == 0) {
        found.push_back(static_cast<pid_t>(std::stol(name)));
        break;
      }
      if (end == std::string::npos) break;
      at = end + 1;
    }
  }
  return found;
}

bool required(const char* variable) {
  const char* value = std::getenv(variable);
  return value != nullptr && std::string(value) == "1";
}

bool eventually(double seconds, const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string real_corpus_dir() {
  if (const char* env = std::getenv("POET_DATA"); env != nullptr && fs::is_directory(env)) return env;
  const fs::path shared = fs::path(POET_SOURCE_DIR) / ".." / "shared" / "data" / "chinese-poetry";
  return fs::is_directory(shared) ? fs::canonical(shared).string() : "";
}

std::string prepare_and_train_tiny(const ScratchDir& dir, const std::string& corpus) {
  const auto prepared = run_poet("prepare --input " + corpus + " --output " + (dir / "tang.h5") + " --pingshui '" +
                                 real_pingshui_file() + "'");
  if (prepared.exit_code != 0) return "prepare failed: " + prepared.err;
  const auto trained = run_poet("train --config " + std::string(POET_SOURCE_DIR) + "/configs/tiny.toml --data " +
                                (dir / "tang.h5") + " --run-dir " + (dir / "run") + " --set run.steps=20");
  if (trained.exit_code != 0) return "train failed: " + trained.err;
  return "";
}

std::string real_pingshui_file() {
  fs::path path = fs::path(POET_SOURCE_DIR) / ".." / "shared" / "data" / "pingshui";
  if (const char* env = std::getenv("POET_PINGSHUI"); env != nullptr && *env != '\0') path = env;
  if (fs::is_directory(path)) path /= "pingshui.json";
  return fs::is_regular_file(path) ? fs::canonical(path).string() : "";
}

}  // namespace poet::test

#include <sstream>

#include "common/utf8.h"
#include "data/prepare.h"

namespace poet::test {

void write_fixture_dataset(const std::string& path, int poems, double val_fraction, int shards) {
  static const std::u32string kChars = U"春夏秋冬山水風月花鳥雲雨江河日夜天地人心";
  const auto line = [](int n) {
    std::u32string text;
    for (int k = 0; k < 5; ++k, n /= 7) text.push_back(kChars[static_cast<size_t>((n * 3 + k) % 20)]);
    return utf8_encode(text);
  };
  nlohmann::json entries = nlohmann::json::array();
  for (int i = 0; i < poems; ++i) {
    entries.push_back(poem("fixture-" + std::to_string(i),
                           {line(i) + "，" + line(i + 11) + "。", line(i + 23) + "，" + line(i + 37) + "。"}));
  }
  const fs::path corpus = fs::path(path).parent_path() / "fixture-corpus";
  write_clone(corpus, entries);
  PrepareOptions o;
  o.input = corpus.string();
  o.output = path;
  o.script = Script::kTraditional;
  o.val_fraction = val_fraction;
  o.min_count = 1;
  o.shards = shards;
  o.threads = 1;
  std::ostringstream log;
  prepare_dataset(o, log);
}

}  // namespace poet::test
