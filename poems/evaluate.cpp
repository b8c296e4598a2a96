// run_evaluate(): validation perplexity, sampled poems scored per form and tone mode, the real
// validation poems scored the same way, a table and a JSON file.
#include "poems/evaluate.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/temp_file.h"
#include "data/dataset_file.h"
#include "data/text_cleaner.h"
#include "model/batch_stream.h"
#include "model/summed_loss.h"
#include "poems/load_model.h"
#include "poems/sampler.h"

namespace poet {

namespace fs = std::filesystem;

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
  // Rhyme: lines 2, 4, ... end on level tones of one group.
  std::set<int32_t> groups;
  bool level = true;
  for (size_t l = 1; l < lines.size(); l += 2) {
    if (lines[l].empty()) continue;
    const int32_t id = vocab.id_of(lines[l].back());
    level = level && tone_fits(rules.tone_of(id), 'P');
    groups.insert(rules.rhyme_group_of(id));
  }
  s.rhyme = level && groups.size() == 1 && *groups.begin() >= 0 ? 1 : 0;
  int64_t copied = 0;
  std::set<char32_t> distinct;
  size_t chars = 0;
  for (const auto& line : lines) {
    copied += rules.training_lines.count(line) > 0;
    distinct.insert(line.begin(), line.end());
    chars += line.size();
  }
  s.copied = lines.empty() ? 0 : static_cast<double>(copied) / static_cast<double>(lines.size());
  s.distinct = chars == 0 ? 0 : static_cast<double>(distinct.size()) / static_cast<double>(chars);
  return s;
}

namespace {

struct Row {
  std::string form;
  std::string source;  // "model, tones strict", ..., "validation poems"
  int64_t poems = 0;
  PoemScores mean;
  double tone_full = 0;  // share of poems whose every fixed position fits
  int64_t resampled = 0;

  void add(const PoemScores& s) {
    ++poems;
    mean.form += s.form;
    mean.tone += s.tone;
    mean.rhyme += s.rhyme;
    mean.copied += s.copied;
    mean.distinct += s.distinct;
    tone_full += s.tone >= 1.0 ? 1 : 0;
  }
  void finish() {
    const double n = static_cast<double>(std::max<int64_t>(poems, 1));
    mean.form /= n;
    mean.tone /= n;
    mean.rhyme /= n;
    mean.copied /= n;
    mean.distinct /= n;
    tone_full /= n;
  }
  nlohmann::json to_json() const {
    return {{"form", form},
            {"source", source},
            {"poems", poems},
            {"form_compliance", mean.form},
            {"tone_share", mean.tone},
            {"tone_compliance", tone_full},
            {"rhyme_compliance", mean.rhyme},
            {"copied_line_share", mean.copied},
            {"distinct_char_ratio", mean.distinct},
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
  const VerseRules rules = load_rules_for(m, o.data);
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
      for (int64_t seed = 1; seed <= o.num; ++seed) {
        so.seed = static_cast<uint64_t>(seed);
        const SampledPoem poem = sample_poem(m.model, vocab, so);
        row.add(score_poem(without_punctuation(poem.lines), form, rules, vocab));
        row.resampled += poem.lines_resampled;
      }
      row.finish();
      rows.push_back(row);
    }
    Row real{form_label(form), "validation poems"};
    for (const PoemLines& poem : val_poems) {
      if (poem.form == form) real.add(score_poem(poem.lines, form, rules, vocab));
    }
    real.finish();
    rows.push_back(real);
  }
  const RhymeAgreement agreement = measure_rhyme_agreement(rules, file, Split::kVal);

  char line[256];
  out << "checkpoint  " << o.checkpoint << " (step " << m.meta.step << ")\n";
  std::snprintf(line, sizeof(line), "validation  loss %.4f, perplexity %.1f over %lld characters\n", val_loss,
                std::exp(val_loss), static_cast<long long>(targets));
  out << line;
  std::snprintf(
      line, sizeof(line),
      "rhymes      %d groups learned from the training split; on %lld held-out regular poems %.1f%% "
      "rhyme within one group (%.1f%% by chance)\n",
      rules.rhyme_groups, static_cast<long long>(agreement.poems),
      100.0 * static_cast<double>(agreement.agreeing) / static_cast<double>(std::max<int64_t>(agreement.poems, 1)),
      100.0 * agreement.chance);
  out << line << "\n";
  out << "form  source               poems   form  tones(all) tone-share  rhyme  copied  distinct  resampled\n";
  for (const Row& r : rows) {
    std::snprintf(line, sizeof(line), "%s  %-20s %5lld  %5.1f%%  %8.1f%%  %8.1f%%  %5.1f%%  %5.1f%%  %7.1f%%  %9lld\n",
                  r.form.c_str(), r.source.c_str(), static_cast<long long>(r.poems), 100 * r.mean.form,
                  100 * r.tone_full, 100 * r.mean.tone, 100 * r.mean.rhyme, 100 * r.mean.copied, 100 * r.mean.distinct,
                  static_cast<long long>(r.resampled));
    out << line;
  }

  nlohmann::json j = {{"checkpoint", o.checkpoint},
                      {"step", m.meta.step},
                      {"data", data},
                      {"val_loss", val_loss},
                      {"val_perplexity", std::exp(val_loss)},
                      {"num", o.num},
                      {"rhyme_groups",
                       {{"groups", rules.rhyme_groups},
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
