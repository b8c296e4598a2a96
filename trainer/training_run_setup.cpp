// TrainingRun's set-up: threads and seed, the rank's shards, the model on every rank the same,
// resume, and the job summary with ranks.json.
#include <torch/autograd.h>
#include <torch/utils.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <thread>

#include "common/cpu_count.h"
#include "common/error.h"
#include "common/number_format.h"
#include "model/precision_choice.h"
#include "model/torch_threads.h"
#include "trainer/training_run.h"

namespace poet {

namespace {

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) throw Error("gethostname: " + std::string(std::strerror(errno)));
  return name;
}

// "HOST: 0 (local 0), 1 (local 1); HOST2: 2 (local 0), ...": the ranks of each host, hosts in
// the order of their first rank.
std::string describe_placement(const std::vector<std::string>& hosts, const std::vector<int64_t>& local_ranks) {
  std::vector<std::string> order;
  std::map<std::string, std::string> ranks_of;
  for (size_t r = 0; r < hosts.size(); ++r) {
    std::string& line = ranks_of[hosts[r]];
    if (line.empty()) order.push_back(hosts[r]);
    line += (line.empty() ? "" : ", ") + std::to_string(r) + " (local " + std::to_string(local_ranks[r]) + ")";
  }
  std::string text;
  for (const std::string& host : order) text += (text.empty() ? "" : "; ") + host + ": " + ranks_of[host];
  return text;
}

constexpr double kMiB = 1 << 20;

// Threads, the seed and anomaly mode, before anything draws a random number. Ranks that share a
// node and were not pinned by the launcher split its cores between them.
int configure_process(const TrainOptions& options, const TrainConfig& config, const Communicator& comm) {
  int cores = available_cores();
  if (cores == static_cast<int>(std::thread::hardware_concurrency())) cores = std::max(1, cores / comm.local_size());
  const int threads = configure_torch_threads(config.run.threads > 0 ? static_cast<int>(config.run.threads) : cores);
  torch::manual_seed(config.run.seed);
  if (options.debug) torch::autograd::AnomalyMode::set_enabled(true);
  return threads;
}

int64_t shard_count(const DatasetFile& dataset, Split split) {
  return static_cast<int64_t>(dataset.read_index(split).shard_offsets.size()) - 1;
}

// On its device before the optimizer and the gradient buckets are built from its parameters:
// Module::to() moves parameters but leaves gradients where they were.
PoetModel model_on(const torch::Device& device, int64_t vocab_size, const TrainConfig& config,
                   const Precision& precision) {
  PoetModel model(vocab_size, config.model);
  model->to(device);
  model->set_precision(precision);
  return model;
}

// Fails before anything is written when the split cannot fill one global batch.
BatchStream with_a_batch(BatchStream stream, const TrainConfig& config) {
  stream.require_a_batch(config.data.path, "lower data.batch_size or data.seq_len");
  return stream;
}

std::string device_name(int64_t gpu) { return gpu < 0 ? "cpu" : "cuda:" + std::to_string(gpu); }

// Refuses a checkpoint whose model shape or vocabulary differ from this run's, naming them.
void check_compatible(const LoadedCheckpoint& ckpt, const TrainConfig& config, uint64_t vocab_checksum) {
  const TrainConfig saved = parse_train_config(ckpt.meta().config_toml, ckpt.path());
  std::string differences;
  const auto compare = [&](const char* key, auto a, auto b) {
    if (a != b) {
      differences += std::string(differences.empty() ? "" : ", ") + key + " " + std::to_string(a) +
                     " (checkpoint) vs " + std::to_string(b) + " (this run)";
    }
  };
  compare("model.embed", saved.model.embed, config.model.embed);
  compare("model.hidden", saved.model.hidden, config.model.hidden);
  compare("model.layers", saved.model.layers, config.model.layers);
  compare("model.tie_weights", saved.model.tie_weights, config.model.tie_weights);
  compare("data.seq_len", saved.data.seq_len, config.data.seq_len);
  compare("data.batch_size", saved.data.batch_size, config.data.batch_size);
  if (ckpt.meta().vocab_checksum != vocab_checksum) {
    differences +=
        std::string(differences.empty() ? "" : ", ") + "the vocabulary (the checkpoint was trained on another dataset)";
  }
  if (!differences.empty()) throw Error(ckpt.path() + ": cannot resume: " + differences);
}

}  // namespace

