// run_sample(): checkpoint -> PoemMaker -> poems, printed as text or as the JSON it gives.
#include "poems/sample_command.h"

#include <iostream>

#include "common/error.h"

namespace poet {

namespace {

// "[七绝 seed 3, 平起首句入韵, rhyme 一东]" and the lines, with their tones when asked.
void print_poem(const nlohmann::json& poem, bool show_tones, std::ostream& out) {
  out << "[" << form_label(parse_form(poem["form"], "form")) << " seed " << poem["seed"].get<uint64_t>();
  const std::string pattern = poem["pattern"];
  if (!pattern.empty()) out << ", " << pattern;
  if (show_tones && poem.contains("rhyme_groups")) {
    std::string groups;
    for (const auto& g : poem["rhyme_groups"]) groups += (groups.empty() ? "" : "/") + g.get<std::string>();
    out << (groups.empty() ? ", rhymes in no one group" : ", rhyme " + groups);
  }
  out << "]\n";
  for (size_t i = 0; i < poem["lines"].size(); ++i) {
    out << "  " << poem["lines"][i].get<std::string>();
    if (show_tones) out << "  " << poem["line_tones"][i].get<std::string>();
    out << "\n";
  }
}

}  // namespace

void run_sample(const SampleCommand& c, std::ostream& out) {
  if (c.request.num < 1) throw Error("--num must be at least 1");
  LoadedModel m = load_model(c.checkpoint);
  std::shared_ptr<const VerseRules> rules;
  if (c.request.tones != "off" || c.request.avoid_copies || c.show_tones) {
    rules = load_poem_rules(m, c.data, c.rhyme_table);
    // Rhymes other than the default table's are worth a word (stderr: stdout may be JSON).
    if (c.rhyme_table.empty() && rules->rhyme_groups > 0 && rules->group_names.empty()) {
      std::cerr << "sample: rhymes " << rules->rhyme_table << "\n";
    }
  }
  PoemMaker maker(std::move(m), rules);
  if (c.json) {
    out << maker.poems(c.request).dump() << "\n";
    return;
  }
  for (int64_t i = 0; i < c.request.num; ++i) print_poem(maker.poem(c.request, i), c.show_tones, out);
}

}  // namespace poet
