// load_train_config(): TOML merging with strict keys and types, then the structs.
#include "trainer/train_config.h"

#include <sstream>

#include <toml++/toml.h>

#include "common/error.h"

namespace poet {

namespace {

// Every key poet_dist knows, with its default and so its type.
constexpr const char* kDefaults = R"(
[data]
path = ""
seq_len = 64
batch_size = 32

[model]
embed = 128
hidden = 256
layers = 2
dropout = 0.1
tie_weights = false

[optim]
lr = 3e-3
min_lr_ratio = 0.1
warmup_steps = 100
weight_decay = 0.01
beta1 = 0.9
beta2 = 0.99
grad_clip = 1.0
grad_accum = 1
max_nonfinite_steps = 0

[run]
steps = 1000
seed = 1234
log_every = 10
eval_every = 200
eval_batches = 0
sample_every = 200
checkpoint_every = 500
keep_checkpoints = 3
threads = 0
device = "auto"
precision = "auto"

[distributed]
first_bucket_mb = 1.0
bucket_mb = 25.0
collective_timeout_s = 300.0
stall_warning_s = 60.0
)";

const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "true or false";
    case toml::node_type::table: return "a table";
    default: return "another type";
  }
}

// Sets `key` in `section` of `config` to `value`, refusing unknown keys and other types (an
// integer is accepted where a number is expected).
void assign(toml::table& config, const std::string& section, const std::string& key, const toml::node& value,
            const std::string& origin) {
  const std::string name = section + "." + key;
  toml::table* target = config[section].as_table();
  if (target == nullptr) throw Error(origin + ": unknown section [" + section + "]");
  toml::node* current = target->get(key);
  if (current == nullptr) throw Error(origin + ": unknown key " + name);
  if (current->type() == toml::node_type::floating_point && value.type() == toml::node_type::integer) {
    target->insert_or_assign(key, static_cast<double>(*value.value<int64_t>()));
    return;
  }
  if (current->type() != value.type()) {
    throw Error(origin + ": " + name + " is " + type_name(value.type()) + ", expected " + type_name(current->type()));
  }
  value.visit([&](const auto& v) { target->insert_or_assign(key, v); });
}

void merge(toml::table& config, const toml::table& user, const std::string& origin) {
  for (const auto& [section, node] : user) {
    const toml::table* entries = node.as_table();
    if (entries == nullptr) throw Error(origin + ": " + std::string(section.str()) + " must be a [section]");
    for (const auto& [key, value] : *entries) assign(config, std::string(section.str()), std::string(key.str()), value, origin);
  }
}