TrainingRun::TrainingRun(const TrainOptions& options, const TrainConfig& config, Communicator& comm,
                         std::ostream& console)
    : options_(options),
      config_(config),
      comm_(comm),
      root_(comm.rank() == 0),
      out_(root_ ? console : silent_),
      threads_(configure_process(options, config, comm)),
      tokens_per_step_(config.data.batch_size * config.data.seq_len * config.optim.grad_accum),
      dataset_(config.data.path),
      script_(dataset_.attribute_json("options").value("script", "simplified")),
      train_data_(with_a_batch(BatchStream(dataset_, Split::kTrain, shards_of(Split::kTrain, comm.rank()),
                                           config.data.seq_len, config.data.batch_size, config.run.seed,
                                           /*shuffle=*/true),
                               config)),
      val_data_(dataset_, Split::kVal, shards_of(Split::kVal, comm.rank()), config.data.seq_len, config.data.batch_size,
                config.run.seed, /*shuffle=*/false),
      precision_(choose_precision(config.run.precision, comm.device())),
      model_(model_on(comm.device(), static_cast<int64_t>(dataset_.vocab().size()), config, precision_.precision)),
      optimizer_(model_->parameters(), torch::optim::AdamWOptions(config.optim.lr)
                                           .betas({config.optim.beta1, config.optim.beta2})
                                           .weight_decay(config.optim.weight_decay)),
      trace_(root_ && !options.trace_path.empty()
                 ? std::make_unique<ChromeTrace>(options.trace_path, "poet_dist rank 0")
                 : nullptr),
      reducer_(model_->parameters(), comm, static_cast<int64_t>(config.distributed.first_bucket_mb * kMiB),
               static_cast<int64_t>(config.distributed.bucket_mb * kMiB), trace_.get()),
      run_dir_(options.run_dir, root_, config.run.keep_checkpoints),
      progress_(out_, progress_style(options.progress)),
      best_val_loss_(std::numeric_limits<double>::infinity()) {
  check_same_model_on_every_rank();
  broadcast_weights();
  run_dir_.write_config(config.toml);
  resume();
  const Placement placement{comm_.all_gather(host_name()), comm_.all_gather(comm_.local_rank())};
  write_rank_summary(placement);
  print_summary(placement);
}

// Shard s belongs to rank s mod world: each rank reads only its own from the file.
std::vector<int64_t> TrainingRun::shards_of(Split split, int rank) const {
  const int64_t count = shard_count(dataset_, split);
  const int world = comm_.size();
  if (count < world) {
    throw Error(config_.data.path + ": " + std::to_string(count) + " shards for " + std::to_string(world) +
                " ranks (run prepare with --shards of at least the number of ranks)");
  }
  std::vector<int64_t> shards;
  for (int64_t s = rank; s < count; s += world) shards.push_back(s);
  return shards;
}

void TrainingRun::check_same_model_on_every_rank() {
  int64_t shape_hash = static_cast<int64_t>(dataset_.vocab().checksum() & 0x7fffffff);
  for (const auto& p : model_->parameters()) {
    for (int64_t d : p.sizes()) shape_hash = shape_hash * 1000003 + d;
  }
  const auto hashes = comm_.all_gather(shape_hash);
  for (size_t r = 0; r < hashes.size(); ++r) {
    if (hashes[r] != hashes[0]) {
      throw Error("rank " + std::to_string(r) + " built different parameter shapes or vocabulary from rank 0");
    }
  }
  // auto decides on each rank's own processor: ranks on unlike nodes could differ.
  const auto code = [](const Precision& p) {
    return static_cast<int64_t>(p.lstm) * 256 + static_cast<int64_t>(p.output);
  };
  const auto name = [](int64_t c) {
    return std::string("LSTM ") + c10::toString(static_cast<torch::ScalarType>(c / 256)) + ", output layer " +
           c10::toString(static_cast<torch::ScalarType>(c % 256));
  };
  const auto precisions = comm_.all_gather(code(precision_.precision));
  for (size_t r = 0; r < precisions.size(); ++r) {
    if (precisions[r] != precisions[0]) {
      throw Error("rank " + std::to_string(r) + " computes in " + name(precisions[r]) + ", rank 0 in " +
                  name(precisions[0]) + " (run.precision " + config_.run.precision +
                  " on unlike processors): set run.precision to fp32 or bf16");
    }
  }
}

// Every rank starts from rank 0's weights.
void TrainingRun::broadcast_weights() {
  torch::NoGradGuard no_grad;
  for (auto& p : model_->parameters()) {
    torch::Tensor data = p.detach();
    comm_.broadcast(data, 0);
  }
}

