// run_sample(): checkpoint -> model -> poems, converting scripts at the edges.
#include "poems/sample_command.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>

#include "common/error.h"
#include "common/utf8.h"
#include "data/verse_rules.h"
#include "poems/load_model.h"
#include "poems/sampler.h"

namespace poet {

namespace {

// With an acrostic or keywords and no form, the shortest regular form with enough lines.
PoemForm choose_form(const SampleCommand& c, size_t lines_needed) {
  if (!c.form.empty()) return parse_form(c.form, "--form");
  if (lines_needed == 0) return PoemForm::kFree;
  const auto quatrain_lines = static_cast<size_t>(form_shape(PoemForm::kQijue).lines);
  return lines_needed <= quatrain_lines ? PoemForm::kQijue : PoemForm::kQilv;
}

// "春,江,花,月" (ASCII or full-width commas) -> one entry a line, in the model's script.
std::vector<std::u32string> split_keywords(const std::string& text, const ScriptConverter& to_model) {
  std::vector<std::u32string> words;
  if (text.empty()) return words;
  std::u32string word;
  for (char32_t c : utf8_decode(to_model.convert(text)) + U",") {
    if (c != U',' && c != U'，') {
      word.push_back(c);
      continue;
    }
    if (word.empty()) throw Error("--keywords '" + text + "': an empty keyword, expected one or two characters each");
    words.push_back(word);
    word.clear();
  }
  return words;
}

// The 平水韵 group (or groups) every rhyming line's last character rhymes in, for the header.
std::string rhyme_label(const SampledPoem& poem, const VerseRules& rules, const Vocabulary& vocab) {
  if (poem.lines.empty() || poem.form == PoemForm::kFree) return "";
  std::vector<int32_t> ends;
  for (size_t l = 1; l < poem.lines.size(); l += 2) {
    const std::u32string& line = poem.lines[l];
    if (line.size() >= 2) ends.push_back(vocab.id_of(line[line.size() - 2]));  // before its 。
  }
  const std::vector<int32_t> groups = shared_rhymes(rules, ends);
  if (groups.empty()) return ", rhymes in no one group";
  std::string label = ", rhyme ";
  for (size_t i = 0; i < groups.size(); ++i) label += (i > 0 ? "/" : "") + rules.group_name(groups[i]);
  return label;
}

}  // namespace

void run_sample(const SampleCommand& c, std::ostream& out) {
  if (c.num < 1) throw Error("--num must be at least 1");
  LoadedModel m = load_model(c.checkpoint);
  // Input may come in either script: carry it into the model's (a no-op on text already there).
  // OpenCC is loaded only when there is text to convert.
  const bool has_input = !c.prompt.empty() || !c.acrostic.empty() || !c.keywords.empty();
  const ScriptConverter to_model(has_input ? other_script(m.script) : m.script, m.script);
  const ScriptConverter to_output(m.script, c.script.value_or(m.script));

  SampleOptions options;
  options.prompt = utf8_decode(to_model.convert(c.prompt));
  options.acrostic = utf8_decode(to_model.convert(c.acrostic));
  options.keywords = split_keywords(c.keywords, to_model);
  options.form = choose_form(c, std::max(options.acrostic.size(), options.keywords.size()));
  options.candidates = c.candidates;
  options.search = parse_search(c.search, "--search");
  options.temperature = c.temperature;
  options.top_k = c.top_k;
  options.top_p = c.top_p;
  options.tones = parse_tone_mode(c.tones, "--tones");
  options.avoid_copies = c.avoid_copies;
  VerseRules rules;
  if (options.tones != ToneMode::kOff || options.avoid_copies || c.show_tones) {
    rules = load_rules_for(
        m, c.data,
        c.rhyme_table.empty() ? std::nullopt : std::optional(parse_rhyme_source(c.rhyme_table, "--rhyme-table")));
    options.rules = &rules;
    // Rhymes other than the default table's are worth a word (stderr: stdout may be JSON).
    if (c.rhyme_table.empty() && rules.rhyme_groups > 0 && rules.group_names.empty()) {
      std::cerr << "sample: rhymes " << rules.rhyme_table << "\n";
    }
  }

  nlohmann::json poems = nlohmann::json::array();
  for (int64_t i = 0; i < c.num; ++i) {
    options.seed = c.seed + static_cast<uint64_t>(i);
    const auto start = std::chrono::steady_clock::now();
    const SampledPoem poem = sample_poem(m.model, m.vocab, options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
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
                       {"log_prob", poem.log_prob},
                       {"repeated", poem.repeated},
                       {"candidates", poem.candidates},
                       {"search", c.search},
                       {"seconds", seconds},
                       {"lines_resampled", poem.lines_resampled},
                       {"lines_copied", poem.lines_copied}});
    } else {
      out << "[" << form_label(poem.form) << " seed " << poem.seed
          << (poem.pattern_name.empty() ? "" : ", " + poem.pattern_name)
          << (c.show_tones ? rhyme_label(poem, rules, m.vocab) : "") << "]\n";
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
