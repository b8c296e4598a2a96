// The configuration keys, in one table (kKeys), and all that is built from it: strict TOML
// merging into TrainConfig, the checks on the values, and the effective TOML.
#include "config/train_config.h"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <sstream>
#include <type_traits>
#include <variant>

#include <toml++/toml.h>

#include "common/error.h"

namespace poet {

namespace {

// ---------------------------------------------------------------------------------------------
// The keys

// A key's value as TOML types it. run.seed, a uint64_t, is a TOML integer.
using Value = std::variant<int64_t, double, bool, std::string>;

// One key: its "section.key" name, its help line, and where it lives in TrainConfig. Its type and
// default are those of that member in a default TrainConfig.
struct Key {
  std::string_view name;
  std::string_view help;
  Value (*read)(const TrainConfig&);
  void (*write)(TrainConfig&, const Value&);

  std::string_view section() const { return name.substr(0, name.find('.')); }
  std::string_view bare_name() const { return name.substr(name.find('.') + 1); }  // "seq_len"
  Value default_value() const { return read(TrainConfig{}); }
};

// The key stored at config.*kSection.*kMember.
template <auto kSection, auto kMember>
constexpr Key key(std::string_view name, std::string_view help) {
  using Member = std::decay_t<decltype(std::declval<TrainConfig&>().*kSection.*kMember)>;
  using Stored = std::conditional_t<std::is_same_v<Member, uint64_t>, int64_t, Member>;
  return {name, help, [](const TrainConfig& c) -> Value { return static_cast<Stored>(c.*kSection.*kMember); },
          [](TrainConfig& c, const Value& v) { c.*kSection.*kMember = static_cast<Member>(std::get<Stored>(v)); }};
}

// Every key poet_dist knows, in the order the effective TOML lists them.
constexpr Key kKeys[] = {
    key<&TrainConfig::data, &DataConfig::path>("data.path", "Dataset written by `poet_dist prepare`"),
    key<&TrainConfig::data, &DataConfig::seq_len>("data.seq_len", "Characters per training row"),
    key<&TrainConfig::data, &DataConfig::batch_size>("data.batch_size",
                                                     "Rows per global batch (one optimizer step, before accumulation)"),

    key<&TrainConfig::model, &ModelConfig::embed>("model.embed", "Width of the character embedding"),
    key<&TrainConfig::model, &ModelConfig::hidden>("model.hidden", "Width of the LSTM's hidden state"),
    key<&TrainConfig::model, &ModelConfig::layers>("model.layers", "Stacked LSTM layers"),
    key<&TrainConfig::model, &ModelConfig::dropout>("model.dropout",
                                                    "Dropout on the embedding, between LSTM layers and on the output"),
    key<&TrainConfig::model, &ModelConfig::tie_weights>(
        "model.tie_weights", "Share the embedding with the output layer (needs embed == hidden)"),

    key<&TrainConfig::optim, &OptimConfig::lr>("optim.lr", "AdamW's learning rate after warmup"),
    key<&TrainConfig::optim, &OptimConfig::min_lr_ratio>("optim.min_lr_ratio",
                                                         "Cosine decay ends at lr * min_lr_ratio"),
    key<&TrainConfig::optim, &OptimConfig::warmup_steps>("optim.warmup_steps", "Steps of linear warmup to lr"),
    key<&TrainConfig::optim, &OptimConfig::weight_decay>("optim.weight_decay", "AdamW's weight decay"),
    key<&TrainConfig::optim, &OptimConfig::beta1>("optim.beta1", "AdamW's beta1"),
    key<&TrainConfig::optim, &OptimConfig::beta2>("optim.beta2", "AdamW's beta2"),
    key<&TrainConfig::optim, &OptimConfig::grad_clip>("optim.grad_clip",
                                                      "Largest global gradient norm; 0 turns clipping off"),
    key<&TrainConfig::optim, &OptimConfig::grad_accum>("optim.grad_accum", "Micro-batches per step"),
    key<&TrainConfig::optim, &OptimConfig::max_nonfinite_steps>(
        "optim.max_nonfinite_steps", "Steps with a NaN/inf loss skipped before the run fails"),

    key<&TrainConfig::run, &RunConfig::steps>("run.steps", "Optimizer steps"),
    key<&TrainConfig::run, &RunConfig::seed>("run.seed", "Seed of the initial weights and the batch order"),
    key<&TrainConfig::run, &RunConfig::log_every>("run.log_every", "Steps between log lines"),
    key<&TrainConfig::run, &RunConfig::eval_every>("run.eval_every", "Steps between validations (0: only at the end)"),
    key<&TrainConfig::run, &RunConfig::eval_batches>("run.eval_batches",
                                                     "Batches a validation reads (0: the whole validation split)"),
    key<&TrainConfig::run, &RunConfig::sample_every>("run.sample_every", "Steps between samples (0: only at the end)"),
    key<&TrainConfig::run, &RunConfig::checkpoint_every>("run.checkpoint_every",
                                                         "Steps between checkpoints (0: only at the end)"),
    key<&TrainConfig::run, &RunConfig::keep_checkpoints>("run.keep_checkpoints", "Newest checkpoints kept"),
    key<&TrainConfig::run, &RunConfig::threads>("run.threads",
                                                "Worker threads (0: the cores available to the process)"),
    key<&TrainConfig::run, &RunConfig::device>("run.device", "auto (CUDA when a device is visible), cpu or cuda"),
    key<&TrainConfig::run, &RunConfig::precision>(
        "run.precision",
        "auto (bf16 on CUDA and on CPUs with native bf16 units, else fp32), fp32, or bf16 (the output "
        "layer, and on the CPU the LSTM, compute in bf16; weights, softmax, loss and validation stay fp32)"),

    key<&TrainConfig::distributed, &DistributedConfig::first_bucket_mb>(
        "distributed.first_bucket_mb", "MiB of the first gradient bucket, small so communication starts early"),
    key<&TrainConfig::distributed, &DistributedConfig::bucket_mb>(
        "distributed.bucket_mb", "MiB of each later gradient bucket, as PyTorch DDP's bucket_cap_mb"),
    key<&TrainConfig::distributed, &DistributedConfig::collective_timeout_s>(
        "distributed.collective_timeout_s", "Seconds a collective may wait before the job is ended"),
    key<&TrainConfig::distributed, &DistributedConfig::stall_warning_s>(
        "distributed.stall_warning_s", "Seconds a collective waits before the ranks not arrived are named"),
    key<&TrainConfig::distributed, &DistributedConfig::progress_thread>(
        "distributed.progress_thread",
        "on, off or auto: a thread that moves MPI's gradient all-reduces along during backward; auto where it has a "
        "core of its own (on CUDA, or run.threads x ranks on the node below the cores)"),
};

const Key* find_key(std::string_view name) {
  for (const Key& k : kKeys) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

bool known_section(std::string_view section) {
  for (const Key& k : kKeys) {
    if (k.section() == section) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Reading TOML

const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "true or false";
    case toml::node_type::table:
      return "a table";
    default:
      return "another type";
  }
}

// `node` as a value of the key `k`, refusing other types (an integer is accepted where a number is
// expected).
Value convert(const Key& k, const toml::node& node, const std::string& origin) {
  return std::visit(
      [&](const auto& expected) -> Value {
        using T = std::decay_t<decltype(expected)>;
        if (const auto* v = node.as<T>()) return v->get();
        if constexpr (std::is_same_v<T, double>) {
          if (const auto* i = node.as_integer()) return static_cast<double>(i->get());
        }
        throw Error(origin + ": " + std::string(k.name) + " is " + type_name(node.type()) + ", expected " +
                    type_name(toml::value<T>(expected).type()));
      },
      k.default_value());
}

// Sets `key` in `section` of `config` to `value`, refusing unknown sections, keys and types.
void assign(TrainConfig& config, const std::string& section, const std::string& key, const toml::node& value,
            const std::string& origin) {
  if (!known_section(section)) throw Error(origin + ": unknown section [" + section + "]");
  const std::string name = section + "." + key;
  const Key* k = find_key(name);
  if (k == nullptr) throw Error(origin + ": unknown key " + name);
  k->write(config, convert(*k, value, origin));
}

void merge(TrainConfig& config, const toml::table& user, const std::string& origin) {
  for (const auto& [section, node] : user) {
    const toml::table* entries = node.as_table();
    if (entries == nullptr) throw Error(origin + ": " + std::string(section.str()) + " must be a [section]");
    for (const auto& [key, value] : *entries) {
      assign(config, std::string(section.str()), std::string(key.str()), value, origin);
    }
  }
}

toml::table parse_toml(const std::string& text, const std::string& origin) {
  try {
    return toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    throw Error(origin + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
}

// ---------------------------------------------------------------------------------------------
// Writing TOML

// A value as TOML text.
std::string to_toml(const Value& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, double>) {
          return toml_float(v);
        } else {
          std::ostringstream out;
          out << toml::value<T>(v);
          return out.str();
        }
      },
      value);
}

// Every key of `c`, by section, each with its help line as a comment (aligned within the section).
std::string effective_toml(const TrainConfig& c) {
  std::ostringstream out;
  const auto end = std::end(kKeys);
  for (auto first = std::begin(kKeys); first != end;) {
    auto last = first;
    std::vector<std::string> lines;
    size_t width = 0;
    for (; last != end && last->section() == first->section(); ++last) {
      lines.push_back(std::string(last->bare_name()) + " = " + to_toml(last->read(c)));
      width = std::max(width, lines.back().size());
    }
    out << (first == std::begin(kKeys) ? "" : "\n") << "[" << first->section() << "]\n";
    for (size_t i = 0; i < lines.size(); ++i) {
      out << lines[i] << std::string(width - lines[i].size() + 2, ' ') << "# " << first[i].help << "\n";
    }
    first = last;
  }
  return out.str();
}

// ---------------------------------------------------------------------------------------------
// Checks that span keys or ranges, then the effective TOML

void require(bool ok, const std::string& origin, const std::string& what) {
  if (!ok) throw Error(origin + ": " + what);
}

TrainConfig finish(TrainConfig c, const std::string& origin) {
  require(c.data.seq_len >= 2, origin, "data.seq_len must be at least 2");
  require(c.data.batch_size >= 1, origin, "data.batch_size must be at least 1");
  require(c.model.embed >= 1 && c.model.hidden >= 1 && c.model.layers >= 1, origin,
          "model.embed, model.hidden and model.layers must be positive");
  require(c.model.dropout >= 0 && c.model.dropout < 1, origin, "model.dropout must be in [0, 1)");
  require(!c.model.tie_weights || c.model.embed == c.model.hidden, origin,
          "model.tie_weights needs model.embed == model.hidden (" + std::to_string(c.model.embed) +
              " != " + std::to_string(c.model.hidden) + ")");
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
  require(c.distributed.progress_thread == "auto" || c.distributed.progress_thread == "on" ||
              c.distributed.progress_thread == "off",
          origin, "distributed.progress_thread is '" + c.distributed.progress_thread + "', expected auto, on or off");
  require(c.run.precision == "auto" || c.run.precision == "fp32" || c.run.precision == "bf16", origin,
          "run.precision is '" + c.run.precision + "', expected auto, fp32 or bf16");
  require(c.distributed.first_bucket_mb > 0 && c.distributed.bucket_mb > 0, origin,
          "distributed.first_bucket_mb and distributed.bucket_mb must be positive");
  require(c.distributed.collective_timeout_s > 0 && c.distributed.stall_warning_s > 0, origin,
          "distributed.collective_timeout_s and distributed.stall_warning_s must be positive");
  c.toml = effective_toml(c);
  return c;
}

}  // namespace

TrainConfig load_train_config(const std::string& file, const std::vector<std::string>& overrides) {
  TrainConfig config;
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
    const std::string value = o.substr(eq + 1);
    // A bare word is taken as a string, so `--set run.device=cpu` needs no quotes.
    toml::table parsed;
    try {
      parsed = toml::parse("v = " + value);
    } catch (const toml::parse_error&) {
      parsed = parse_toml("v = \"" + value + "\"", "--set " + o);
    }
    assign(config, section, key, *parsed.get("v"), "--set " + o);
  }
  return finish(std::move(config), file.empty() ? "config" : file);
}

TrainConfig parse_train_config(const std::string& toml_text, const std::string& origin) {
  TrainConfig config;
  merge(config, parse_toml(toml_text, origin), origin);
  return finish(std::move(config), origin);
}

std::string config_key_help(std::string_view name) {
  const Key* k = find_key(name);
  if (k == nullptr) throw Error("no configuration key " + std::string(name));
  return std::string(k->help) + " (default " + to_toml(k->default_value()) + "; " + std::string(name) + ")";
}

std::string toml_float(double value) {
  char text[32];  // the longest shortest double, "-2.2250738585072014e-308", has 24
  std::string s(text, std::to_chars(text, text + sizeof text, value).ptr);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";  // 'n': inf and nan are floats
  return s;
}

}  // namespace poet
