// What the poem commands stand on, and the commands themselves. load_model() on a checkpoint
// beside the fixture dataset. Then evaluate and report on the real corpus (skipped without it):
// a tiny model trained for a few steps, its evaluation JSON, the rhyme groups' agreement, and the
// report page opened in headless Chromium (Debian's chromium), which must draw every chart and
// log no console error.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <functional>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/subprocess.h"
#include "data/dataset_file.h"
#include "model/precision_choice.h"
#include "poems/load_model.h"
#include "poems/sampler.h"
#include "test_support.h"

namespace poet {
namespace {

namespace fs = std::filesystem;

using test::error_of;

TEST(LoadModel, GivesBackTheSavedModelAndTheDatasetItWasTrainedOn) {
  test::ScratchDir dir;
  test::write_fixture_dataset(dir / "d.h5", 40);
  const DatasetFile file(dir / "d.h5");
  const TrainConfig config = load_train_config(
      "", {"model.embed=16", "model.hidden=32", "model.layers=1", "run.precision=fp32", "data.path=" + (dir / "d.h5")});
  PoetModel saved(static_cast<int64_t>(file.vocab().size()), config.model);
  CheckpointMeta meta;
  meta.step = 7;
  meta.config_toml = config.toml;
  meta.script = "traditional";
  meta.vocab_tokens = file.vocab().tokens();
  meta.vocab_checksum = file.vocab().checksum();
  save_checkpoint(dir / "c.pt", saved, /*optimizer=*/nullptr, meta);

  LoadedModel m = load_model(dir / "c.pt");
  EXPECT_EQ(m.checkpoint, dir / "c.pt");
  EXPECT_EQ(m.meta.step, 7);
  EXPECT_EQ(m.config.model.hidden, 32);
  EXPECT_EQ(m.vocab.tokens(), file.vocab().tokens());
  EXPECT_EQ(m.script, Script::kTraditional);
  saved->eval();
  m.model->eval();
  const torch::Tensor tokens = torch::tensor({{1, 5, 6, 7}}, torch::kInt64);  // (1, 4)
  EXPECT_TRUE(torch::equal(std::get<0>(m.model->forward(tokens)), std::get<0>(saved->forward(tokens))));
  // sample and evaluate compute as the checkpoint's run.precision chooses on this CPU.
  for (const std::string setting : {"bf16", "auto"}) {
    meta.config_toml =
        load_train_config("", {"model.embed=16", "model.hidden=32", "model.layers=1", "run.precision=" + setting}).toml;
    save_checkpoint(dir / "p.pt", saved, /*optimizer=*/nullptr, meta);
    const Precision loaded = load_model(dir / "p.pt").model->precision();
    const Precision chosen = choose_precision(setting, torch::kCPU).precision;
    EXPECT_EQ(loaded.lstm, chosen.lstm) << setting;
    EXPECT_EQ(loaded.output, chosen.output) << setting;
    if (setting == "bf16") EXPECT_EQ(loaded.output, torch::kBFloat16);
  }

  EXPECT_EQ(load_rules_for(m, "").tone.size(), file.vocab().size());
  m.meta.vocab_checksum += 1;
  EXPECT_EQ(error_of([&] { load_rules_for(m, dir / "d.h5"); }),
            dir / "d.h5" + ": its vocabulary is not the one " + (dir / "c.pt") + " was trained with");
  m.config.data.path = dir / "gone.h5";
  EXPECT_NE(error_of([&] { load_rules_for(m, ""); }).find("was trained on; give --data FILE"), std::string::npos);
  m.config.data.path.clear();
  EXPECT_EQ(error_of([&] { load_rules_for(m, ""); }),
            dir / "c.pt" + " names no dataset: give --data FILE (for tones and the copy check)");
}

class Poems : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    corpus_ = test::real_corpus_dir();
    if (corpus_.empty()) return;
    dir_ = new test::ScratchDir;
    ASSERT_EQ(test::prepare_and_train_tiny(*dir_, corpus_), "");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (corpus_.empty()) POET_SKIP_UNLESS_REQUIRED("POET_REQUIRE_CORPUS", "no corpus: set POET_DATA or run scripts/get-data.sh");
  }
  static std::string path(const std::string& name) { return *dir_ / name; }

