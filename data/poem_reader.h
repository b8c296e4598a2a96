// Reads one JSON file of the corpus: the poems of poet.tang.N.json, or the tone patterns of
// strains/json/poet.tang.N.json. Parsing uses simdjson; a file that is not JSON is reported
// with its name and the byte offset of the fault. A poem whose fields have the wrong type is
// skipped and listed, not fatal.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace poet {

struct RawPoem {
  std::string id;
  std::vector<std::string> paragraphs;
};

struct SkippedEntry {
  size_t index;         // position in the file's top-level array
  std::string problem;  // e.g. "field 'paragraphs' is a number, expected an array of strings"
};

struct SourceFile {
  std::string path;
  uint64_t bytes = 0;
  uint64_t xxh64 = 0;
};

struct PoemFile {
  SourceFile source;
  std::vector<RawPoem> poems;  // poems for poet files; tone patterns (in paragraphs) for strains
  std::vector<SkippedEntry> skipped;
};

// Both throw poet::Error for an unreadable file, invalid JSON or a top level that is not an array.
PoemFile read_poem_file(const std::filesystem::path& path);
PoemFile read_strain_file(const std::filesystem::path& path);

}  // namespace poet
