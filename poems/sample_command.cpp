// run_sample(): checkpoint -> model -> poems, converting scripts at the edges.
#include "poems/sample_command.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/utf8.h"
#include "data/verse_rules.h"
#include "poems/load_model.h"
#include "poems/sampler.h"

namespace poet {

namespace {

// With an acrostic and no form, the shortest regular form with enough lines.
PoemForm choose_form(const SampleCommand& c, size_t acrostic_length) {
  if (!c.form.empty()) return parse_form(c.form, "--form");
  if (acrostic_length == 0) return PoemForm::kFree;
  const auto quatrain_lines = static_cast<size_t>(form_shape(PoemForm::kQijue).lines);
  return acrostic_length <= quatrain_lines ? PoemForm::kQijue : PoemForm::kQilv;
}

}  // namespace

void run_sample(const SampleCommand& c, std::ostream& out) {
  if (c.num < 1) throw Error("--num must be at least 1");
  if (c.temperature <= 0) throw Error("--temperature must be positive");
  if (c.top_p <= 0 || c.top_p > 1) throw Error("--top-p must be in (0, 1]");
  LoadedModel m = load_model(c.checkpoint);
  // Input may come in either script: carry it into the model's (a no-op on text already there).
  // OpenCC is loaded only when there is text to convert.
  const bool has_input = !c.prompt.empty() || !c.acrostic.empty();
  const ScriptConverter to_model(has_input ? other_script(m.script) : m.script, m.script);
  const ScriptConverter to_output(m.script, c.script.value_or(m.script));

  SampleOptions options;
  options.prompt = utf8_decode(to_model.convert(c.prompt));
  options.acrostic = utf8_decode(to_model.convert(c.acrostic));
  options.form = choose_form(c, options.acrostic.size());
  options.temperature = c.temperature;
  options.top_k = c.top_k;
  options.top_p = c.top_p;
  options.tones = parse_tone_mode(c.tones, "--tones");
  options.avoid_copies = c.avoid_copies;
  VerseRules rules;
  if (options.tones != ToneMode::kOff || options.avoid_copies || c.show_tones) {
    rules = load_rules_for(m, c.data);
    options.rules = &rules;
  }

  nlohmann::json poems = nlohmann::json::array();
  for (int64_t i = 0; i < c.num; ++i) {
    options.seed = c.seed + static_cast<uint64_t>(i);
    const SampledPoem poem = sample_poem(m.model, m.vocab, options);
    nlohmann::json lines = nlohmann::json::array();
    for (const auto& line : poem.lines) lines.push_back(to_output.convert(utf8_encode(line)));
    const std::string text = to_output.convert(utf8_encode(poem.text));
    if (c.json) {
      poems.push_back({{"text", text},
                       {"lines", lines},
                       {"form", form_key(poem.form)},
                       {"seed", poem.seed},
                       {"tones", tone_mode_name(options.tones)},
                       {"pattern", poem.pattern_name},
                       {"lines_resampled", poem.lines_resampled},
                       {"lines_copied", poem.lines_copied}});
    } else {
      out << "[" << form_label(poem.form) << " seed " << poem.seed
          << (poem.pattern_name.empty() ? "" : ", " + poem.pattern_name) << "]\n";
      for (size_t i = 0; i < lines.size(); ++i) {
        out << "  " << lines[i].get<std::string>();
        if (c.show_tones) out << "  " << tone_marks(poem.lines[i], m.vocab, rules);
        out << "\n";
      }
    }
  }
  if (c.json) out << nlohmann::json{{"poems", poems}}.dump() << "\n";
}

}  // namespace poet
