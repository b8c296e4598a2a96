// RunDirectory: atomic writes of the small files, appends to the logs, checkpoint rotation.
#include "trainer/run_directory.h"

#include <cstdio>
#include <limits>

#include "common/error.h"
#include "common/temp_file.h"

namespace poet {

namespace fs = std::filesystem;

namespace {

// Keeps the metrics of steps up to `step`: a resumed run rewrites what came after.
void truncate_metrics(const fs::path& path, int64_t step) {
  std::ifstream in(path);
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded() && j.value("step", int64_t{0}) <= step) kept += line + "\n";
  }
  in.close();
  write_file_atomically(path.string(), kept);
}

}  // namespace

RunDirectory::RunDirectory(const std::string& path, bool writer, int64_t keep_checkpoints)
    : path_(path), writer_(writer), keep_checkpoints_(keep_checkpoints) {
  if (!writer_) return;
  fs::create_directories(checkpoint_dir());
  for (const fs::path& dir : {path_, fs::path(checkpoint_dir())}) {
    for (const std::string& name : remove_stale_temp_files(dir.string())) removed_.push_back((dir / name).string());
  }
}

void RunDirectory::write_config(const std::string& toml) const {
  if (writer_) write_file_atomically((path_ / "config.toml").string(), toml);
}

void RunDirectory::write_ranks(const nlohmann::json& ranks) const {
  if (writer_) write_file_atomically((path_ / "ranks.json").string(), ranks.dump(1) + "\n");
}

void RunDirectory::open_logs(bool resumed, int64_t resumed_step) {
  if (!writer_) return;
  const fs::path metrics = path_ / "metrics.jsonl";
  if (resumed) {
    truncate_metrics(metrics, resumed_step);
  } else {
    write_file_atomically(metrics.string(), "");
  }
  metrics_.open(metrics, std::ios::app);
  samples_.open(path_ / "samples.txt", resumed ? std::ios::app : std::ios::trunc);
  if (!metrics_ || !samples_) throw Error(path_.string() + ": cannot write metrics.jsonl or samples.txt");
}

void RunDirectory::append_metrics(const nlohmann::json& record) {
  if (writer_) metrics_ << record.dump() << "\n" << std::flush;
}

void RunDirectory::append_sample(const std::string& line) {
  if (writer_) samples_ << line << "\n" << std::flush;
}

std::vector<std::string> RunDirectory::checkpoints() const { return list_checkpoints(checkpoint_dir()); }

double RunDirectory::best_val_loss(std::string* warning) const {
  const fs::path best = fs::path(checkpoint_dir()) / "best.pt";
  if (!fs::exists(best)) return std::numeric_limits<double>::infinity();
  try {
    return LoadedCheckpoint(best.string()).meta().val_loss;
  } catch (const Error& e) {
    *warning = std::string("ignoring best.pt: ") + e.what();
    return std::numeric_limits<double>::infinity();
  }
}

void RunDirectory::save_numbered(PoetModel& model, const torch::optim::Optimizer& optimizer,
                                 const CheckpointMeta& meta) const {
  if (!writer_) return;
  char name[32];
  std::snprintf(name, sizeof(name), "ckpt-%08lld.pt", static_cast<long long>(meta.step));
  save_checkpoint((fs::path(checkpoint_dir()) / name).string(), model, &optimizer, meta);
  const auto all = checkpoints();
  for (size_t i = static_cast<size_t>(keep_checkpoints_); i < all.size(); ++i) fs::remove(all[i]);
}

void RunDirectory::save_best(PoetModel& model, const torch::optim::Optimizer& optimizer,
                             const CheckpointMeta& meta) const {
  if (writer_) save_checkpoint((fs::path(checkpoint_dir()) / "best.pt").string(), model, &optimizer, meta);
}

}  // namespace poet
