// The training configuration: one struct per concern (data, model, optimizer, run, distributed), filled in
// one place from built-in defaults, a TOML file, then `--set section.key=value` overrides.
// Unknown keys and values of the wrong type are errors that name the key, so a typo never
// trains silently with a default.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace poet {

struct DataConfig {
  std::string path;         // the dataset from `poet_dist prepare`
  int64_t seq_len = 64;     // characters per training row
  int64_t batch_size = 32;  // rows per global batch (one optimizer step, before accumulation)
};

struct ModelConfig {
  int64_t embed = 128;
  int64_t hidden = 256;
  int64_t layers = 2;
  double dropout = 0.1;
  bool tie_weights = false;  // share the embedding with the output layer (needs embed == hidden)
};

struct OptimConfig {
  double lr = 3e-3;
  double min_lr_ratio = 0.1;  // cosine decay ends at lr * min_lr_ratio
  int64_t warmup_steps = 100;
  double weight_decay = 0.01;
  double beta1 = 0.9;
  double beta2 = 0.99;
  double grad_clip = 1.0;  // global gradient norm; 0 turns clipping off
  int64_t grad_accum = 1;  // micro-batches per step
  int64_t max_nonfinite_steps = 0;  // steps with a NaN/inf loss skipped before the run fails
};

struct RunConfig {
  int64_t steps = 1000;
  uint64_t seed = 1234;
  int64_t log_every = 10;
  int64_t eval_every = 200;  // 0: only at the end
  int64_t eval_batches = 0;  // 0: the whole validation split
  int64_t sample_every = 200;
  int64_t checkpoint_every = 500;
  int64_t keep_checkpoints = 3;
  int64_t threads = 0;  // 0: the cores available to the process
  std::string device = "auto";  // auto, cpu or cuda
  std::string precision = "auto";  // auto (bf16 autocast on CUDA, fp32 on CPU), fp32 or bf16
};

struct DistributedConfig {
  double first_bucket_mb = 1;  // gradient buckets, as PyTorch DDP's bucket_cap_mb
  double bucket_mb = 25;
  double collective_timeout_s = 300;  // a collective waiting longer ends the job
  double stall_warning_s = 60;        // ... and one waiting this long names the ranks not arrived
};

struct TrainConfig {
  DataConfig data;
  ModelConfig model;
  OptimConfig optim;
  RunConfig run;
  DistributedConfig distributed;
  std::string toml;  // the effective configuration, as TOML
};

// Defaults, then `file` (may be empty), then each "section.key=value" of `overrides`.
// Throws poet::Error naming the file or override, the key and what was expected.
TrainConfig load_train_config(const std::string& file, const std::vector<std::string>& overrides);

// Parses effective TOML text as saved in a run directory or a checkpoint.
TrainConfig parse_train_config(const std::string& toml_text, const std::string& origin);

}  // namespace poet
