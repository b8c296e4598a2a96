// load_pingshui(): pingshui.json -> groups, with the upstream defects repaired;
// match_to_vocabulary(): the groups of each token of a dataset.
#include "data/pingshui_table.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/utf8.h"
#include "data/text_cleaner.h"

namespace poet {

namespace {

namespace fs = std::filesystem;

// Wikisource's licence notice, glued to the end of the last group upstream.
constexpr char32_t kNoticeStart[] = U"本作品";

// The tones a table holds and the sections of each, in the table's order.
const std::vector<std::pair<std::string, std::vector<std::string>>>& table_sections() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> sections = {
      {"ping", {"上平聲部", "下平聲部"}}, {"ze", {"上聲部", "去聲部", "入聲部"}}};
  return sections;
}

std::u32string group_characters(const nlohmann::json& value, const std::string& where) {
  if (!value.is_array() || value.empty()) throw Error(where + ": expected a non-empty array of strings");
  std::u32string chars;
  for (const auto& part : value) {
    if (!part.is_string()) throw Error(where + ": expected a non-empty array of strings");
    chars += utf8_decode(part.get<std::string>());
  }
  const size_t notice = chars.find(kNoticeStart);
  if (notice != std::u32string::npos) chars.resize(notice);
  return chars;
}

}  // namespace

std::vector<int16_t> RhymeTable::groups_of(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens()) return {};
  return {token_groups.begin() + token_offsets[static_cast<size_t>(id)],
          token_groups.begin() + token_offsets[static_cast<size_t>(id) + 1]};
}

PingshuiTable load_pingshui(const std::string& path) {
  PingshuiTable table;
  table.path = fs::is_directory(path) ? (fs::path(path) / "pingshui.json").string() : path;
  std::ifstream in(table.path);
  if (!in) throw Error(table.path + ": cannot read the 平水韵 table (give --pingshui FILE)");
  const auto json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    throw Error(table.path + ": expected a JSON object {\"ping\"|\"ze\": {section: {group: [characters]}}}");
  }
  for (const auto& [tone, sections] : table_sections()) {
    if (!json.contains(tone) || !json[tone].is_object()) throw Error(table.path + ": " + tone + ": expected an object");
    for (const std::string& section : sections) {
      const std::string where = table.path + ": " + tone + "." + section;
      const auto it = json[tone].find(section);
      if (it == json[tone].end() || !it->is_object() || it->empty())
        throw Error(where + ": expected an object of groups");
      for (const auto& [name, value] : it->items()) {
        std::u32string chars = group_characters(value, where + "." + name);
        const std::u32string decoded_name = utf8_decode(name);
        if (decoded_name.empty()) throw Error(where + ": a group has an empty name");
        if (chars.find(decoded_name.back()) == std::u32string::npos) {
          chars.push_back(decoded_name.back());
          ++table.names_added;
        }
        const auto group = static_cast<int16_t>(table.group_names.size());
        table.group_names.push_back(name);
        table.group_level.push_back(tone == "ping" ? 1 : 0);
        for (char32_t c : chars) {
          if (!is_ideograph(c))
            throw Error(where + "." + name + ": '" + utf8_encode(std::u32string(1, c)) +
                        "' is not a Chinese character");
          auto& groups = table.groups_of[c];
          if (std::find(groups.begin(), groups.end(), group) == groups.end()) groups.push_back(group);
          ++table.entries;
        }
      }
    }
  }
  return table;
}

RhymeTable match_to_vocabulary(const PingshuiTable& table, const Vocabulary& vocab, Script script) {
  const ScriptConverter to_simplified(Script::kTraditional, Script::kSimplified);
  const auto key = [&](char32_t c) { return utf8_decode(to_simplified.convert(utf8_encode(std::u32string(1, c)))); };
  std::map<std::u32string, std::vector<int16_t>> groups_by_key;
  for (const auto& [c, groups] : table.groups_of) {
    auto& merged = groups_by_key[key(c)];
    merged.insert(merged.end(), groups.begin(), groups.end());
  }
  const ScriptConverter to_script(Script::kTraditional, script);
  RhymeTable matched;
  for (const std::string& name : table.group_names) matched.group_names.push_back(to_script.convert(name));
  matched.group_level = table.group_level;
  for (size_t id = 0; id < vocab.size(); ++id) {
    const char32_t c = vocab.character(static_cast<int32_t>(id));
    if (c != 0) {
      const auto it = groups_by_key.find(key(c));
      if (it != groups_by_key.end()) {
        std::vector<int16_t> groups = it->second;
        std::sort(groups.begin(), groups.end());
        groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
        matched.token_groups.insert(matched.token_groups.end(), groups.begin(), groups.end());
      }
    }
    matched.token_offsets.push_back(static_cast<int64_t>(matched.token_groups.size()));
  }
  return matched;
}

}  // namespace poet
