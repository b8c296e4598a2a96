// run_sample(): checkpoint -> model -> poems, converting scripts at the edges.
#include "trainer/sample_command.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/utf8.h"
#include "trainer/checkpoint.h"
#include "trainer/sampler.h"

namespace poet {

namespace {

// With an acrostic and no form, the shortest regular form with enough lines.
PoemForm choose_form(const SampleCommand& c, size_t acrostic_length) {
  if (!c.form.empty()) return parse_form(c.form, "--form");
  if (acrostic_length == 0) return PoemForm::kFree;
  return acrostic_length <= 4 ? PoemForm::kQijue : PoemForm::kQilv;
}

}  // namespace

void run_sample(const SampleCommand& c, std::ostream& out) {
  if (c.num < 1) throw Error("--num must be at least 1");
  if (c.temperature <= 0) throw Error("--temperature must be positive");
  if (c.top_p <= 0 || c.top_p > 1) throw Error("--top-p must be in (0, 1]");
  LoadedCheckpoint ckpt(c.checkpoint);
  const TrainConfig config = parse_train_config(ckpt.meta().config_toml, c.checkpoint);
  const Vocabulary vocab = Vocabulary::from_tokens(ckpt.meta().vocab_tokens);
  PoetModel model(static_cast<int64_t>(vocab.size()), config.model);
  ckpt.restore_model(model);

  const Script model_script = parse_script(ckpt.meta().script, c.checkpoint + ": script");
  const Script output_script = c.script.value_or(model_script);
  // Input may come in either script: carry it into the model's (a no-op on text already there).
  const ScriptConverter to_model(model_script == Script::kSimplified ? Script::kTraditional : Script::kSimplified,
                                 model_script);
  const ScriptConverter to_output(model_script, output_script);

  SampleOptions options;
  options.prompt = utf8_decode(to_model.convert(c.prompt));
  options.acrostic = utf8_decode(to_model.convert(c.acrostic));
  options.form = choose_form(c, options.acrostic.size());
  options.temperature = c.temperature;
  options.top_k = c.top_k;
  options.top_p = c.top_p;

  nlohmann::json poems = nlohmann::json::array();
  for (int64_t i = 0; i < c.num; ++i) {
    options.seed = c.seed + static_cast<uint64_t>(i);
    const SampledPoem poem = sample_poem(model, vocab, options);
    nlohmann::json lines = nlohmann::json::array();
    for (const auto& line : poem.lines) lines.push_back(to_output.convert(utf8_encode(line)));
    const std::string text = to_output.convert(utf8_encode(poem.text));
    if (c.json) {
      poems.push_back({{"text", text}, {"lines", lines}, {"form", form_key(poem.form)}, {"seed", poem.seed}});
    } else {
      out << "[" << form_label(poem.form) << " seed " << poem.seed << "]\n";
      for (const auto& line : lines) out << "  " << line.get<std::string>() << "\n";
    }
  }
  if (c.json) out << nlohmann::json{{"poems", poems}}.dump() << "\n";
}

}  // namespace poet
