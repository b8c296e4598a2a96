// PrepareReport: JSON mapping and the printed report.
#include "data/prepare_report.h"

#include <cstdio>

#include "common/number_format.h"
#include "data/poem_form.h"

namespace poet {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DroppedPoems, wrong_fields, empty, lost_characters, duplicates, not_regular,
                                   too_many_unknown)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CleanStats, notes_removed, unbalanced_brackets, unencodable, editorial_brackets,
                                   punctuation_normalised, junk_removed)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ToneJoinStats, poems_with_pattern, poems_without_pattern, lines_aligned,
                                   lines_mismatched)

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(MissingCharacter, character, count)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ToneDisagreement, character, table_tone, level, oblique)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RhymeTableReport, path, groups, entries, names_added, vocab_covered, train_covered,
                                   train_characters, missing, tones_compared, tones_agreeing, tones_disagreeing)

void to_json(nlohmann::json& j, const PrepareReport& r) {
  j = nlohmann::json{{"input", r.input},
                     {"layout", r.layout},
                     {"poem_files", r.poem_files},
                     {"strain_files", r.strain_files},
                     {"input_megabytes", r.input_megabytes},
                     {"poems_read", r.poems_read},
                     {"dropped", r.dropped},
                     {"cleaning", r.cleaning},
                     {"poems_kept", r.poems_kept},
                     {"train_poems", r.train_poems},
                     {"val_poems", r.val_poems},
                     {"shards", r.shards},
                     {"train_characters", r.train_characters},
                     {"val_characters", r.val_characters},
                     {"vocab_size", r.vocab_size},
                     {"rare_characters", r.rare_characters},
                     {"unknown_in_train", r.unknown_in_train},
                     {"unknown_in_val", r.unknown_in_val},
                     {"forms", r.forms},
                     {"tones", r.tones},
                     {"vocab_with_tone", r.vocab_with_tone},
                     {"rhyme_table", r.rhyme_table},
                     {"val_unigram_perplexity", r.val_unigram_perplexity},
                     {"seconds", r.seconds}};
}

void from_json(const nlohmann::json& j, PrepareReport& r) {
  j.at("input").get_to(r.input);
  j.at("layout").get_to(r.layout);
  j.at("poem_files").get_to(r.poem_files);
  j.at("strain_files").get_to(r.strain_files);
  j.at("input_megabytes").get_to(r.input_megabytes);
  j.at("poems_read").get_to(r.poems_read);
  j.at("dropped").get_to(r.dropped);
  j.at("cleaning").get_to(r.cleaning);
  j.at("poems_kept").get_to(r.poems_kept);
  j.at("train_poems").get_to(r.train_poems);
  j.at("val_poems").get_to(r.val_poems);
  j.at("shards").get_to(r.shards);
  j.at("train_characters").get_to(r.train_characters);
  j.at("val_characters").get_to(r.val_characters);
  j.at("vocab_size").get_to(r.vocab_size);
  j.at("rare_characters").get_to(r.rare_characters);
  j.at("unknown_in_train").get_to(r.unknown_in_train);
  j.at("unknown_in_val").get_to(r.unknown_in_val);
  j.at("forms").get_to(r.forms);
  j.at("tones").get_to(r.tones);
  j.at("vocab_with_tone").get_to(r.vocab_with_tone);
  if (j.contains("rhyme_table")) j.at("rhyme_table").get_to(r.rhyme_table);  // datasets before the 平水韵 lack it
  j.at("val_unigram_perplexity").get_to(r.val_unigram_perplexity);
  j.at("seconds").get_to(r.seconds);
}

