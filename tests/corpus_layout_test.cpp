// Input layout detection and the errors for unusable input folders.
#include "data/corpus_layout.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "test_support.h"

namespace poet {
namespace {

using test::ScratchDir;
using test::write_text;

TEST(CorpusLayout, FindsACloneWithTonesInNumericOrder) {
  ScratchDir dir;
  for (const char* n : {"10000", "0", "2000", "1000"}) {
    write_text(dir.path() / "全唐诗" / (std::string("poet.tang.") + n + ".json"), "[]");
    write_text(dir.path() / "strains" / "json" / (std::string("poet.tang.") + n + ".json"), "[]");
  }
  write_text(dir.path() / "全唐诗" / "poet.song.0.json", "[]");
  const CorpusFiles c = find_corpus(dir.path().string());
  EXPECT_EQ(c.layout, "chinese-poetry clone");
  ASSERT_EQ(c.poem_files.size(), 4u);
  EXPECT_EQ(c.poem_files[0].filename(), "poet.tang.0.json");
  EXPECT_EQ(c.poem_files[1].filename(), "poet.tang.1000.json");
  EXPECT_EQ(c.poem_files[3].filename(), "poet.tang.10000.json");
  EXPECT_EQ(c.strain_files.size(), 4u);
}

TEST(CorpusLayout, FindsTheNpmPackage) {
  ScratchDir dir;
  write_text(dir.path() / "package" / "dist" / "quantangshi" / "poet.tang.0.json", "[]");
  write_text(dir.path() / "package" / "dist" / "strains" / "json" / "poet.tang.0.json", "[]");
  const CorpusFiles c = find_corpus(dir.path().string());
  EXPECT_EQ(c.layout, "npm package");
  EXPECT_EQ(c.poem_files.size(), 1u);
  EXPECT_EQ(c.strain_files.size(), 1u);
}

TEST(CorpusLayout, FindsAFlatFolderWithoutTones) {
  ScratchDir dir;
  write_text(dir.path() / "poet.tang.0.json", "[]");
  const CorpusFiles c = find_corpus(dir.path().string());
  EXPECT_EQ(c.layout, "flat folder");
  EXPECT_EQ(c.poem_files.size(), 1u);
  EXPECT_TRUE(c.strain_files.empty());
}

TEST(CorpusLayout, RefusesMissingEmptyAndPoemlessFolders) {
  ScratchDir dir;
  EXPECT_THROW(find_corpus(dir / "missing"), Error);
  EXPECT_THROW(find_corpus(dir.path().string()), Error);  // empty
  write_text(dir.path() / "README.md", "no poems here");
  try {
    find_corpus(dir.path().string());
    FAIL() << "a folder without poet.tang.*.json files was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no poet.tang.*.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace poet
