// run_evaluate(): validation perplexity, sampled poems scored per form and tone mode, the real
// validation poems scored the same way, a table and a JSON file.
#include "poems/evaluate.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/temp_file.h"
#include "data/dataset_file.h"
#include "data/text_cleaner.h"
#include "model/batch_stream.h"
#include "model/summed_loss.h"
#include "poems/load_model.h"
#include "poems/poem_likelihood.h"
#include "poems/sampler.h"

namespace poet {

namespace fs = std::filesystem;

namespace {

// A poem's rhyme: the group most of its even lines end in, level groups first, then the lowest.
struct PoemRhyme {
  const std::vector<std::vector<int32_t>>* table = nullptr;  // rules.rhymes or rules.oblique_rhymes; null: none
  int32_t group = -1;
  bool level = true;
};

PoemRhyme main_rhyme(const std::vector<int32_t>& ends, const VerseRules& rules) {
  PoemRhyme best;
  int best_count = 0;
  for (const auto* table : {&rules.rhymes, &rules.oblique_rhymes}) {
    std::map<int32_t, int> count;
    for (size_t l = 1; l < ends.size(); l += 2) {
      for (int32_t g : groups_of(*table, ends[l])) ++count[g];
    }
    for (const auto& [g, n] : count) {
      if (n > best_count) {
        best = {table, g, table == &rules.rhymes};
        best_count = n;
      }
    }
  }
  return best;
}

}  // namespace

PoemScores score_poem(const std::vector<std::u32string>& lines, PoemForm form, const VerseRules& rules,
                      const Vocabulary& vocab) {
  PoemScores s;
  std::u32string text;
  for (size_t i = 0; i < lines.size(); ++i) text += lines[i] + (i % 2 == 0 ? U"，" : U"。");
  s.form = classify_form(text) == form ? 1 : 0;
  // Tones: the best of the form's patterns, over the fixed positions whose tone is known.
  for (const TonePattern& p : regulated_patterns(form)) {
    int64_t fixed = 0;
    int64_t fit = 0;
    for (size_t l = 0; l < lines.size() && l < p.lines.size(); ++l) {
      for (size_t i = 0; i < lines[l].size() && i < p.lines[l].size(); ++i) {
        const CharTone t = rules.tone_of(vocab.id_of(lines[l][i]));
        if (p.lines[l][i] == '*' || t == CharTone::kUnknown) continue;
        ++fixed;
        fit += tone_fits(t, p.lines[l][i]);
      }
    }
    if (fixed > 0) s.tone = std::max(s.tone, static_cast<double>(fit) / static_cast<double>(fixed));
  }
  std::vector<int32_t> ends;
  std::vector<int32_t> even_ends;
  for (size_t l = 0; l < lines.size(); ++l) {
    ends.push_back(lines[l].empty() ? Vocabulary::kUnk : vocab.id_of(lines[l].back()));
    if (l % 2 == 1) even_ends.push_back(ends.back());
  }
  // Real 绝句 may rhyme on oblique tones; then their unrhymed lines end level.
  s.rhyme = !shared_rhymes(rules, even_ends).empty() || !shared_groups(rules.oblique_rhymes, even_ends).empty();
  const PoemRhyme rhyme = main_rhyme(ends, rules);
  const char unrhymed = rhyme.level ? 'Z' : 'P';
  int64_t ends_allowed = 0;
  for (size_t l = 0; l < ends.size(); ++l) {
    const auto in_group = [&](const std::vector<int32_t>& groups) {
      return std::binary_search(groups.begin(), groups.end(), rhyme.group);
    };
    const bool in_rhyme = rhyme.table != nullptr && in_group(groups_of(*rhyme.table, ends[l]));
    const bool off_rhyme = tone_fits(rules.tone_of(ends[l]), unrhymed);
    ends_allowed += l % 2 == 1 ? in_rhyme : l == 0 ? in_rhyme || off_rhyme : off_rhyme;
  }
  s.line_ends = ends.empty() ? 0 : static_cast<double>(ends_allowed) / static_cast<double>(ends.size());
  int64_t copied = 0;
  for (const auto& line : lines) copied += rules.training_lines.count(line) > 0;
  s.copied = lines.empty() ? 0 : static_cast<double>(copied) / static_cast<double>(lines.size());
  s.repeated = repeated_share(lines);
  return s;
}

namespace {

struct Row {
  std::string form;
  std::string source;  // "model, tones strict", ..., "validation poems"
  std::vector<PoemScores> scores;
  std::vector<std::vector<std::u32string>> poems;  // without punctuation, for mean_log_probs()
  int64_t resampled = 0;

