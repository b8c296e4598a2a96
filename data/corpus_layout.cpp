// find_corpus(): layout detection and the numeric ordering of poet.tang.N.json files.
#include "data/corpus_layout.h"

#include <algorithm>
#include <regex>

#include "common/error.h"

namespace poet {

namespace fs = std::filesystem;

namespace {

// poet.tang.N.json files of a folder, sorted by N so the corpus order is the upstream one.
std::vector<fs::path> tang_files(const fs::path& dir) {
  static const std::regex kName(R"(poet\.tang\.(\d+)\.json)");
  std::vector<std::pair<long, fs::path>> found;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && std::regex_match(name, m, kName)) {
      found.emplace_back(std::stol(m[1].str()), entry.path());
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> files;
  for (auto& [n, path] : found) files.push_back(std::move(path));
  return files;
}

}  // namespace

CorpusFiles find_corpus(const std::string& input_dir) {
  const fs::path root(input_dir);
  std::error_code ec;
  if (!fs::exists(root, ec)) {
    throw Error("input folder " + input_dir +
                " does not exist (give --input, set $POET_DATA, or run scripts/get-data.sh)");
  }
  if (!fs::is_directory(root, ec)) throw Error("input " + input_dir + " is not a folder");
  if (fs::is_empty(root, ec)) throw Error("input folder " + input_dir + " is empty");

  struct Candidate {
    const char* layout;
    fs::path poems;
    fs::path strains;
  };
  const Candidate candidates[] = {
      {"chinese-poetry clone", root / "全唐诗", root / "strains" / "json"},
      {"npm package", root / "package" / "dist" / "quantangshi", root / "package" / "dist" / "strains" / "json"},
      {"npm package", root / "dist" / "quantangshi", root / "dist" / "strains" / "json"},
      {"flat folder", root, root / "strains" / "json"},
  };
  for (const auto& c : candidates) {
    auto poems = tang_files(c.poems);
    if (poems.empty()) continue;
    return CorpusFiles{c.layout, std::move(poems), tang_files(c.strains)};
  }
  throw Error("input folder " + input_dir +
              " holds no poet.tang.*.json files (looked in ./, 全唐诗/, package/dist/quantangshi/)");
}

}  // namespace poet
