// run_sample(): checkpoint -> model -> poems, converting scripts at the edges.
#include "trainer/sample_command.h"

#include <memory>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/utf8.h"
#include "trainer/checkpoint.h"
#include "data/dataset_file.h"
#include "data/text_cleaner.h"
#include "data/verse_rules.h"
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

VerseRules load_rules_for(const std::string& data, const std::string& checkpoint_data, const std::string& checkpoint,
                          uint64_t vocab_checksum) {
  const std::string path = data.empty() ? checkpoint_data : data;
  if (path.empty()) throw Error(checkpoint + " names no dataset: give --data FILE (for tones and the copy check)");
  std::unique_ptr<DatasetFile> file;
  try {
    file = std::make_unique<DatasetFile>(path);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + (data.empty() ? " (the dataset " + checkpoint + " was trained on; give --data FILE, or --tones off --no-copy-check)" : ""));
  }
  if (file->vocab().checksum() != vocab_checksum) {
    throw Error(path + ": its vocabulary is not the one " + checkpoint + " was trained with");
  }
  return load_verse_rules(*file);
}

std::string tone_marks(const std::u32string& line, const Vocabulary& vocab, const VerseRules& rules) {
  std::string marks;
  for (char32_t c : line) {
    const int32_t id = vocab.id_of(c);
    if (!is_ideograph(c)) continue;
    switch (id >= 0 && static_cast<size_t>(id) < rules.tone.size() ? rules.tone[static_cast<size_t>(id)]
                                                                     : CharTone::kUnknown) {
      case CharTone::kLevel: marks += "平"; break;
      case CharTone::kOblique: marks += "仄"; break;
      case CharTone::kBoth: marks += "中"; break;
      default: marks += "？";
    }
  }
  return marks;
}

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
  options.tones = parse_tone_mode(c.tones, "--tones");
  options.avoid_copies = c.avoid_copies;
  VerseRules rules;
  if (options.tones != ToneMode::kOff || options.avoid_copies || c.show_tones) {
    rules = load_rules_for(c.data, config.data.path, c.checkpoint, ckpt.meta().vocab_checksum);
    options.rules = &rules;
  }

  nlohmann::json poems = nlohmann::json::array();
  for (int64_t i = 0; i < c.num; ++i) {
    options.seed = c.seed + static_cast<uint64_t>(i);
    const SampledPoem poem = sample_poem(model, vocab, options);
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
        if (c.show_tones) out << "  " << tone_marks(poem.lines[i], vocab, rules);
        out << "\n";
      }
    }
  }
  if (c.json) out << nlohmann::json{{"poems", poems}}.dump() << "\n";
}

}  // namespace poet
