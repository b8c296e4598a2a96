// Checkpoint writing, verification and loading.
#include "model/checkpoint.h"

#include <c10/util/StringUtil.h>
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

// Reads `archive`'s tensors into `module`'s parameters and buffers, recursively, by copying:
// the tensors keep their device, dtype and storage, so the optimizer's and the gradient buckets'
// references stay valid. (Module::load would instead re-point them at the archive's tensors,
// and so onto whatever device the checkpoint was written from.)
void copy_into(torch::nn::Module& module, torch::serialize::InputArchive& archive, const std::string& prefix) {
  torch::NoGradGuard no_grad;
  const auto copy = [&](const std::string& key, torch::Tensor& target, bool is_buffer) {
    torch::Tensor saved;
    if (!archive.try_read(key, saved, is_buffer)) throw Error("no " + prefix + key);
    if (saved.sizes() != target.sizes()) {
      throw Error(prefix + key + " is " + c10::str(saved.sizes()) + " in the checkpoint and " +
                  c10::str(target.sizes()) + " in this model");
    }
    target.copy_(saved);
  };
  for (auto& p : module.named_parameters(/*recurse=*/false)) copy(p.key(), p.value(), false);
  for (auto& b : module.named_buffers(/*recurse=*/false)) copy(b.key(), b.value(), true);
  for (const auto& child : module.named_children()) {
    torch::serialize::InputArchive child_archive;
    if (!archive.try_read(child.key(), child_archive)) throw Error("no " + prefix + child.key());
    copy_into(*child.value(), child_archive, prefix + child.key() + ".");
  }
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
    // Onto the CPU whatever device wrote it; restore_* copy into the model where it lives.
    std::istringstream payload(bytes.substr(kHeaderBytes));
    archive_.load_from(payload, torch::Device(torch::kCPU));
  } catch (const c10::Error& e) {
    throw Error(path + ": cannot read the checkpoint's archive: " + e.what_without_backtrace());
  }
  try {
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
    copy_into(*model, model_archive, "");
  } catch (const std::exception& e) {
    throw Error(path_ + ": model weights do not fit: " + e.what());
  }
}

void LoadedCheckpoint::restore_optimizer(torch::optim::AdamW& optimizer) {
  try {
    torch::serialize::InputArchive optimizer_archive;
    archive_.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
  } catch (const c10::Error& e) {
    throw Error(path_ + ": optimizer state does not fit: " + e.what_without_backtrace());
  }
  // The state was read onto the CPU: the moments take the parameters' device and dtype, as
  // PyTorch's load_state_dict does. A model lives on one device, and the state's keys changed type
  // between LibTorch versions, so it is not looked up parameter by parameter.
  const torch::TensorOptions where = optimizer.param_groups().front().params().front().options();
  for (auto& entry : optimizer.state()) {
    auto& state = static_cast<torch::optim::AdamWParamState&>(*entry.second);
    state.exp_avg(state.exp_avg().to(where));
    state.exp_avg_sq(state.exp_avg_sq().to(where));
    if (state.max_exp_avg_sq().defined()) state.max_exp_avg_sq(state.max_exp_avg_sq().to(where));
  }
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