  static inline std::string corpus_;
  static inline test::ScratchDir* dir_ = nullptr;
};

TEST_F(Poems, EvaluateScoresEveryFormAndToneModeBesideRealPoems) {
  const auto r = test::run_poet("evaluate --checkpoint " + path("run/checkpoints/best.pt") + " --num 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(test::read_text(path("run/evaluation.json")));
  EXPECT_TRUE(std::isfinite(j["val_perplexity"].get<double>()));
  EXPECT_GT(j["val_perplexity"].get<double>(), 1.0);
  ASSERT_EQ(j["rows"].size(), 16u);  // 4 forms x (strict, soft, off, validation poems)
  for (const auto& row : j["rows"]) {
    const std::string source = row["source"];
    if (source == "model, tones strict") {
      EXPECT_EQ(row["poems"], 3);
      EXPECT_DOUBLE_EQ(row["form_compliance"].get<double>(), 1.0) << row;
      EXPECT_DOUBLE_EQ(row["tone_compliance"].get<double>(), 1.0) << row;
      EXPECT_DOUBLE_EQ(row["rhyme_compliance"].get<double>(), 1.0) << row;
    }
    if (source == "validation poems") {
      EXPECT_GT(row["poems"].get<int>(), 50) << row;
      // Real regulated poems mostly rhyme within one group, and end their lines where they should.
      EXPECT_GT(row["rhyme_compliance"].get<double>(), 0.6) << row;
      EXPECT_GT(row["line_end_share"].get<double>(), 0.8) << row;
      EXPECT_LT(row["repeated_char_share"].get<double>(), 0.05) << row;
    }
    // The sampler retries a line copied from the training split; real poems quote famous lines.
    if (source == "validation poems") {
      EXPECT_GT(row["copied_line_share"].get<double>(), 0.005) << row;
      EXPECT_LT(row["copied_line_share"].get<double>(), 0.2) << row;
    } else {
      EXPECT_EQ(row["copied_line_share"].get<double>(), 0.0) << row;
    }
    // A probability below 1 and above the uniform guess's worst: log p in (-20, 0).
    EXPECT_LT(row["mean_log_prob"].get<double>(), 0.0) << row;
    EXPECT_GT(row["mean_log_prob"].get<double>(), -20.0) << row;
  }
  EXPECT_EQ(j["candidates"], kDefaultCandidates);
  const auto& groups = j["rhyme_groups"];
  // test.sh hands prepare the 平水韵 when it is at hand; else rhymes are learned.
  EXPECT_EQ(groups["table"], test::real_pingshui_file().empty()
                                 ? "learned from the corpus (the dataset holds no 平水韵: prepare it with --pingshui)"
                                 : "平水韵");
  const double agreement = groups["agreeing"].get<double>() / groups["held_out_poems"].get<double>();
  EXPECT_GT(agreement, 0.8);
  EXPECT_LT(groups["chance"].get<double>(), 0.2);
}

TEST_F(Poems, CtrlCStopsALongEvaluate) {
  test::BackgroundCommand evaluate(std::string(POET_BINARY) + " evaluate --checkpoint " +
                                   path("run/checkpoints/best.pt") + " --num 500 --json " + path("stopped.json"));
  std::this_thread::sleep_for(std::chrono::seconds(3));  // loaded and writing poems by now
  ASSERT_EQ(kill(evaluate.pid(), SIGINT), 0);
  EXPECT_EQ(evaluate.wait(10.0), 130) << evaluate.err();
  EXPECT_FALSE(fs::exists(path("stopped.json")));
}

// The first line of the report's poem of `form` in the model's script.
std::string first_line_of(const std::string& html, const std::string& form) {
  const size_t heading = html.find("<h3>" + form + " · ");
  if (heading == std::string::npos) return "(no " + form + ")";
  const size_t start = html.find("</h3>\n", heading) + 6;
  return html.substr(start, html.find_first_of(" <", start) - start);
}

TEST_F(Poems, ReportGivesEachFormAPoemOfItsOwn) {
  const auto r = test::run_poet("report " + path("run") + " --output " + path("own.html"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = test::read_text(path("own.html"));
  // One seed wrote every form's poem: a 五律 was once its 五绝 continued, a 七律 its 七绝.
  EXPECT_NE(first_line_of(html, "五绝"), first_line_of(html, "五律"));
  EXPECT_NE(first_line_of(html, "七绝"), first_line_of(html, "七律"));
  EXPECT_EQ(first_line_of(html, "五绝").size(), 5u * 3 + 3);  // five characters and ，, in UTF-8
  EXPECT_NE(html.find("the best of " + std::to_string(kDefaultCandidates) + " candidates"), std::string::npos);
}

// Opens `html` in headless Chromium: (data-check of the page, console errors, screenshot bytes).
struct PageCheck {
  std::string check;
  std::string console_errors;
  uintmax_t screenshot_bytes = 0;
};

PageCheck open_in_chromium(const std::string& html, const std::string& png) {
  PageCheck result;
  const std::vector<std::string> common = {
      "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"};
  auto dom_args = common;
  dom_args.push_back("--dump-dom");
  dom_args.push_back("file://" + html);
  const ProcessResult dom = run_process(dom_args);
  const size_t at = dom.out.find("data-check=\"");
  if (at != std::string::npos) result.check = dom.out.substr(at + 12, dom.out.find('"', at + 12) - at - 12);
  for (size_t line = dom.err.find("CONSOLE"); line != std::string::npos; line = dom.err.find("CONSOLE", line + 1)) {
    result.console_errors += dom.err.substr(line, dom.err.find('\n', line) - line) + "\n";
  }
  auto shot_args = common;
  shot_args.push_back("--window-size=1300,2400");
  shot_args.push_back("--screenshot=" + png);
  shot_args.push_back("file://" + html);
  run_process(shot_args);
  std::error_code ec;
  result.screenshot_bytes = fs::file_size(png, ec);
  return result;
}

TEST_F(Poems, ReportOpensInChromiumWithEveryChartDrawn) {
  if (find_on_path("chromium").empty()) {
    POET_SKIP_UNLESS_REQUIRED("POET_REQUIRE_CHROMIUM", "no chromium (scripts/install-deps.sh installs it)");
  }
  const auto r = test::run_poet("report " + path("run"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = test::read_text(path("run/report.html"));
  for (const char* part :
       {"Loss by step", "Loss by time", "Tokens per second", "五绝", "七律", "traditional", "simplified"}) {
    EXPECT_NE(html.find(part), std::string::npos) << part;
  }
  const PageCheck page = open_in_chromium(path("run/report.html"), path("report.png"));
  EXPECT_EQ(page.check, "ok");
  EXPECT_EQ(page.console_errors, "");
  EXPECT_GT(page.screenshot_bytes, 20000u);

  // The check can fail: a run of one step draws no line, and the page says so.
  fs::create_directories(path("one"));
  test::write_text(path("one/metrics.jsonl"), "{\"step\":1,\"loss\":8.0,\"elapsed_s\":0.1,\"tokens_per_s\":100}\n");
  ASSERT_EQ(test::run_poet("report " + path("one")).exit_code, 0);
  const PageCheck empty = open_in_chromium(path("one/report.html"), path("one.png"));
  EXPECT_EQ(empty.check, "empty: loss-steps,loss-time,speed");
  EXPECT_NE(empty.console_errors.find("empty charts"), std::string::npos) << empty.console_errors;
}

}  // namespace
}  // namespace poet
