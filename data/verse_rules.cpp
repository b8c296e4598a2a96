// Tones, patterns, rhyme groups (平水韵 or learned) and the training lines (see verse_rules.h).
#include "data/verse_rules.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <numeric>
#include <set>

#include "common/error.h"
#include "data/text_cleaner.h"
#include "data/vocabulary.h"

namespace poet {

CharTone char_tone(const ToneCounts& c) {
  const int64_t total = c.level + c.oblique;
  if (total == 0) return CharTone::kUnknown;
  if (std::min(c.level, c.oblique) * 5 >= total) return CharTone::kBoth;
  return c.level > c.oblique ? CharTone::kLevel : CharTone::kOblique;
}

CharTone table_tone(const std::vector<int16_t>& groups, const std::vector<uint8_t>& group_level) {
  if (groups.empty()) return CharTone::kUnknown;
  const auto level =
      std::count_if(groups.begin(), groups.end(), [&](int16_t g) { return group_level[static_cast<size_t>(g)] != 0; });
  if (level == 0) return CharTone::kOblique;
  return static_cast<size_t>(level) == groups.size() ? CharTone::kLevel : CharTone::kBoth;
}

bool tone_fits(CharTone tone, char mark) {
  if (mark == '*') return true;
  if (tone == CharTone::kBoth) return true;
  return (mark == 'P' && tone == CharTone::kLevel) || (mark == 'Z' && tone == CharTone::kOblique);
}

std::string TonePattern::name() const {
  return std::string(level_start ? "平起" : "仄起") + (first_line_rhymes ? "首句入韵" : "首句不入韵");
}

CharTone VerseRules::tone_of(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < tone.size() ? tone[static_cast<size_t>(id)] : CharTone::kUnknown;
}

const std::vector<int32_t>& groups_of(const std::vector<std::vector<int32_t>>& by_token, int32_t id) {
  static const std::vector<int32_t> none;
  return id >= 0 && static_cast<size_t>(id) < by_token.size() ? by_token[static_cast<size_t>(id)] : none;
}

const std::vector<int32_t>& VerseRules::rhymes_of(int32_t id) const { return groups_of(rhymes, id); }

std::string VerseRules::group_name(int32_t group) const {
  if (group >= 0 && static_cast<size_t>(group) < group_names.size()) return group_names[static_cast<size_t>(group)];
  return "group " + std::to_string(group);
}

std::vector<int32_t> shared_groups(const std::vector<std::vector<int32_t>>& by_token, const std::vector<int32_t>& ids) {
  if (ids.empty()) return {};
  std::vector<int32_t> shared = groups_of(by_token, ids[0]);
  for (size_t i = 1; i < ids.size() && !shared.empty(); ++i) {
    const std::vector<int32_t>& next = groups_of(by_token, ids[i]);
    std::vector<int32_t> both;
    std::set_intersection(shared.begin(), shared.end(), next.begin(), next.end(), std::back_inserter(both));
    shared = std::move(both);
  }
  return shared;
}

RhymeSource parse_rhyme_source(const std::string& text, const std::string& field) {
  if (text == "pingshui") return RhymeSource::kPingshui;
  if (text == "learned") return RhymeSource::kLearned;
  throw Error(field + ": '" + text + "' is not a rhyme table, expected pingshui or learned");
}

std::string tone_marks(const std::u32string& line, const Vocabulary& vocab, const VerseRules& rules) {
  std::string marks;
  for (char32_t c : line) {
    if (!is_ideograph(c)) continue;
    switch (rules.tone_of(vocab.id_of(c))) {
      case CharTone::kLevel:
        marks += "平";
        break;
      case CharTone::kOblique:
        marks += "仄";
        break;
      case CharTone::kBoth:
        marks += "中";
        break;
      default:
        marks += "？";
    }
  }
  return marks;
}

std::vector<TonePattern> regulated_patterns(PoemForm form) {
  if (!is_regular(form)) return {};
  const FormShape shape = form_shape(form);
  const bool seven = shape.chars == 7;
  // The four five-character lines; a seven-character line puts the two opposite tones first.
  const std::string a = "ZZPPZ", b = "PPZZP", c = "PPPZZ", d = "ZZZPP";
  const auto widen = [&](std::string line) {
    if (seven) line = (line[0] == 'Z' ? "PP" : "ZZ") + line;
    // 一三五不论: the odd positions (1-based) but the last are free.
    for (size_t i = 0; i + 1 < line.size(); i += 2) line[i] = '*';
    return line;
  };
  const std::vector<std::vector<std::string>> quatrains = {{a, b, c, d}, {d, b, c, d}, {c, d, a, b}, {b, d, a, b}};
  std::vector<TonePattern> patterns;
  for (size_t q = 0; q < quatrains.size(); ++q) {
    TonePattern p;
    const auto& base = quatrains[q];
    const auto& plain = quatrains[q < 2 ? 0 : 2];  // a regulated poem's second half never rhymes its first line
    for (int i = 0; i < shape.lines; ++i)
      p.lines.push_back(widen(i < 4 ? base[static_cast<size_t>(i)] : plain[static_cast<size_t>(i - 4)]));
    const std::string first = seven ? (base[0][0] == 'Z' ? "PP" : "ZZ") + base[0] : base[0];
    p.level_start = first[1] == 'P';
    p.first_line_rhymes = q % 2 == 1;
    patterns.push_back(p);
  }
  return patterns;
}

std::vector<PoemLines> poems_as_lines(const DatasetFile& file, Split split) {
  const SplitData index = file.read_index(split);
  const std::vector<int32_t> tokens = file.read_tokens(split, 0, index.poem_offsets.back());
  const Vocabulary& vocab = file.vocab();
  std::vector<PoemLines> poems;
  for (size_t p = 0; p + 1 < index.poem_offsets.size(); ++p) {
    std::vector<std::u32string> lines;
    std::u32string line;
    for (int64_t t = index.poem_offsets[p]; t < index.poem_offsets[p + 1]; ++t) {
      const char32_t c = vocab.character(tokens[static_cast<size_t>(t)]);
      if (is_ideograph(c)) {
        line.push_back(c);
      } else if (!line.empty()) {
        lines.push_back(line);
        line.clear();
      }
    }
    if (!line.empty()) lines.push_back(line);
    poems.push_back({static_cast<PoemForm>(index.forms[p]), std::move(lines)});
  }
  return poems;
}

namespace {

// The level-tone characters ending the rhyming (even) lines of a regular poem, without repeats.
std::vector<int32_t> rhyme_ids(const std::vector<std::u32string>& lines, const Vocabulary& vocab,
                               const std::vector<CharTone>& tone) {
  std::set<int32_t> ids;
  for (size_t i = 1; i < lines.size(); i += 2) {
    if (lines[i].empty()) continue;
    const int32_t id = vocab.id_of(lines[i].back());
    if (id >= Vocabulary::kNumSpecial && tone_fits(tone[static_cast<size_t>(id)], 'P')) ids.insert(id);
  }
  return {ids.begin(), ids.end()};
}

int32_t find_root(std::vector<int32_t>& parent, int32_t x) {
  while (parent[static_cast<size_t>(x)] != x) {
    parent[static_cast<size_t>(x)] = parent[static_cast<size_t>(parent[static_cast<size_t>(x)])];
    x = parent[static_cast<size_t>(x)];
  }
  return x;
}

constexpr char kPingshuiName[] = "平水韵";

// Tones from the corpus's counts, or the 平水韵's where it holds the character.
std::vector<CharTone> tones_of(const DatasetFile& file, const RhymeTable* table) {
  std::vector<CharTone> tones;
  for (const ToneCounts& c : file.tones()) {
    const auto id = static_cast<int32_t>(tones.size());
    const CharTone from_table = table ? table_tone(table->groups_of(id), table->group_level) : CharTone::kUnknown;
    tones.push_back(from_table != CharTone::kUnknown ? from_table : char_tone(c));
  }
  return tones;
}

void add_pingshui_rhymes(const RhymeTable& table, VerseRules& rules) {
  rules.group_names = table.group_names;
  rules.rhyme_groups = static_cast<int32_t>(table.group_names.size());
  for (size_t id = 0; id < rules.rhymes.size(); ++id) {
    for (int16_t g : table.groups_of(static_cast<int32_t>(id))) {
      (table.group_level[static_cast<size_t>(g)] != 0 ? rules.rhymes : rules.oblique_rhymes)[id].push_back(g);
    }
  }
}

void add_learned_rhymes(const Vocabulary& vocab, const std::vector<PoemLines>& poems, VerseRules& rules) {
  std::vector<int64_t> poems_of(vocab.size(), 0);
  std::map<std::pair<int32_t, int32_t>, int64_t> together;
  for (const PoemLines& poem : poems) {
    if (!is_regular(poem.form)) continue;
    const auto ids = rhyme_ids(poem.lines, vocab, rules.tone);
    if (ids.size() < 2) continue;
    for (int32_t a : ids) ++poems_of[static_cast<size_t>(a)];
    for (size_t i = 0; i < ids.size(); ++i) {
      for (size_t j = i + 1; j < ids.size(); ++j) ++together[{ids[i], ids[j]}];
    }
  }
  std::vector<int32_t> parent(vocab.size());
  std::iota(parent.begin(), parent.end(), 0);
  for (const auto& [pair, n] : together) {
    const int64_t rarer =
        std::min(poems_of[static_cast<size_t>(pair.first)], poems_of[static_cast<size_t>(pair.second)]);
    if (n >= kRhymeMinCount && static_cast<double>(n) >= kRhymeMinShare * static_cast<double>(rarer)) {
      parent[static_cast<size_t>(find_root(parent, pair.first))] = find_root(parent, pair.second);
    }
  }
  // Number the groups of characters that rhymed at all; a lone character is a group of one.
  std::map<int32_t, int32_t> number;
  for (size_t id = 0; id < vocab.size(); ++id) {
    if (poems_of[id] == 0) continue;
    const int32_t root = find_root(parent, static_cast<int32_t>(id));
    const auto [it, added] = number.emplace(root, static_cast<int32_t>(number.size()));
    rules.rhymes[id] = {it->second};
  }
  rules.rhyme_groups = static_cast<int32_t>(number.size());
}

}  // namespace

VerseRules load_tone_rules(const DatasetFile& file) {
  const RhymeTable table = file.rhyme_table();
  VerseRules rules;
  rules.tone = tones_of(file, table.empty() ? nullptr : &table);
  rules.rhymes.assign(rules.tone.size(), {});
  return rules;
}

VerseRules load_verse_rules(const DatasetFile& file, std::optional<RhymeSource> source) {
  const RhymeTable table = file.rhyme_table();
  if (source == RhymeSource::kPingshui && table.empty()) {
    throw Error(file.path() +
                " holds no 平水韵 table: prepare it again with --pingshui FILE, or use --rhyme-table "
                "learned");
  }
  const bool pingshui = source.value_or(RhymeSource::kPingshui) == RhymeSource::kPingshui && !table.empty();
  VerseRules rules;
  rules.tone = tones_of(file, pingshui ? &table : nullptr);
  rules.rhymes.assign(rules.tone.size(), {});
  rules.oblique_rhymes.assign(rules.tone.size(), {});
  const std::vector<PoemLines> poems = poems_as_lines(file, Split::kTrain);
  if (pingshui) {
    add_pingshui_rhymes(table, rules);
    rules.rhyme_table = kPingshuiName;
  } else {
    add_learned_rhymes(file.vocab(), poems, rules);
    rules.rhyme_table = source ? "learned from the corpus"
                               : "learned from the corpus (the dataset holds no 平水韵: prepare it with --pingshui)";
  }
  for (const PoemLines& poem : poems) rules.training_lines.insert(poem.lines.begin(), poem.lines.end());
  return rules;
}

RhymeAgreement measure_rhyme_agreement(const VerseRules& rules, const DatasetFile& file, Split split) {
  RhymeAgreement a;
  const Vocabulary& vocab = file.vocab();
  std::map<int32_t, int64_t> uses_of;  // rhyme characters with a group, by how often they end a rhyming line
  int64_t uses = 0;
  for (const PoemLines& poem : poems_as_lines(file, split)) {
    if (!is_regular(poem.form)) continue;
    std::vector<int32_t> grouped;
    for (int32_t id : rhyme_ids(poem.lines, vocab, rules.tone)) {
      if (rules.rhymes_of(id).empty()) continue;
      grouped.push_back(id);
      ++uses_of[id];
      ++uses;
    }
    if (grouped.size() < 2) continue;
    ++a.poems;
    a.agreeing += !shared_rhymes(rules, grouped).empty();
  }
  // Two rhyme characters drawn at random, as often as they are used, share a group.
  for (const auto& [x, nx] : uses_of) {
    for (const auto& [y, ny] : uses_of) {
      if (!shared_rhymes(rules, {x, y}).empty()) {
        a.chance += static_cast<double>(nx) * static_cast<double>(ny) / (static_cast<double>(uses) * uses);
      }
    }
  }
  return a;
}

}  // namespace poet