  void add(const std::vector<std::u32string>& lines, PoemForm f, const VerseRules& rules, const Vocabulary& vocab) {
    scores.push_back(score_poem(lines, f, rules, vocab));
    poems.push_back(lines);
  }
  void add_log_probs(PoetModel& model, const Vocabulary& vocab) {
    const std::vector<double> log_probs = mean_log_probs(model, vocab, poems);
    for (size_t i = 0; i < scores.size(); ++i) scores[i].log_prob = log_probs[i];
  }
  double mean(double PoemScores::*field) const {
    double sum = 0;
    for (const PoemScores& s : scores) sum += s.*field;
    return scores.empty() ? 0 : sum / static_cast<double>(scores.size());
  }
  double tone_full() const {  // share of poems whose every fixed position fits
    double n = 0;
    for (const PoemScores& s : scores) n += s.tone >= 1.0 ? 1 : 0;
    return scores.empty() ? 0 : n / static_cast<double>(scores.size());
  }
  nlohmann::json to_json() const {
    return {{"form", form},
            {"source", source},
            {"poems", scores.size()},
            {"form_compliance", mean(&PoemScores::form)},
            {"tone_share", mean(&PoemScores::tone)},
            {"tone_compliance", tone_full()},
            {"rhyme_compliance", mean(&PoemScores::rhyme)},
            {"line_end_share", mean(&PoemScores::line_ends)},
            {"copied_line_share", mean(&PoemScores::copied)},
            {"repeated_char_share", mean(&PoemScores::repeated)},
            {"mean_log_prob", mean(&PoemScores::log_prob)},
            {"lines_resampled", resampled}};
  }
};

std::vector<std::u32string> without_punctuation(const std::vector<std::u32string>& lines) {
  std::vector<std::u32string> plain;
  for (const auto& line : lines) {
    std::u32string p;
    for (char32_t c : line) {
      if (is_ideograph(c)) p.push_back(c);
    }
    plain.push_back(p);
  }
  return plain;
}

}  // namespace

void run_evaluate(const EvaluateOptions& o, std::ostream& out) {
  if (o.num < 1) throw Error("--num must be at least 1");
  LoadedModel m = load_model(o.checkpoint);
  const TrainConfig& config = m.config;
  const std::string data = o.data.empty() ? config.data.path : o.data;
  const std::optional<RhymeSource> rhyme_source =
      o.rhyme_table.empty() ? std::nullopt : std::optional(parse_rhyme_source(o.rhyme_table, "--rhyme-table"));
  const VerseRules rules = load_rules_for(m, o.data, rhyme_source);
  const DatasetFile file(data);
  const Vocabulary& vocab = m.vocab;

  // Perplexity over the whole validation split.
  std::vector<int64_t> shards(file.read_index(Split::kVal).shard_offsets.size() - 1);
  for (size_t s = 0; s < shards.size(); ++s) shards[s] = static_cast<int64_t>(s);
  BatchStream val(file, Split::kVal, shards, config.data.seq_len, config.data.batch_size, config.run.seed, false);
  const auto [loss_sum, targets] =
      summed_loss(m.model, val, val.total_rows(), config.data.batch_size, m.model->device());
  const double val_loss = targets > 0 ? loss_sum / static_cast<double>(targets) : NAN;

  const std::vector<PoemLines> val_poems = poems_as_lines(file, Split::kVal);
  std::vector<Row> rows;
  for (PoemForm form : kRegularForms) {
    for (const std::string& mode : o.tones) {
      Row row{form_label(form), "model, tones " + mode};
      SampleOptions so;
      so.form = form;
      so.tones = parse_tone_mode(mode, "--tones");
      so.rules = &rules;
      so.candidates = o.candidates;
      so.search = parse_search(o.search, "--search");
      for (int64_t seed = 1; seed <= o.num; ++seed) {
        so.seed = static_cast<uint64_t>(seed);
        const SampledPoem poem = sample_poem(m.model, vocab, so);
        row.add(without_punctuation(poem.lines), form, rules, vocab);
        row.resampled += poem.lines_resampled;
      }
      rows.push_back(row);
    }
    Row real{form_label(form), "validation poems"};
    for (const PoemLines& poem : val_poems) {
      if (poem.form == form) real.add(poem.lines, form, rules, vocab);
    }
    rows.push_back(real);
  }
  for (Row& row : rows) row.add_log_probs(m.model, vocab);
  const RhymeAgreement agreement = measure_rhyme_agreement(rules, file, Split::kVal);

  char line[256];
  out << "checkpoint  " << o.checkpoint << " (step " << m.meta.step << "), " << o.candidates << " candidates a poem ("
      << o.search << ")\n";
  std::snprintf(line, sizeof(line), "validation  loss %.4f, perplexity %.1f over %lld characters\n", val_loss,
                std::exp(val_loss), static_cast<long long>(targets));
  out << line;
  std::snprintf(
      line, sizeof(line),
      "rhymes      %s, %d groups; on %lld held-out regular poems %.1f%% rhyme within one group (%.1f%% by "
      "chance)\n",
      rules.rhyme_table.c_str(), rules.rhyme_groups, static_cast<long long>(agreement.poems),
      100.0 * static_cast<double>(agreement.agreeing) / static_cast<double>(std::max<int64_t>(agreement.poems, 1)),
      100.0 * agreement.chance);
  out << line << "\n";
  out << "form  source               poems   form  tones(all) tone-share  rhyme  line-ends  copied  repeated  "
         "logp/char  resampled\n";
  for (const Row& r : rows) {
    std::snprintf(line, sizeof(line),
                  "%s  %-20s %5zu  %5.1f%%  %8.1f%%  %8.1f%%  %5.1f%%  %8.1f%%  %5.1f%%  %7.1f%%  %9.3f  %9lld\n",
                  r.form.c_str(), r.source.c_str(), r.scores.size(), 100 * r.mean(&PoemScores::form),
                  100 * r.tone_full(), 100 * r.mean(&PoemScores::tone), 100 * r.mean(&PoemScores::rhyme),
                  100 * r.mean(&PoemScores::line_ends), 100 * r.mean(&PoemScores::copied),
                  100 * r.mean(&PoemScores::repeated), r.mean(&PoemScores::log_prob),
                  static_cast<long long>(r.resampled));
    out << line;
  }

  nlohmann::json j = {{"checkpoint", o.checkpoint},
                      {"step", m.meta.step},
                      {"data", data},
                      {"val_loss", val_loss},
                      {"val_perplexity", std::exp(val_loss)},
                      {"num", o.num},
                      {"candidates", o.candidates},
                      {"search", o.search},
                      {"rhyme_groups",
                       {{"table", rules.rhyme_table},
                        {"groups", rules.rhyme_groups},
                        {"held_out_poems", agreement.poems},
                        {"agreeing", agreement.agreeing},
                        {"chance", agreement.chance}}},
                      {"rows", nlohmann::json::array()}};
  for (const Row& r : rows) j["rows"].push_back(r.to_json());
  const std::string path = o.json_path.empty()
                               ? (fs::path(o.checkpoint).parent_path().parent_path() / "evaluation.json").string()
                               : o.json_path;
  write_file_atomically(path, j.dump(2) + "\n");
  out << "\nwrote       " << path << "\n";
}

}  // namespace poet
