// The training configuration: one struct per concern (data, model, optimizer, run, distributed), filled in
// one place from built-in defaults, a TOML file, then `--set section.key=value` overrides.
// Unknown keys and values of the wrong type are errors that name the key, so a typo never
// trains silently with a default.
//
// Each key is declared once: its type and default by its member's initializer below (so a
// section built in code, as the tests do, holds the defaults), its name and help line by its row
// in kKeys (train_config.cpp). Parsing, checking, the command-line help of the flags that set a
// key, and the effective TOML, help lines included as comments, all come from those two.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace poet {

struct DataConfig {
  std::string path;
  int64_t seq_len = 64;
  int64_t batch_size = 32;
};

struct ModelConfig {
  int64_t embed = 128;
  int64_t hidden = 256;
  int64_t layers = 2;
  double dropout = 0.1;
  bool tie_weights = false;
};

struct OptimConfig {
  double lr = 3e-3;
  double min_lr_ratio = 0.1;
  int64_t warmup_steps = 100;
  double weight_decay = 0.01;
  double beta1 = 0.9;
  double beta2 = 0.99;
  double grad_clip = 1.0;
  int64_t grad_accum = 1;
  int64_t max_nonfinite_steps = 0;
};

struct RunConfig {
  int64_t steps = 1000;
  uint64_t seed = 1234;
  int64_t log_every = 10;
  int64_t eval_every = 200;
  int64_t eval_batches = 0;
  int64_t sample_every = 200;
  int64_t checkpoint_every = 500;
  int64_t keep_checkpoints = 3;
  int64_t threads = 0;
  std::string device = "auto";
  std::string precision = "auto";
};

struct DistributedConfig {
  double first_bucket_mb = 1;  // PyTorch DDP's defaults
  double bucket_mb = 25;
  double collective_timeout_s = 300;
  double stall_warning_s = 60;
  std::string progress_thread = "auto";  // on, off, or auto (mpi_progress.h)
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

// The help of a command-line flag that sets the key `name` ("distributed.stall_warning_s"): the
// key's help line, its default and its name. Throws poet::Error for an unknown key.
std::string config_key_help(std::string_view name);

// A float as TOML text, in the shortest form that reads back as the same double (0.1, not
// 0.10000000000000001), with ".0" when that form would read as an integer.
std::string toml_float(double value);

}  // namespace poet