toml::table parse_toml(const std::string& text, const std::string& origin) {
  try {
    return toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    throw Error(origin + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
}

template <typename T>
T get(const toml::table& config, const char* path) {
  return *config.at_path(path).value<T>();
}

void require(bool ok, const std::string& origin, const std::string& what) {
  if (!ok) throw Error(origin + ": " + what);
}

TrainConfig from_table(const toml::table& t, const std::string& origin) {
  TrainConfig c;
  c.data.path = get<std::string>(t, "data.path");
  c.data.seq_len = get<int64_t>(t, "data.seq_len");
  c.data.batch_size = get<int64_t>(t, "data.batch_size");
  c.model.embed = get<int64_t>(t, "model.embed");
  c.model.hidden = get<int64_t>(t, "model.hidden");
  c.model.layers = get<int64_t>(t, "model.layers");
  c.model.dropout = get<double>(t, "model.dropout");
  c.model.tie_weights = get<bool>(t, "model.tie_weights");
  c.optim.lr = get<double>(t, "optim.lr");
  c.optim.min_lr_ratio = get<double>(t, "optim.min_lr_ratio");
  c.optim.warmup_steps = get<int64_t>(t, "optim.warmup_steps");
  c.optim.weight_decay = get<double>(t, "optim.weight_decay");
  c.optim.beta1 = get<double>(t, "optim.beta1");
  c.optim.beta2 = get<double>(t, "optim.beta2");
  c.optim.grad_clip = get<double>(t, "optim.grad_clip");
  c.optim.grad_accum = get<int64_t>(t, "optim.grad_accum");
  c.optim.max_nonfinite_steps = get<int64_t>(t, "optim.max_nonfinite_steps");
  c.run.steps = get<int64_t>(t, "run.steps");
  c.run.seed = static_cast<uint64_t>(get<int64_t>(t, "run.seed"));
  c.run.log_every = get<int64_t>(t, "run.log_every");
  c.run.eval_every = get<int64_t>(t, "run.eval_every");
  c.run.eval_batches = get<int64_t>(t, "run.eval_batches");
  c.run.sample_every = get<int64_t>(t, "run.sample_every");
  c.run.checkpoint_every = get<int64_t>(t, "run.checkpoint_every");
  c.run.keep_checkpoints = get<int64_t>(t, "run.keep_checkpoints");
  c.run.threads = get<int64_t>(t, "run.threads");
  c.run.device = get<std::string>(t, "run.device");
  c.run.precision = get<std::string>(t, "run.precision");
  c.distributed.first_bucket_mb = get<double>(t, "distributed.first_bucket_mb");
  c.distributed.bucket_mb = get<double>(t, "distributed.bucket_mb");
  c.distributed.collective_timeout_s = get<double>(t, "distributed.collective_timeout_s");
  c.distributed.stall_warning_s = get<double>(t, "distributed.stall_warning_s");

  require(c.data.seq_len >= 2, origin, "data.seq_len must be at least 2");
  require(c.data.batch_size >= 1, origin, "data.batch_size must be at least 1");
  require(c.model.embed >= 1 && c.model.hidden >= 1 && c.model.layers >= 1, origin,
          "model.embed, model.hidden and model.layers must be positive");
  require(c.model.dropout >= 0 && c.model.dropout < 1, origin, "model.dropout must be in [0, 1)");
  require(!c.model.tie_weights || c.model.embed == c.model.hidden, origin,
          "model.tie_weights needs model.embed == model.hidden (" + std::to_string(c.model.embed) + " != " +
              std::to_string(c.model.hidden) + ")");
  require(c.optim.lr > 0, origin, "optim.lr must be positive");
  require(c.optim.min_lr_ratio >= 0 && c.optim.min_lr_ratio <= 1, origin, "optim.min_lr_ratio must be in [0, 1]");
  require(c.optim.warmup_steps >= 0, origin, "optim.warmup_steps must be >= 0");
  require(c.optim.grad_clip >= 0, origin, "optim.grad_clip must be >= 0");
  require(c.optim.grad_accum >= 1, origin, "optim.grad_accum must be at least 1");
  require(c.optim.max_nonfinite_steps >= 0, origin, "optim.max_nonfinite_steps must be >= 0");
  require(c.run.steps >= 1, origin, "run.steps must be at least 1");
  require(c.run.log_every >= 1, origin, "run.log_every must be at least 1");
  require(c.run.eval_every >= 0 && c.run.sample_every >= 0 && c.run.checkpoint_every >= 0, origin,
          "run.eval_every, run.sample_every and run.checkpoint_every must be >= 0");
  require(c.run.keep_checkpoints >= 1, origin, "run.keep_checkpoints must be at least 1");
  require(c.run.threads >= 0, origin, "run.threads must be >= 0");
  require(c.run.device == "auto" || c.run.device == "cpu" || c.run.device == "cuda", origin,
          "run.device is '" + c.run.device + "', expected auto, cpu or cuda");
  require(c.run.precision == "auto" || c.run.precision == "fp32" || c.run.precision == "bf16", origin,
          "run.precision is '" + c.run.precision + "', expected auto, fp32 or bf16");
  require(c.distributed.first_bucket_mb > 0 && c.distributed.bucket_mb > 0, origin,
          "distributed.first_bucket_mb and distributed.bucket_mb must be positive");
  require(c.distributed.collective_timeout_s > 0 && c.distributed.stall_warning_s > 0, origin,
          "distributed.collective_timeout_s and distributed.stall_warning_s must be positive");
  std::ostringstream text;
  text << t;
  c.toml = text.str() + "\n";
  return c;
}

}  // namespace

TrainConfig load_train_config(const std::string& file, const std::vector<std::string>& overrides) {
  toml::table config = parse_toml(kDefaults, "defaults");
  if (!file.empty()) {
    try {
      merge(config, toml::parse_file(file), file);
    } catch (const toml::parse_error& e) {
      throw Error(file + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
    }
  }
  for (const std::string& o : overrides) {
    const size_t eq = o.find('=');
    const size_t dot = o.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
      throw Error("--set " + o + ": expected section.key=value, e.g. model.hidden=512");
    }
    const std::string section = o.substr(0, dot);
    const std::string key = o.substr(dot + 1, eq - dot - 1);
    std::string value = o.substr(eq + 1);
    // A bare word is taken as a string, so `--set run.device=cpu` needs no quotes.
    toml::table parsed;
    try {
      parsed = toml::parse("v = " + value);
    } catch (const toml::parse_error&) {
      parsed = parse_toml("v = \"" + value + "\"", "--set " + o);
    }
    assign(config, section, key, *parsed.get("v"), "--set " + o);
  }
  return from_table(config, file.empty() ? "config" : file);
}

TrainConfig parse_train_config(const std::string& toml_text, const std::string& origin) {
  toml::table config = parse_toml(kDefaults, "defaults");
  merge(config, parse_toml(toml_text, origin), origin);
  return from_table(config, origin);
}

}  // namespace poet
