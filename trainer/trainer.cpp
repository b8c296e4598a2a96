// train(): set-up, the step, evaluation, sampling, checkpoints and logging.
#include "trainer/trainer.h"

#include <torch/autograd.h>
#include <torch/cuda.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adamw.h>
#include <torch/utils.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/chrome_trace.h"
#include "common/cpu_count.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/utf8.h"
#include "data/dataset_file.h"
#include "data/prepare_report.h"
#include "data/verse_rules.h"
#include "trainer/batch_stream.h"
#include "trainer/checkpoint.h"
#include "trainer/gradient_reducer.h"
#include "trainer/poet_model.h"
#include "trainer/sampler.h"
#include "trainer/torch_threads.h"
#include "trainer/train_step.h"

namespace poet {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// Sizes for --debug when no config file is given; a file's own values win over these.
const std::vector<std::string> kDebugDefaults = {
    "data.seq_len=32",      "data.batch_size=8", "model.embed=64",       "model.hidden=128",
    "model.layers=1",       "run.steps=100",     "run.eval_every=50",    "run.sample_every=50",
    "run.checkpoint_every=50"};

// --trace records the first steps of the run: enough to see the pattern, and a small file.
constexpr int64_t kTracedSteps = 20;

double learning_rate(const OptimConfig& o, int64_t step, int64_t total_steps) {
  if (step < o.warmup_steps) return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  const double span = static_cast<double>(std::max<int64_t>(1, total_steps - o.warmup_steps));
  const double progress = std::min(1.0, static_cast<double>(step - o.warmup_steps) / span);
  const double floor = o.lr * o.min_lr_ratio;
  return floor + (o.lr - floor) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

std::string format_duration(double seconds) {
  char text[32];
  const auto s = static_cast<long>(seconds);
  if (s >= 3600) {
    std::snprintf(text, sizeof(text), "%ldh%02ldm", s / 3600, (s / 60) % 60);
  } else {
    std::snprintf(text, sizeof(text), "%ldm%02lds", s / 60, s % 60);
  }
  return text;
}

// Refuses a checkpoint whose model shape or vocabulary differ from this run's, naming them.
void check_compatible(const LoadedCheckpoint& ckpt, const TrainConfig& config, uint64_t vocab_checksum) {
  const TrainConfig saved = parse_train_config(ckpt.meta().config_toml, ckpt.path());
  std::string differences;
  const auto compare = [&](const char* key, auto a, auto b) {
    if (a != b) {
      differences += std::string(differences.empty() ? "" : ", ") + key + " " + std::to_string(a) + " (checkpoint) vs " +
                     std::to_string(b) + " (this run)";
    }
  };
  compare("model.embed", saved.model.embed, config.model.embed);
  compare("model.hidden", saved.model.hidden, config.model.hidden);
  compare("model.layers", saved.model.layers, config.model.layers);
  compare("model.tie_weights", saved.model.tie_weights, config.model.tie_weights);
  compare("data.seq_len", saved.data.seq_len, config.data.seq_len);
  compare("data.batch_size", saved.data.batch_size, config.data.batch_size);
  if (ckpt.meta().vocab_checksum != vocab_checksum) {
    differences += std::string(differences.empty() ? "" : ", ") +
                   "the vocabulary (the checkpoint was trained on another dataset)";
  }
  if (!differences.empty()) throw Error(ckpt.path() + ": cannot resume: " + differences);
}

// Keeps the metrics of steps up to `step`: a resumed run rewrites what came after.
void truncate_metrics(const fs::path& path, int64_t step) {
  std::ifstream in(path);
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded() && j.value("step", int64_t{0}) <= step) kept += line + "\n";
  }
  in.close();
  std::ofstream(path, std::ios::trunc) << kept;
}

