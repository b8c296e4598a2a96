// PoemMaker (see poem_maker.h): a request's text carried into the model's script, the sampler's
// options, and the poem back as JSON in the script asked for.
#include "poems/poem_maker.h"

#include <algorithm>
#include <utility>

#include "common/error.h"
#include "common/utf8.h"

namespace poet {

namespace {

// With an acrostic or keywords and no form, the shortest regular form with enough lines.
PoemForm choose_form(const PoemRequest& r, size_t lines_needed) {
  if (!r.form.empty()) return parse_form(r.form, "--form");
  if (lines_needed == 0) return PoemForm::kFree;
  const auto quatrain_lines = static_cast<size_t>(form_shape(PoemForm::kQijue).lines);
  return lines_needed <= quatrain_lines ? PoemForm::kQijue : PoemForm::kQilv;
}

// "春,江,花,月" (ASCII or full-width commas) -> one entry a line, already in the model's script.
std::vector<std::u32string> split_keywords(const std::string& text, const std::u32string& converted) {
  std::vector<std::u32string> words;
  if (converted.empty()) return words;
  std::u32string word;
  for (char32_t c : converted + U",") {
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

// The 平水韵 groups (or learned ones) every rhyming line's last character rhymes in, the first
// line's left out: it may rhyme or not, by the pattern.
nlohmann::json rhyme_groups(const SampledPoem& poem, const VerseRules& rules, const Vocabulary& vocab) {
  std::vector<int32_t> ends;
  for (size_t l = 1; l < poem.lines.size(); l += 2) {
    const std::u32string& line = poem.lines[l];
    if (line.size() >= 2) ends.push_back(vocab.id_of(line[line.size() - 2]));  // before its 。
  }
  nlohmann::json names = nlohmann::json::array();
  for (int32_t group : shared_rhymes(rules, ends)) names.push_back(rules.group_name(group));
  return names;
}

}  // namespace

PoemMaker::PoemMaker(LoadedModel model, std::shared_ptr<const VerseRules> rules)
    : model_(std::move(model)), rules_(std::move(rules)) {}

const ScriptConverter& PoemMaker::converter(Script from, Script to) {
  std::optional<ScriptConverter>& slot = to == model_.script ? into_model_ : out_of_model_;
  if (!slot) slot.emplace(from, to);
  return *slot;
}

nlohmann::json PoemMaker::poem(const PoemRequest& r, int64_t index, std::chrono::steady_clock::time_point deadline) {
  // Input may come in either script: carry it into the model's (a no-op on text already there).
  const Script model_script = model_.script;
  const auto into_model = [&](const std::string& text) {
    return text.empty() ? std::u32string() : utf8_decode(converter(other_script(model_script), model_script).convert(text));
  };
  SampleOptions options;
  options.prompt = into_model(r.prompt);
  options.acrostic = into_model(r.acrostic);
  options.keywords = split_keywords(r.keywords, into_model(r.keywords));
  options.form = choose_form(r, std::max(options.acrostic.size(), options.keywords.size()));
  options.candidates = r.candidates;
  options.search = parse_search(r.search, "--search");
  options.temperature = r.temperature;
  options.top_k = r.top_k;
  options.top_p = r.top_p;
  options.tones = parse_tone_mode(r.tones, "--tones");
  options.avoid_copies = r.avoid_copies;
  options.rules = rules_.get();
  options.seed = r.seed + static_cast<uint64_t>(index);
  options.deadline = deadline;

  const auto start = std::chrono::steady_clock::now();
  const SampledPoem poem = sample_poem(model_.model, model_.vocab, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const Script script = r.script.value_or(model_script);
  const auto out = [&](const std::u32string& text) {
    return script == model_script ? utf8_encode(text) : converter(model_script, script).convert(utf8_encode(text));
  };
  nlohmann::json lines = nlohmann::json::array();
  for (const auto& line : poem.lines) lines.push_back(out(line));
  nlohmann::json j = {{"text", out(poem.text)},
                      {"lines", lines},
                      {"form", form_key(poem.form)},
                      {"seed", poem.seed},
                      {"script", script_name(script)},
                      {"tones", tone_mode_name(options.tones)},
                      {"pattern", poem.pattern_name},
                      {"rhyme_lines", poem.rhyme_lines},
                      {"log_prob", poem.log_prob},
                      {"repeated", poem.repeated},
                      {"candidates", poem.candidates},
                      {"search", r.search},
                      {"seconds", seconds},
                      {"lines_resampled", poem.lines_resampled},
                      {"lines_copied", poem.lines_copied}};
  if (rules_) {
    nlohmann::json tones = nlohmann::json::array();
    for (const auto& line : poem.lines) tones.push_back(tone_marks(line, model_.vocab, *rules_));
    j["line_tones"] = tones;  // 平 仄 中 (both) ？ (unknown), one a character
    if (is_regular(poem.form)) j["rhyme_groups"] = rhyme_groups(poem, *rules_, model_.vocab);
  }
  return j;
}

nlohmann::json PoemMaker::poems(const PoemRequest& r, std::chrono::steady_clock::time_point deadline) {
  nlohmann::json poems = nlohmann::json::array();
  for (int64_t i = 0; i < r.num; ++i) poems.push_back(poem(r, i, deadline));
  return {{"poems", poems}};
}

std::shared_ptr<const VerseRules> load_poem_rules(const LoadedModel& model, const std::string& data,
                                                  const std::string& rhyme_table) {
  return std::make_shared<const VerseRules>(load_rules_for(
      model, data,
      rhyme_table.empty() ? std::nullopt : std::optional(parse_rhyme_source(rhyme_table, "--rhyme-table"))));
}

}  // namespace poet
