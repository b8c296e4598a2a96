// Config units: defaults, a TOML file and overrides merged with strict keys and types, and the
// effective TOML that run directories and checkpoints keep, which must read back to the same config.
#include <gtest/gtest.h>

#include <sstream>

#include "common/error.h"
#include "config/train_config.h"
#include "test_support.h"

namespace poet {
namespace {

using test::ScratchDir;

TEST(TrainConfig, DefaultsFileThenOverrides) {
  ScratchDir dir;
  test::write_text(dir.path() / "c.toml", "[model]\nhidden = 96\ndropout = 0\n[run]\nsteps = 7\n");
  const TrainConfig c = load_train_config(dir / "c.toml", {"model.hidden=48", "run.device=cpu", "optim.lr=1"});
  EXPECT_EQ(c.model.hidden, 48);
  EXPECT_EQ(c.model.dropout, 0.0);  // an integer where a number is expected
  EXPECT_EQ(c.run.steps, 7);
  EXPECT_EQ(c.run.device, "cpu");
  EXPECT_EQ(c.optim.lr, 1.0);
  EXPECT_EQ(c.model.embed, 128);  // default
  // The effective TOML parses back to the same values.
  const TrainConfig again = parse_train_config(c.toml, "effective");
  EXPECT_EQ(again.model.hidden, 48);
  EXPECT_EQ(again.run.steps, 7);
}

TEST(TrainConfig, UnknownKeysAndWrongTypesAreNamed) {
  ScratchDir dir;
  test::write_text(dir.path() / "typo.toml", "[model]\nhiden = 96\n");
  try {
    load_train_config(dir / "typo.toml", {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key model.hiden"), std::string::npos) << e.what();
  }
  try {
    load_train_config("", {"model.layers=two"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers is a string, expected an integer"), std::string::npos)
        << e.what();
  }
  try {
    load_train_config("", {"optim.lr=true"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("optim.lr is true or false, expected a number"), std::string::npos)
        << e.what();
  }
  try {
    load_train_config("", {"modle.hidden=4"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown section [modle]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_train_config("", {"run.steps=7.5"}), Error);           // a number where an integer is expected
  EXPECT_THROW(load_train_config("", {"model.tie_weights=true"}), Error);  // embed 128 != hidden 256
  EXPECT_THROW(load_train_config("", {"nodot=1"}), Error);
  // The one check of run.device: make_communicator() takes the value as checked here.
  try {
    load_train_config("", {"run.device=tpu"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("run.device is 'tpu', expected auto, cpu or cuda"), std::string::npos)
        << e.what();
  }
  test::write_text(dir.path() / "broken.toml", "[model\n");
  EXPECT_THROW(load_train_config(dir / "broken.toml", {}), Error);
}

// toml++ writes every double with 17 digits (dropout = 0.10000000000000001); the effective config
// shows the shortest text that reads back as the same double.
TEST(TrainConfig, FloatsPrintInTheirShortestForm) {
  const TrainConfig defaults = load_train_config("", {});
  EXPECT_NE(defaults.toml.find("\ndropout = 0.1 "), std::string::npos) << defaults.toml;
  EXPECT_NE(defaults.toml.find("\nlr = 0.003 "), std::string::npos) << defaults.toml;
  EXPECT_NE(defaults.toml.find("\ncollective_timeout_s = 300.0 "), std::string::npos) << defaults.toml;  // a float

  const TrainConfig c = load_train_config(
      "", {"optim.lr=0.30000000000000004", "optim.weight_decay=1e-05", "optim.grad_clip=1e20", "optim.beta2=5e-324"});
  EXPECT_NE(c.toml.find("\nlr = 0.30000000000000004 "), std::string::npos) << c.toml;
  EXPECT_NE(c.toml.find("\nweight_decay = 1e-05 "), std::string::npos) << c.toml;
  const TrainConfig again = parse_train_config(c.toml, "effective");
  EXPECT_EQ(again.optim.lr, 0.1 + 0.2);
  EXPECT_EQ(again.optim.weight_decay, 1e-5);
  EXPECT_EQ(again.optim.grad_clip, 1e20);
  EXPECT_EQ(again.optim.beta2, 5e-324);
  EXPECT_EQ(again.toml, c.toml);
}

// Every key, set away from its default, survives the trip through the effective TOML (a
// checkpoint's config is read back this way).
TEST(TrainConfig, EffectiveTomlReadsBackToTheSameConfig) {
  ScratchDir dir;
  test::write_text(dir.path() / "all.toml", R"(
[data]
path = "poems's dir/d.h5"
seq_len = 33
batch_size = 5
[model]
embed = 48
hidden = 48
layers = 3
dropout = 0.25
tie_weights = true
[optim]
lr = 2e-3
min_lr_ratio = 0.05
warmup_steps = 7
weight_decay = 0.05
beta1 = 0.8
beta2 = 0.95
grad_clip = 0
grad_accum = 2
max_nonfinite_steps = 3
[run]
steps = 11
seed = 99
log_every = 2
eval_every = 4
eval_batches = 6
sample_every = 0
checkpoint_every = 9
keep_checkpoints = 1
threads = 2
device = "cpu"
precision = "bf16"
[distributed]
first_bucket_mb = 0.5
bucket_mb = 10
collective_timeout_s = 12.5
stall_warning_s = 3
progress_thread = "on"
)");
  const TrainConfig c = load_train_config(dir / "all.toml", {});
  // Each key's value differs from its default: the file above sets every key, and each lands in
  // its own member.
  const auto assignment = [](std::string line) {  // "key = value", without the aligned help comment
    line.erase(line.find("  #"));
    return line.erase(line.find_last_not_of(' ') + 1);
  };
  std::istringstream set_lines(c.toml);
  std::istringstream default_lines(load_train_config("", {}).toml);
  for (std::string set, by_default; std::getline(set_lines, set) && std::getline(default_lines, by_default);) {
    if (set.find(" = ") != std::string::npos) EXPECT_NE(assignment(set), assignment(by_default));
  }
  const TrainConfig again = parse_train_config(c.toml, "effective");
  EXPECT_EQ(again.toml, c.toml);
  EXPECT_EQ(again.data.path, "poems's dir/d.h5");
  EXPECT_TRUE(again.model.tie_weights);
  EXPECT_EQ(again.model.dropout, 0.25);
  EXPECT_EQ(again.optim.grad_clip, 0.0);
  EXPECT_EQ(again.run.seed, 99u);
  EXPECT_EQ(again.run.precision, "bf16");
  EXPECT_EQ(again.distributed.first_bucket_mb, 0.5);
  EXPECT_EQ(again.distributed.stall_warning_s, 3.0);
}

TEST(TrainConfig, KeyHelpNamesTheDefault) {
  EXPECT_EQ(config_key_help("distributed.stall_warning_s"),
            "Seconds a collective waits before the ranks not arrived are named (default 60.0; "
            "distributed.stall_warning_s)");
  EXPECT_NE(
      load_train_config("", {}).toml.find("# Seconds a collective waits before the ranks not arrived are named\n"),
      std::string::npos);
  EXPECT_THROW(config_key_help("distributed.stall_warning"), Error);
}

}  // namespace
}  // namespace poet
