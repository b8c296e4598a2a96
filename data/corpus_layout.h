// Finds the Tang poem files (and the tone patterns, when present) under an input folder in
// any of the three layouts poet_dist accepts: a clone of chinese-poetry, the npm package
// chinese-poetry@2.0.1 unpacked, or one flat folder of poet.tang.*.json files.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace poet {

struct CorpusFiles {
  std::string layout;                                // "chinese-poetry clone", "npm package", "flat folder"
  std::vector<std::filesystem::path> poem_files;     // poet.tang.N.json, ordered by N
  std::vector<std::filesystem::path> strain_files;   // strains/json/poet.tang.N.json; empty if absent
};

// Throws poet::Error naming the folder for a missing, empty or poem-less input.
CorpusFiles find_corpus(const std::string& input_dir);

}  // namespace poet