class ProgressLine {
 public:
  explicit ProgressLine(std::ostream& out) : out_(out), tty_(::isatty(STDOUT_FILENO) == 1) {}
  // On a terminal, one line redrawn with a bar; in a log, one plain line each time.
  void update(const std::string& line, double fraction) {
    if (tty_) {
      constexpr int kWidth = 24;
      std::string bar(static_cast<size_t>(kWidth * std::clamp(fraction, 0.0, 1.0)), '#');
      bar.resize(kWidth, '.');
      out_ << "\r\033[K[" << bar << "] " << line << std::flush;
    } else {
      out_ << line << "\n" << std::flush;
    }
  }
  // A line that stays (evaluation, samples): clears the bar first.
  std::ostream& message() {
    if (tty_) out_ << "\r\033[K";
    return out_;
  }

 private:
  std::ostream& out_;
  bool tty_;
};

}  // namespace

TrainResult train(const TrainOptions& options, Communicator* comm, std::ostream& console) {
  const int world = comm != nullptr ? comm->size() : 1;
  const int rank = comm != nullptr ? comm->rank() : 0;
  const bool root = rank == 0;
  std::ostream silent(nullptr);
  std::ostream& out = root ? console : silent;

  // ---------------------------------------------------------------------------
  // Configuration, device, threads, data
  std::vector<std::string> overrides;
  if (options.debug) {
    if (options.config_file.empty()) overrides = kDebugDefaults;
    overrides.push_back("run.log_every=1");
  }
  overrides.insert(overrides.end(), options.overrides.begin(), options.overrides.end());
  // Absolute, so that sample, evaluate and report find the dataset from any folder later.
  if (!options.data.empty()) overrides.push_back("data.path=\"" + fs::absolute(options.data).string() + "\"");
  const TrainConfig config = load_train_config(options.config_file, overrides);
  if (config.data.path.empty()) throw Error("no dataset: give --data FILE (written by poet_dist prepare)");
  if (options.run_dir.empty()) throw Error("no run directory: give --run-dir DIR");

  const bool cuda = config.run.device == "cuda" || (config.run.device == "auto" && torch::cuda::is_available());
  if (cuda && !torch::cuda::is_available()) throw Error("run.device is cuda, but LibTorch sees no CUDA device");
  // Ranks on a node take its GPUs in turn: local rank r uses GPU r mod (GPUs visible).
  const int gpu = cuda && comm != nullptr ? comm->local_rank() % static_cast<int>(torch::cuda::device_count()) : 0;
  const torch::Device device = cuda ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(gpu))
                                    : torch::Device(torch::kCPU);
  const bool bf16 = cuda ? config.run.precision != "fp32" : config.run.precision == "bf16";
  if (bf16 && !cuda) throw Error("run.precision bf16 needs a CUDA device (bf16 autocast runs on the GPU)");
  if (comm != nullptr) {
    comm->set_timeouts({config.distributed.stall_warning_s, config.distributed.collective_timeout_s});
  }
  // Ranks that share a node and were not pinned by the launcher split its cores between them.
  int cores = available_cores();
  if (comm != nullptr && cores == static_cast<int>(std::thread::hardware_concurrency())) {
    cores = std::max(1, cores / comm->local_size());
  }
  const int threads = configure_torch_threads(config.run.threads > 0 ? static_cast<int>(config.run.threads) : cores);
  torch::manual_seed(config.run.seed);
  if (options.debug) torch::autograd::AnomalyMode::set_enabled(true);

  const DatasetFile dataset(config.data.path);
  const Vocabulary& vocab = dataset.vocab();
  const std::string script = dataset.attribute_json("options").value("script", "simplified");
  // Shard s belongs to rank s mod world: each rank reads only its own from the file.
  const int64_t shard_counts[2] = {static_cast<int64_t>(dataset.read_index(Split::kTrain).shard_offsets.size()) - 1,
                                   static_cast<int64_t>(dataset.read_index(Split::kVal).shard_offsets.size()) - 1};
  const auto shards_of = [&](Split split, int owner) {
    const int64_t count = shard_counts[split == Split::kTrain ? 0 : 1];
    if (count < world) {
      throw Error(config.data.path + ": " + std::to_string(count) + " shards for " + std::to_string(world) +
                  " ranks (run prepare with --shards of at least the number of ranks)");
    }
    std::vector<int64_t> shards;
    for (int64_t s = owner; s < count; s += world) shards.push_back(s);
    return shards;
  };
  BatchStream train_data(dataset, Split::kTrain, shards_of(Split::kTrain, rank), config.data.seq_len,
                         config.data.batch_size, config.run.seed, /*shuffle=*/true);
  if (train_data.batches_per_epoch() == 0) {
    throw Error(config.data.path + ": the training split makes " + std::to_string(train_data.total_rows()) +
                " rows of " + std::to_string(config.data.seq_len) + " characters, fewer than one batch of " +
                std::to_string(config.data.batch_size) + " (lower data.batch_size or data.seq_len)");
  }
  BatchStream val_data(dataset, Split::kVal, shards_of(Split::kVal, rank), config.data.seq_len, config.data.batch_size,
                       config.run.seed, /*shuffle=*/false);

  // ---------------------------------------------------------------------------
  // Model, optimizer, run directory, resume
  PoetModel model(static_cast<int64_t>(vocab.size()), config.model);
  model->to(device);
  // Every rank starts from rank 0's weights, after checking all ranks built the same shapes.
  const auto synchronise_weights = [&]() {
    if (comm == nullptr) return;
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) {
      torch::Tensor data = p.detach();
      comm->broadcast(data, 0);
    }
  };
  if (comm != nullptr) {
    int64_t shape_hash = static_cast<int64_t>(vocab.checksum() & 0x7fffffff);
    for (const auto& p : model->parameters()) {
      for (int64_t d : p.sizes()) shape_hash = shape_hash * 1000003 + d;
    }
    const auto hashes = comm->all_gather(shape_hash);
    for (int r = 0; r < world; ++r) {
      if (hashes[static_cast<size_t>(r)] != hashes[0]) {
        throw Error("rank " + std::to_string(r) + " built different parameter shapes or vocabulary from rank 0");
      }
    }
  }
  synchronise_weights();
  std::unique_ptr<ChromeTrace> trace;
  if (root && !options.trace_path.empty()) trace = std::make_unique<ChromeTrace>(options.trace_path, "poet_dist rank 0");
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(config.optim.lr)
                                                         .betas({config.optim.beta1, config.optim.beta2})
                                                         .weight_decay(config.optim.weight_decay));
  const fs::path run_dir(options.run_dir);
  const fs::path checkpoint_dir = run_dir / "checkpoints";
  if (root) {
    fs::create_directories(checkpoint_dir);
    std::ofstream(run_dir / "config.toml", std::ios::trunc) << config.toml;
  }

  int64_t step = 0;
  int64_t epoch = 0;
  int64_t batch_index = 0;
  int64_t tokens_seen = 0;
  double elapsed_before = 0;
  double best_val = std::numeric_limits<double>::infinity();
  std::string resumed_from;
  if (!options.resume.empty()) {
    std::vector<std::string> candidates =
        options.resume == "auto" ? list_checkpoints(checkpoint_dir.string()) : std::vector<std::string>{options.resume};
    for (const std::string& path : candidates) {
      std::unique_ptr<LoadedCheckpoint> ckpt;
      try {
        ckpt = std::make_unique<LoadedCheckpoint>(path);
      } catch (const Error& e) {
        if (options.resume != "auto") throw;
        out << "warning: skipping checkpoint " << e.what() << "\n";
        continue;
      }
      check_compatible(*ckpt, config, vocab.checksum());
      ckpt->restore_model(model);
      ckpt->restore_optimizer(optimizer);
      ckpt->restore_rng();
      step = ckpt->meta().step;
      epoch = ckpt->meta().epoch;
      batch_index = ckpt->meta().batch_in_epoch;
      tokens_seen = ckpt->meta().tokens_seen;
      elapsed_before = ckpt->meta().elapsed_seconds;
      resumed_from = path;
      break;
    }
    if (resumed_from.empty()) out << "no checkpoint to resume from in " << checkpoint_dir.string() << "; starting at step 0\n";
    synchronise_weights();
    try {
      if (fs::exists(checkpoint_dir / "best.pt")) best_val = LoadedCheckpoint((checkpoint_dir / "best.pt").string()).meta().val_loss;
    } catch (const Error& e) {
      out << "warning: ignoring best.pt: " << e.what() << "\n";
    }
  }
  const fs::path metrics_path = run_dir / "metrics.jsonl";
  std::ofstream metrics;
  std::ofstream samples;
  if (root) {
    if (resumed_from.empty()) {
      std::ofstream(metrics_path, std::ios::trunc);
    } else {
      truncate_metrics(metrics_path, step);
    }
    metrics.open(metrics_path, std::ios::app);
    samples.open(run_dir / "samples.txt", resumed_from.empty() ? std::ios::trunc : std::ios::app);
  }

  int64_t parameters = 0;
  for (const auto& p : model->parameters()) parameters += p.numel();
  const int64_t tokens_per_step = config.data.batch_size * config.data.seq_len * config.optim.grad_accum;
  // One summary for the job: where every rank runs, gathered to rank 0.
  int nodes = 1;
  std::string devices = cuda ? "cuda:" + std::to_string(gpu) : "cpu";
  if (comm != nullptr) {
    const auto local_ranks = comm->all_gather(comm->local_rank());
    const auto gpus = comm->all_gather(cuda ? gpu : -1);
    nodes = static_cast<int>(std::count(local_ranks.begin(), local_ranks.end(), 0));
    devices.clear();
    for (size_t r = 0; r < gpus.size(); ++r) {
      devices += (r == 0 ? "" : " ") + (gpus[r] < 0 ? std::string("cpu") : "cuda:" + std::to_string(gpus[r]));
    }
  }
  out << "poet_dist train: " << (options.debug ? "debug mode, " : "") << world << (world == 1 ? " process" : " ranks")
      << (comm != nullptr ? std::string(" (") + comm->backend() + ")" : std::string()) << " on " << nodes
      << (nodes == 1 ? " node" : " nodes") << ", " << (cuda ? "CUDA" : "CPU") << (bf16 ? " bf16 autocast" : "") << ", "
      << threads << (threads == 1 ? " thread" : " threads") << (world > 1 ? " each" : "") << "\n";
  out << "devices  " << devices << "\n";
  // What each rank read from the dataset: its own shards only (ranks.json; a test checks it).
  const int64_t tokens_read = train_data.tokens_read() + val_data.tokens_read();
  const auto reads = comm != nullptr ? comm->all_gather(tokens_read) : std::vector<int64_t>{tokens_read};
  if (root) {
    nlohmann::json ranks = nlohmann::json::array();
    for (int r = 0; r < world; ++r) {
      ranks.push_back({{"rank", r},
                       {"train_shards", shards_of(Split::kTrain, r)},
                       {"val_shards", shards_of(Split::kVal, r)},
                       {"tokens_read", reads[static_cast<size_t>(r)]}});
    }
    std::ofstream(run_dir / "ranks.json", std::ios::trunc) << nlohmann::json({{"world", world}, {"ranks", ranks}}).dump(1) << "\n";
    if (world > 1) {
      out << "reads    each rank read its own shards: " << with_commas(reads[0]) << " tokens on rank 0, "
          << with_commas(*std::max_element(reads.begin(), reads.end())) << " at most (ranks.json)\n";
    } else {
      out << "reads    " << with_commas(reads[0]) << " tokens (ranks.json)\n";
    }
  }
  out << "data     " << config.data.path << ": " << with_commas(train_data.total_rows()) << " training rows of "
      << config.data.seq_len << " (" << train_data.batches_per_epoch() << " batches an epoch, 0% padding), "
      << with_commas(val_data.total_rows()) << " validation rows, vocabulary " << vocab.size() << "\n";
  out << "model    " << with_commas(parameters) << " parameters; " << with_commas(tokens_per_step)
      << " tokens a step\n";
  out << "run      " << run_dir.string() << (resumed_from.empty() ? "" : ", resumed from " + resumed_from + " at step " + std::to_string(step)) << "\n";
  out << "---- effective config ----\n" << config.toml << "--------------------------\n" << std::flush;

  // ---------------------------------------------------------------------------
  // Evaluation and sampling
  const auto evaluate = [&]() {
    const int64_t rows = config.run.eval_batches > 0
                             ? std::min(val_data.total_rows(), config.run.eval_batches * config.data.batch_size)
                             : val_data.total_rows();
    auto [loss_sum, targets] = summed_loss(model, val_data, rows, config.data.batch_size, device);
    model->train();
    // Each rank measured its own shards' rows; the loss is the mean over all of them.
    if (comm != nullptr) {
      torch::Tensor totals = torch::tensor({loss_sum, static_cast<double>(targets)}, torch::kFloat64).to(
          cuda ? device : torch::Device(torch::kCPU));
      comm->all_reduce_sum(totals);
      totals = totals.cpu();
      loss_sum = totals[0].item<double>();
      targets = static_cast<int64_t>(totals[1].item<double>());
    }
    return targets > 0 ? loss_sum / static_cast<double>(targets) : std::numeric_limits<double>::quiet_NaN();
  };
  ProgressLine progress(out);
  std::unique_ptr<VerseRules> verse_rules;
  const auto write_samples = [&](int64_t at_step) {
    for (PoemForm form : {PoemForm::kWujue, PoemForm::kFree}) {
      // Rank 0's samples follow the tone patterns; rhyme groups and the copy check would need
      // the whole training split, which no rank reads while training (`sample` applies them).
      if (!verse_rules) verse_rules = std::make_unique<VerseRules>(load_tone_rules(dataset));
      SampleOptions so;
      so.rules = verse_rules.get();
      so.avoid_copies = false;
      so.form = form;
      so.seed = static_cast<uint64_t>(at_step);
      so.max_chars = 120;
      const std::string text = utf8_encode(sample_poem(model, vocab, so).text);
      model->train();
      progress.message() << "sample   step " << at_step << " [" << form_label(form) << "] " << text << "\n";
      samples << "step " << at_step << " [" << form_label(form) << "] " << text << "\n" << std::flush;
    }
  };
  const auto checkpoint_meta = [&](double val_loss) {
    CheckpointMeta meta;
    meta.step = step;
    meta.epoch = epoch;
    meta.batch_in_epoch = batch_index;
    meta.tokens_seen = tokens_seen;
    meta.val_loss = val_loss;
    meta.config_toml = config.toml;
    meta.script = script;
    meta.vocab_tokens = vocab.tokens();
    meta.vocab_checksum = vocab.checksum();
    return meta;
  };
  const auto save = [&](const fs::path& path, double val_loss, double elapsed) {
    CheckpointMeta meta = checkpoint_meta(val_loss);
    meta.elapsed_seconds = elapsed;
    save_checkpoint(path.string(), model, &optimizer, meta);
  };
  const auto save_numbered = [&](double val_loss, double elapsed) {
    char name[32];
    std::snprintf(name, sizeof(name), "ckpt-%08lld.pt", static_cast<long long>(step));
    save(checkpoint_dir / name, val_loss, elapsed);
    const auto all = list_checkpoints(checkpoint_dir.string());
    for (size_t i = static_cast<size_t>(config.run.keep_checkpoints); i < all.size(); ++i) fs::remove(all[i]);
  };

  // ---------------------------------------------------------------------------
  // The loop
  std::unique_ptr<GradientReducer> reducer;
  if (comm != nullptr) {
    constexpr double kMiB = 1 << 20;
    reducer = std::make_unique<GradientReducer>(
        model->parameters(), *comm, static_cast<int64_t>(config.distributed.first_bucket_mb * kMiB),
        static_cast<int64_t>(config.distributed.bucket_mb * kMiB), trace.get());
    std::string sizes;
    for (int64_t b : reducer->bucket_bytes()) sizes += (sizes.empty() ? "" : ", ") + with_commas(b);
    out << "buckets  " << reducer->bucket_count() << " gradient buckets of " << sizes << " bytes\n" << std::flush;
  }
  model->train();
  TrainResult result;
  result.step = step;
  result.last_val_loss = std::numeric_limits<double>::quiet_NaN();
  const auto start = Clock::now();
  auto interval_start = start;
  int64_t interval_tokens = 0;
  const int64_t first_step = step;
  int64_t nonfinite_steps = 0;
  while (step < config.run.steps) {
    const auto step_start = Clock::now();
    const bool trace_step = trace && step - first_step < kTracedSteps;
    const double lr = learning_rate(config.optim, step, config.run.steps);
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    clear_gradients(model);
    double loss_value = 0;
    for (int64_t micro = 0; micro < config.optim.grad_accum; ++micro) {
      const Batch batch = options.overfit_batch ? train_data.batch(0, 0) : train_data.batch(epoch, batch_index);
      if (!options.overfit_batch && ++batch_index == train_data.batches_per_epoch()) {
        batch_index = 0;
        ++epoch;
      }
      if (batch.inputs.size(0) == 0) continue;  // none of this global batch's rows are this rank's
      if (reducer) reducer->prepare_backward(micro == config.optim.grad_accum - 1);
      loss_value += forward_backward(model, batch, device,
                                     static_cast<double>(batch.global_targets * config.optim.grad_accum), bf16,
                                     trace_step ? trace.get() : nullptr);
    }
    bool stop_requested = interrupted();
    // Preemption: the configured signal, or TERM, asks for a requeue after the checkpoint.
    bool requeue_requested = options.requeue_signal != 0 && (interrupt_signal() == options.requeue_signal ||
                                                             interrupt_signal() == SIGTERM);
    double comm_seconds = 0;
    if (comm != nullptr) {
      const auto comm_start = Clock::now();
      reducer->finish();
      // The step's loss, and whether any rank was signalled: all ranks stop at the same step.
      torch::Tensor shared =
          torch::tensor({loss_value, stop_requested ? 1.0 : 0.0, requeue_requested ? 1.0 : 0.0}, torch::kFloat64)
              .to(cuda ? device : torch::Device(torch::kCPU));
      comm->all_reduce_sum(shared);
      shared = shared.cpu();
      loss_value = shared[0].item<double>();
      stop_requested = shared[1].item<double>() > 0;
      requeue_requested = shared[2].item<double>() > 0;
      comm_seconds = std::chrono::duration<double>(Clock::now() - comm_start).count();
    }
    const double grad_norm = clip_gradients(model, config.optim.grad_clip);
    // Every rank sees the same summed loss, so all skip the same steps.
    if (!std::isfinite(loss_value) || !std::isfinite(grad_norm)) {
      if (++nonfinite_steps > config.optim.max_nonfinite_steps) {
        throw Error("the loss is " + std::to_string(loss_value) + " at step " + std::to_string(step + 1) + " (" +
                    std::to_string(nonfinite_steps) + " such steps; optim.max_nonfinite_steps allows " +
                    std::to_string(config.optim.max_nonfinite_steps) + "; lower optim.lr or check the data)");
      }
      progress.message() << "warning: step " << step + 1 << " has a non-finite loss or gradient; skipped ("
                         << nonfinite_steps << " of " << config.optim.max_nonfinite_steps << " allowed)\n";
    } else {
      TraceScope span(trace_step ? trace.get() : nullptr, "compute", "optimizer step");
      optimizer.step();
    }
    ++step;
    tokens_seen += tokens_per_step;
    interval_tokens += tokens_per_step;
    result.step = step;
    result.last_loss = loss_value;

    const auto now = Clock::now();
    const double step_seconds = std::chrono::duration<double>(now - step_start).count();
    if (trace_step) {
      trace->span("steps", "step " + std::to_string(step), step_start, now,
                  "{\"comm_wait_s\":" + std::to_string(comm_seconds) + "}");
    }
    const double elapsed = elapsed_before + std::chrono::duration<double>(now - start).count();
    const bool log_now = step % config.run.log_every == 0 || step == config.run.steps;
    const bool eval_now = step == config.run.steps || (config.run.eval_every > 0 && step % config.run.eval_every == 0);
    const double val_loss = eval_now ? evaluate() : std::numeric_limits<double>::quiet_NaN();
    nlohmann::json record = {{"step", step}, {"epoch", epoch},           {"loss", loss_value},
                             {"lr", lr},     {"grad_norm", grad_norm},   {"tokens", tokens_seen},
                             {"tokens_per_s", static_cast<double>(tokens_per_step) / step_seconds},
                             {"elapsed_s", elapsed},
                             {"comm_s", comm_seconds}};
    if (eval_now && !std::isnan(val_loss)) {
      record["val_loss"] = val_loss;
      record["val_ppl"] = std::exp(val_loss);
      result.last_val_loss = val_loss;
    }
    if (root) metrics << record.dump() << "\n" << std::flush;

    if (log_now) {
      const double interval = std::chrono::duration<double>(now - interval_start).count();
      const double tokens_per_s = static_cast<double>(interval_tokens) / std::max(interval, 1e-9);
      const double seconds_per_step = std::chrono::duration<double>(now - start).count() /
                                      static_cast<double>(step - first_step);
      char line[256];
      std::snprintf(line, sizeof(line), "step %lld/%lld  loss %.4f  lr %.2e  |g| %.2f  %s tok/s  ETA %s",
                    static_cast<long long>(step), static_cast<long long>(config.run.steps), loss_value, lr, grad_norm,
                    with_commas(static_cast<long long>(tokens_per_s)).c_str(),
                    format_duration(seconds_per_step * static_cast<double>(config.run.steps - step)).c_str());
      progress.update(line, static_cast<double>(step) / static_cast<double>(config.run.steps));
      interval_start = now;
      interval_tokens = 0;
    }
    if (eval_now && val_loss < best_val) {
      best_val = val_loss;
      if (root) save(checkpoint_dir / "best.pt", val_loss, elapsed);
    }
    if (eval_now && !std::isnan(val_loss)) {
      char line[128];
      std::snprintf(line, sizeof(line), "eval     step %lld  val loss %.4f  val perplexity %.2f\n",
                    static_cast<long long>(step), val_loss, std::exp(val_loss));
      progress.message() << line << std::flush;
    }
    if (root && (step == config.run.steps || (config.run.sample_every > 0 && step % config.run.sample_every == 0))) {
      write_samples(step);
    }
    if (options.overfit_batch && loss_value < kOverfitLoss) {
      progress.message() << "overfit  loss " << loss_value << " < " << kOverfitLoss << " after " << step
                         << " steps\n";
      break;
    }
    const bool stop_here = options.stop_after_steps > 0 && step - first_step >= options.stop_after_steps;
    result.interrupted = stop_requested;
    result.requeue = stop_requested && requeue_requested;
    if (root && (step == config.run.steps || stop_here || result.interrupted ||
                 (config.run.checkpoint_every > 0 && step % config.run.checkpoint_every == 0))) {
      save_numbered(val_loss, elapsed);
    }
    if (stop_here || result.interrupted) break;
  }
  if (trace) {
    trace->close();
    out << "trace    " << options.trace_path << " (open in https://ui.perfetto.dev)\n";
  }
  if (result.step == first_step) {
    progress.message() << "done     nothing to train: the run is at step " << result.step << " of " << config.run.steps
                       << ", run directory " << run_dir.string() << "\n";
  } else {
    progress.message() << "done     step " << result.step << ", loss " << result.last_loss << ", run directory "
                       << run_dir.string() << "\n";
  }
  return result;
}

}  // namespace poet
