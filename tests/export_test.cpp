// poet_dist export and python/poet_model.py: a tiny model trained on the fixture corpus (two
// layers untied, one layer with tied weights), exported, read back by Debian's python3-torch.
// The log-probabilities of a fixed poem match poet_dist's to 1e-5, and greedy poems are the same
// text on both sides.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <torch/nn/functional/activation.h>

#include "common/utf8.h"
#include "poems/load_model.h"
#include "poems/poem_likelihood.h"
#include "test_support.h"

namespace poet {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kPython = "/usr/bin/python3";  // Debian's, with python3-torch

// Runs tests/export_check.py on `model` with `args` (shell-quoted) and parses what it prints.
json python(const std::string& model, const std::string& args) {
  const auto r = test::run_command("PYTHONPATH=" + std::string(POET_SOURCE_DIR) + "/python " + kPython + " " +
                                   POET_SOURCE_DIR + "/tests/export_check.py " + model + " " + args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out, nullptr, /*allow_exceptions=*/false);
}

// log p of each token of `text` after <bos>, given those before it, by poet_dist's model.
std::vector<double> token_log_probs(LoadedModel& m, const std::u32string& text) {
  std::vector<int64_t> ids = {Vocabulary::kBos};
  for (char32_t c : text) ids.push_back(m.vocab.id_of(c));
  torch::NoGradGuard no_grad;
  m.model->eval();
  const torch::Tensor tokens = torch::tensor(ids).unsqueeze(0);  // (1, T)
  auto [logits, state] = m.model->forward(tokens.narrow(1, 0, tokens.size(1) - 1));
  const torch::Tensor log_p = torch::log_softmax(logits[0], -1);  // (T - 1, V)
  std::vector<double> result;
  for (size_t t = 1; t < ids.size(); ++t) result.push_back(log_p[static_cast<int64_t>(t - 1)][ids[t]].item<double>());
  return result;
}

class Export : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    test::write_fixture_dataset(dir_ / "d.h5", /*poems=*/200, /*val_fraction=*/0.1);
    const auto trained = test::run_poet("train --config " + std::string(POET_SOURCE_DIR) + "/configs/tiny.toml --data " +
                                        (dir_ / "d.h5") + " --run-dir " + (dir_ / "run") +
                                        " --set run.steps=60 " + GetParam());
    ASSERT_EQ(trained.exit_code, 0) << trained.err;
    const auto exported = test::run_poet("export --checkpoint " + checkpoint() + " --output " + (dir_ / "model.pt"));
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
  }
  std::string checkpoint() const { return dir_ / "run/checkpoints/best.pt"; }
  std::string model() const { return dir_ / "model.pt"; }

  test::ScratchDir dir_;
};

TEST_P(Export, PythonScoresAFixedPoemAsPoetDistDoes) {
  LoadedModel m = load_model(checkpoint());
  ASSERT_EQ(m.model->precision().lstm, torch::kFloat32);  // tiny.toml: fp32, as Python computes
  // Two lines of the fixture's own characters, as the sampler punctuates them.
  const std::vector<std::u32string> lines = {
      {m.vocab.character(10), m.vocab.character(11), m.vocab.character(12), m.vocab.character(13), m.vocab.character(14)},
      {m.vocab.character(20), m.vocab.character(21), m.vocab.character(22), m.vocab.character(23), m.vocab.character(24)}};
  const std::u32string poem = lines[0] + U"，" + lines[1] + U"。";
  const std::vector<double> ours = token_log_probs(m, poem);
  const json theirs = python(model(), "log_probs '" + utf8_encode(poem) + "'");
  ASSERT_EQ(theirs["log_probs"].size(), ours.size()) << theirs;
  double characters = 0, sum = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_NEAR(theirs["log_probs"][i].get<double>(), ours[i], 1e-5) << "token " << i;
    if (poem[i] != U'，' && poem[i] != U'。') {
      sum += theirs["log_probs"][i].get<double>();
      ++characters;
    }
  }
  // ... and the mean over its characters is what evaluate scores a poem by.
  EXPECT_NEAR(sum / characters, mean_log_probs(m.model, m.vocab, {lines})[0], 1e-5);
  EXPECT_LT(sum / characters, -0.1);  // a real distribution, not one token's certainty
}

TEST_P(Export, GreedyPoemsAreTheSameTextInPython) {
  const auto wujue = test::run_poet("sample --checkpoint " + checkpoint() +
                                    " --json --temperature 0 --form wujue --tones off --no-copy-check");
  ASSERT_EQ(wujue.exit_code, 0) << wujue.err;
  const std::string text = json::parse(wujue.out)["poems"][0]["text"];
  EXPECT_EQ(python(model(), "greedy_verse 4 5")["text"], text);
  // Twenty characters, most of them different: a comparison that a wrong weight would fail.
  std::u32string distinct;
  for (char32_t c : utf8_decode(text)) {
    if (distinct.find(c) == std::u32string::npos) distinct.push_back(c);
  }
  EXPECT_GE(distinct.size(), 12u) << text;

  LoadedModel m = load_model(checkpoint());
  const std::string prompt = utf8_encode(std::u32string(1, m.vocab.character(10)));
  const auto free = test::run_poet("sample --checkpoint " + checkpoint() + " --json --temperature 0 --form free " +
                                   "--tones off --no-copy-check --prompt " + prompt);
  ASSERT_EQ(free.exit_code, 0) << free.err;
  EXPECT_EQ(python(model(), "greedy " + prompt)["text"], json::parse(free.out)["poems"][0]["text"]);
}

INSTANTIATE_TEST_SUITE_P(Models, Export,
                         ::testing::Values("--set model.layers=2",
                                           "--set model.tie_weights=true --set model.embed=64"),
                         [](const auto& info) { return info.index == 0 ? "TwoLayers" : "TiedWeights"; });

TEST(ExportCli, NamesWhatIsWrong) {
  test::ScratchDir dir;
  const auto missing = test::run_poet("export --checkpoint " + (dir / "none.pt") + " --output " + (dir / "m.pt"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find(dir / "none.pt"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(dir / "m.pt"));
  // Not an export: the Python side says so.
  const auto r = test::run_command("PYTHONPATH=" + std::string(POET_SOURCE_DIR) + "/python " + kPython +
                                   " -c \"import poet_model, torch; torch.save({'format': 'x'}, '" + (dir / "x.pt") +
                                   "'); poet_model.load('" + (dir / "x.pt") + "')\"");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("ValueError: not a poet_dist.export file of version 1: format 'x', version None"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace poet
