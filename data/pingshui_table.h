// The 平水韵 (Pingshui rhyme table, 106 groups) read from pingshui.json
// ({"ping"|"ze": {section: {group: [characters]}}}, traditional script), and matched to a
// dataset's vocabulary. The loader repairs the upstream file's known defects (its SOURCE.md):
// Wikisource's public-domain notice appended to the last group is cut off, and a group's name
// character is put back where it is missing (先 from 下平聲一先). Variant forms are matched by
// comparing characters after OpenCC t2s on both sides (谿 and 溪 meet as 溪).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/script_converter.h"
#include "data/vocabulary.h"

namespace poet {

struct PingshuiTable {
  std::string path;
  std::vector<std::string> group_names;  // "上平聲一東", ... in the file's order
  std::vector<uint8_t> group_level;      // 1: a 平 (level) group, 0: a 仄 one
  // Traditional character -> the groups it stands in (a reading a group).
  std::unordered_map<char32_t, std::vector<int16_t>> groups_of;
  int64_t entries = 0;      // characters over all groups, repeats across groups counted
  int64_t names_added = 0;  // name characters put back
};

// Throws poet::Error naming the file and the field for anything but the layout above. `path` is
// pingshui.json or the folder holding it.
PingshuiTable load_pingshui(const std::string& path);

// The table as a dataset stores it: the groups of each vocabulary token.
struct RhymeTable {
  std::vector<std::string> group_names;   // in the dataset's script
  std::vector<uint8_t> group_level;       // 1: level
  std::vector<int64_t> token_offsets{0};  // token t's groups: token_groups[offsets[t], offsets[t + 1])
  std::vector<int16_t> token_groups;

  bool empty() const { return group_names.empty(); }
  size_t tokens() const { return token_offsets.size() - 1; }
  std::vector<int16_t> groups_of(int32_t id) const;
};

// Each token of `vocab` (in `script`) with the groups of the table characters it meets after t2s.
RhymeTable match_to_vocabulary(const PingshuiTable& table, const Vocabulary& vocab, Script script);

}  // namespace poet
