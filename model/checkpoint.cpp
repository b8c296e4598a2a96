// Checkpoint writing, verification and loading.
#include "model/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "common/error.h"
#include "common/temp_file.h"

namespace poet {

namespace {

constexpr char kMagic[8] = {'P', 'O', 'E', 'T', 'C', 'K', 'P', 'T'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderBytes = sizeof(kMagic) + sizeof(uint32_t) + 2 * sizeof(uint64_t);

void write_value(torch::serialize::OutputArchive& a, const char* key, c10::IValue v) { a.write(key, v); }

c10::IValue read_value(torch::serialize::InputArchive& a, const char* key) {
  c10::IValue v;
  a.read(key, v);
  return v;
}

}  // namespace

void save_checkpoint(const std::string& path, PoetModel& model, const torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta) {
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive model_archive;
  model->save(model_archive);
  archive.write("model", model_archive);
  if (optimizer != nullptr) {
    torch::serialize::OutputArchive optimizer_archive;
    optimizer->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
  }
  write_value(archive, "step", meta.step);
  write_value(archive, "epoch", meta.epoch);
  write_value(archive, "batch_in_epoch", meta.batch_in_epoch);
  write_value(archive, "tokens_seen", meta.tokens_seen);
  write_value(archive, "val_loss", meta.val_loss);
  write_value(archive, "elapsed_seconds", meta.elapsed_seconds);
  write_value(archive, "config_toml", meta.config_toml);
  write_value(archive, "script", meta.script);
  write_value(archive, "vocab_tokens", c10::List<std::string>(meta.vocab_tokens));
  write_value(archive, "vocab_checksum", static_cast<int64_t>(meta.vocab_checksum));
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("rng_state", generator.get_state(), /*is_buffer=*/true);
  }
  std::ostringstream payload_stream;
  archive.save_to(payload_stream);
  const std::string payload = payload_stream.str();

  TempFile file(path);
  {
    std::ofstream out(file.path(), std::ios::binary | std::ios::trunc);
    const uint64_t checksum = XXH64(payload.data(), payload.size(), 0);
    const uint64_t length = payload.size();
    out.write(kMagic, sizeof(kMagic));
    out.write(reinterpret_cast<const char*>(&kFormatVersion), sizeof(kFormatVersion));
    out.write(reinterpret_cast<const char*>(&checksum), sizeof(checksum));
    out.write(reinterpret_cast<const char*>(&length), sizeof(length));
    out.write(payload.data(), static_cast<std::streamsize>(payload.size()));
    out.flush();
    if (!out) throw Error("cannot write checkpoint " + file.path() + " (disk full?)");
  }
  file.commit();
}

LoadedCheckpoint::LoadedCheckpoint(const std::string& path) : path_(path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open checkpoint");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    throw Error(path + ": not a poet_dist checkpoint (bad header)");
  }
  uint32_t version = 0;
  uint64_t checksum = 0;
  uint64_t length = 0;
  std::memcpy(&version, bytes.data() + 8, sizeof(version));
  std::memcpy(&checksum, bytes.data() + 12, sizeof(checksum));
  std::memcpy(&length, bytes.data() + 20, sizeof(length));
  if (version != kFormatVersion) {
    throw Error(path + ": checkpoint format " + std::to_string(version) + ", this build reads " +
                std::to_string(kFormatVersion));
  }
  if (bytes.size() - kHeaderBytes != length) {
    throw Error(path + ": checkpoint is truncated (" + std::to_string(bytes.size() - kHeaderBytes) + " of " +
                std::to_string(length) + " payload bytes)");
  }
  if (XXH64(bytes.data() + kHeaderBytes, length, 0) != checksum) {
    throw Error(path + ": checkpoint checksum does not match: the file is corrupt");
  }
  try {
    std::istringstream payload(bytes.substr(kHeaderBytes));
    archive_.load_from(payload);
    meta_.step = read_value(archive_, "step").toInt();
    meta_.epoch = read_value(archive_, "epoch").toInt();
    meta_.batch_in_epoch = read_value(archive_, "batch_in_epoch").toInt();
    meta_.tokens_seen = read_value(archive_, "tokens_seen").toInt();
    meta_.val_loss = read_value(archive_, "val_loss").toDouble();
    meta_.elapsed_seconds = read_value(archive_, "elapsed_seconds").toDouble();
    meta_.config_toml = read_value(archive_, "config_toml").toStringRef();
    meta_.script = read_value(archive_, "script").toStringRef();
    for (const auto& t : read_value(archive_, "vocab_tokens").toListRef())
      meta_.vocab_tokens.push_back(t.toStringRef());
    meta_.vocab_checksum = static_cast<uint64_t>(read_value(archive_, "vocab_checksum").toInt());
  } catch (const c10::Error& e) {
    throw Error(path + ": checkpoint lacks an entry: " + e.what_without_backtrace());
  }
}

void LoadedCheckpoint::restore_model(PoetModel& model) {
  try {
    torch::serialize::InputArchive model_archive;
    archive_.read("model", model_archive);
    model->load(model_archive);
  } catch (const c10::Error& e) {
    throw Error(path_ + ": model weights do not fit: " + e.what_without_backtrace());
  }
}

void LoadedCheckpoint::restore_optimizer(torch::optim::Optimizer& optimizer) {
  try {
    torch::serialize::InputArchive optimizer_archive;
    archive_.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
  } catch (const c10::Error& e) {
    throw Error(path_ + ": optimizer state does not fit: " + e.what_without_backtrace());
  }
}

void LoadedCheckpoint::restore_rng() {
  torch::Tensor state;
  archive_.read("rng_state", state, /*is_buffer=*/true);
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

std::vector<std::string> list_checkpoints(const std::string& dir) {
  static const std::regex kName(R"(ckpt-(\d+)\.pt)");
  std::vector<std::pair<long long, std::string>> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, m, kName)) found.emplace_back(std::stoll(m[1].str()), entry.path().string());
  }
  std::sort(found.rbegin(), found.rend());
  std::vector<std::string> paths;
  for (auto& f : found) paths.push_back(std::move(f.second));
  return paths;
}

}  // namespace poet