namespace {

constexpr size_t kCharactersNamed = 20;

void print_rhyme_table(std::ostream& out, const RhymeTableReport& t) {
  const auto row = [&](const char* label, const std::string& value) { out << "  " << label << value << "\n"; };
  if (t.path.empty()) {
    row("rhymes (平水韵)             ", "no table given (--pingshui FILE): rhymes use groups learned from the corpus");
    return;
  }
  char line[256];
  std::snprintf(line, sizeof(line), "%ld groups, %s entries (%ld name characters put back) from %s", t.groups,
                with_commas(t.entries).c_str(), t.names_added, t.path.c_str());
  row("rhymes (平水韵)             ", line);
  const double share =
      t.train_characters > 0 ? static_cast<double>(t.train_covered) / static_cast<double>(t.train_characters) : 0.0;
  std::snprintf(line, sizeof(line),
                "%s tokens, %.2f%% of the training split's characters; lacks %s:", with_commas(t.vocab_covered).c_str(),
                100 * share, with_commas(static_cast<long>(t.missing.size())).c_str());
  row("  covers                    ", line);
  std::string named;
  for (size_t i = 0; i < t.missing.size() && i < kCharactersNamed; ++i) {
    std::snprintf(line, sizeof(line), "%s %.3f%%  ", t.missing[i].character.c_str(),
                  t.train_characters > 0
                      ? 100.0 * static_cast<double>(t.missing[i].count) / static_cast<double>(t.train_characters)
                      : 0.0);
    named += line;
  }
  if (t.missing.size() > kCharactersNamed) {
    named += "and " + with_commas(static_cast<long>(t.missing.size() - kCharactersNamed)) +
             " more (all in the dataset's report attribute)";
  }
  row("                            ", named);
  std::snprintf(line, sizeof(line), "%s of %s characters agree (one tone class there, over 80%% one way here)",
                with_commas(t.tones_agreeing).c_str(), with_commas(t.tones_compared).c_str());
  row("  tones vs the corpus's     ", line);
  std::string disagree;
  for (const ToneDisagreement& d : t.tones_disagreeing) {
    disagree +=
        d.character + " " + d.table_tone + " (" + std::to_string(d.level) + "平/" + std::to_string(d.oblique) + "仄)  ";
  }
  row("  disagree (平水韵 wins)    ", disagree);
}

}  // namespace

void print_report(std::ostream& out, const PrepareReport& r) {
  char line[256];
  auto row = [&](const char* label, const std::string& value) { out << "  " << label << value << "\n"; };
  const auto& d = r.dropped;
  const auto& c = r.cleaning;
  out << "input       " << r.input << " (" << r.layout << ": " << r.poem_files << " poem files, " << r.strain_files
      << " tone files)\n";
  row("poems read                  ", with_commas(r.poems_read));
  row("dropped: wrong field types  ", with_commas(d.wrong_fields));
  row("         no text            ", with_commas(d.empty));
  row("         lost characters    ", with_commas(d.lost_characters));
  row("         duplicates         ", with_commas(d.duplicates));
  row("         not a regular form ", with_commas(d.not_regular));
  row("         too many unknown   ", with_commas(d.too_many_unknown));
  row("poems kept                  ", with_commas(r.poems_kept) + " (train " + with_commas(r.train_poems) + ", val " +
                                          with_commas(r.val_poems) + ", " + std::to_string(r.shards) + " shards)");
  row("characters                  ",
      "train " + with_commas(r.train_characters) + ", val " + with_commas(r.val_characters));
  row("vocabulary                  ", with_commas(r.vocab_size) + " tokens; " + with_commas(r.rare_characters) +
                                          " rare characters map to <unk> (" + with_commas(r.unknown_in_train) +
                                          " in train, " + with_commas(r.unknown_in_val) + " in val)");
  row("cleaning: notes removed     ",
      with_commas(c.notes_removed) + " (" + with_commas(c.unbalanced_brackets) + " unbalanced brackets)");
  row("          unencodable -> unk", " " + with_commas(c.unencodable));
  row("          [editorial] kept  ", with_commas(c.editorial_brackets));
  row("          marks normalised  ", with_commas(c.punctuation_normalised));
  row("          junk removed      ", with_commas(c.junk_removed));
  std::string forms;
  for (auto form : {PoemForm::kWujue, PoemForm::kQijue, PoemForm::kWulv, PoemForm::kQilv, PoemForm::kFree}) {
    const auto it = r.forms.find(form_key(form));
    forms += std::string(form_label(form)) + " " + with_commas(it == r.forms.end() ? 0 : it->second) + "  ";
  }
  row("forms                       ", forms);
  row("tones (平仄)                ",
      with_commas(r.tones.poems_with_pattern) + " poems joined on id, " + with_commas(r.tones.lines_aligned) +
          " lines aligned, " + with_commas(r.tones.lines_mismatched) + " not; " + with_commas(r.vocab_with_tone) +
          " of " + with_commas(r.vocab_size) + " tokens have a tone");
  print_rhyme_table(out, r.rhyme_table);
  std::snprintf(line, sizeof(line), "%.1f per character on val (the floor any model must beat)",
                r.val_unigram_perplexity);
  row("unigram perplexity          ", line);
  std::snprintf(line, sizeof(line), "%.2f s (%.1f MB of JSON, %.1f MB/s)", r.seconds, r.input_megabytes,
                r.seconds > 0 ? r.input_megabytes / r.seconds : 0.0);
  row("time                        ", line);
}

}  // namespace poet