void TrainingRun::resume() {
  if (!options_.resume.empty()) {
    const std::vector<std::string> candidates =
        options_.resume == "auto" ? run_dir_.checkpoints() : std::vector<std::string>{options_.resume};
    for (const std::string& path : candidates) {
      std::unique_ptr<LoadedCheckpoint> ckpt;
      try {
        ckpt = std::make_unique<LoadedCheckpoint>(path);
      } catch (const Error& e) {
        if (options_.resume != "auto") throw;
        out_ << "warning: skipping checkpoint " << e.what() << "\n";
        continue;
      }
      check_compatible(*ckpt, config_, dataset_.vocab().checksum());
      ckpt->restore_model(model_);
      ckpt->restore_optimizer(optimizer_);
      const CheckpointMeta& meta = ckpt->meta();
      position_ = {meta.step, meta.epoch, meta.batch_in_epoch, meta.tokens_seen, meta.elapsed_seconds};
      resumed_from_ = path;
      break;
    }
    if (resumed_from_.empty()) {
      out_ << "no checkpoint to resume from in " << run_dir_.checkpoint_dir() << "; starting at step 0\n";
    }
    broadcast_weights();
    std::string warning;
    best_val_loss_ = run_dir_.best_val_loss(&warning);
    if (!warning.empty()) out_ << "warning: " << warning << "\n";
  }
  first_step_ = position_.step;
  run_dir_.open_logs(!resumed_from_.empty(), position_.step);
}

// ranks.json: where each rank ran, and what it read from the dataset, its own shards only (a
// test checks it).
void TrainingRun::write_rank_summary(const Placement& placement) {
  const int64_t tokens_read = train_data_.tokens_read() + val_data_.tokens_read();
  const auto reads = comm_.all_gather(tokens_read);
  nlohmann::json ranks = nlohmann::json::array();
  for (int r = 0; r < comm_.size(); ++r) {
    ranks.push_back({{"rank", r},
                     {"host", placement.hosts[static_cast<size_t>(r)]},
                     {"local_rank", placement.local_ranks[static_cast<size_t>(r)]},
                     {"train_shards", shards_of(Split::kTrain, r)},
                     {"val_shards", shards_of(Split::kVal, r)},
                     {"tokens_read", reads[static_cast<size_t>(r)]}});
  }
  run_dir_.write_ranks({{"world", comm_.size()}, {"ranks", ranks}});
  if (comm_.size() > 1) {
    out_ << "reads    each rank read its own shards: " << with_commas(reads[0]) << " tokens on rank 0, "
         << with_commas(*std::max_element(reads.begin(), reads.end())) << " at most (ranks.json)\n";
  } else {
    out_ << "reads    " << with_commas(reads[0]) << " tokens (ranks.json)\n";
  }
}

// One summary for the job: where every rank runs, gathered to rank 0.
void TrainingRun::print_summary(const Placement& placement) {
  const int world = comm_.size();
  const auto& local_ranks = placement.local_ranks;
  const auto gpus = comm_.all_gather(comm_.device().is_cuda() ? comm_.device().index() : -1);
  const auto nodes = std::count(local_ranks.begin(), local_ranks.end(), 0);
  std::string devices;
  for (int64_t gpu : gpus) devices += (devices.empty() ? "" : " ") + device_name(gpu);
  int64_t parameters = 0;
  for (const auto& p : model_->parameters()) parameters += p.numel();
  out_ << "poet_dist train: " << (options_.debug ? "debug mode, " : "") << world << (world == 1 ? " process" : " ranks")
       << " (" << comm_.backend() << ") on " << nodes << (nodes == 1 ? " node" : " nodes") << ", "
       << (comm_.device().is_cuda() ? "CUDA" : "CPU") << ", " << threads_ << (threads_ == 1 ? " thread" : " threads")
       << (world > 1 ? " each" : "") << "\n";
  out_ << "devices  " << devices << "\n";
  if (world > 1) out_ << "ranks    " << describe_placement(placement.hosts, local_ranks) << "\n";
  out_ << "data     " << config_.data.path << ": " << with_commas(train_data_.total_rows()) << " training rows of "
       << config_.data.seq_len << " (" << train_data_.batches_per_epoch() << " batches an epoch, 0% padding), "
       << with_commas(val_data_.total_rows()) << " validation rows, vocabulary " << dataset_.vocab().size() << "\n";
  out_ << "model    " << with_commas(parameters) << " parameters; " << with_commas(tokens_per_step_)
       << " tokens a step\n";
  out_ << "compute  " << model_->computed_dtypes().describe() << ", validation fp32\n";
  out_ << "         " << precision_.reason << "\n";
  out_ << "run      " << run_dir_.path().string()
       << (resumed_from_.empty() ? ""
                                 : ", resumed from " + resumed_from_ + " at step " + std::to_string(position_.step))
       << "\n";
  for (const std::string& removed : run_dir_.removed_temp_files()) {
    out_ << "run      removed " << removed << ", left by a writer that was stopped\n";
  }
  out_ << "---- effective config ----\n" << config_.toml << "--------------------------\n";
  if (world > 1) {
    std::string sizes;
    for (int64_t b : reducer_.bucket_bytes()) sizes += (sizes.empty() ? "" : ", ") + with_commas(b);
    out_ << "buckets  " << reducer_.bucket_count() << " gradient buckets of " << sizes << " bytes\n";
  }
  out_ << std::flush;
}

}  // namespace poet
