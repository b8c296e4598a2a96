// The poet_dist binary end to end: every bad input gets one clear line and a non-zero exit
// code, never a crash; version and inspect print what they promise.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>
#include <fstream>
#include <regex>

#include "common/cpu_count.h"
#include "test_support.h"

namespace poet {
namespace {

using nlohmann::json;
using test::run_poet;
using test::ScratchDir;

// One line on stderr, naming what it must name, and no trace of a crash.
void expect_one_line_error(const test::CommandResult& r, int code, const std::string& must_contain) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(must_contain), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << r.err;
}

std::string small_dataset(const ScratchDir& dir) {
  test::write_clone(dir.path() / "corpus",
                    json::array({test::poem("a", {"床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。"}),
                                 test::poem("b", {"春眠不覺曉，處處聞啼鳥。", "夜來風雨聲，花落知多少。"})}));
  const std::string out = dir / "small.h5";
  const auto r = run_poet("prepare --input " + (dir / "corpus") + " --output " + out +
                          " --script traditional --min-count 1 --val-fraction 0 --shards 2");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

// Each fact against what the test finds out for itself: the headers it was compiled with,
// mpiexec's own version, the cores this process may use.
TEST(Cli, VersionPrintsTheBuildFacts) {
  const auto r = run_poet("version");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string mpiexec = test::run_command(std::string(POET_MPIEXEC) + " --version").out;  // "mpiexec (OpenRTE) 4.1.4"
  const size_t space = mpiexec.find(") ");
  ASSERT_NE(space, std::string::npos) << mpiexec;
  for (const std::string& fact :
       {std::string("poet_dist 0."), "LibTorch   " TORCH_VERSION " (CUDA devices visible: " +
                                         std::to_string(torch::cuda::device_count()) + ")",
        "MPI        Open MPI v" + mpiexec.substr(space + 2, mpiexec.find('\n') - space - 2) + " (MPI 3.1)",
        "HDF5       " + std::to_string(H5_VERS_MAJOR) + "." + std::to_string(H5_VERS_MINOR) + "." +
            std::to_string(H5_VERS_RELEASE) + "\n",
        std::string("BLAS       OpenBLAS 0."), "threads    " + std::to_string(available_cores()) + " (the cores"}) {
    EXPECT_NE(r.out.find(fact), std::string::npos) << fact << " missing from:\n" << r.out;
  }
  // NCCL and CUDA: built in with a version, or said to be absent.
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\nNCCL       (yes, 2\\.[0-9]+\\.[0-9]+|no)")) &&
              std::regex_search(r.out, std::regex("\nCUDA       (yes, toolkit [0-9]+\\.[0-9]+|no)")))
      << r.out;
  const auto flag = run_poet("--version");
  EXPECT_EQ(flag.exit_code, 0);
  EXPECT_NE(flag.out.find("LibTorch"), std::string::npos);
}

TEST(Cli, BadCommandLineIsAUsageError) {
  expect_one_line_error(run_poet("prepare --input /tmp"), 2, "--output");
  expect_one_line_error(run_poet("prepare --output x.h5 --forms some"), 2, "--forms");
  expect_one_line_error(run_poet("no-such-command"), 2, "no-such-command");
}

TEST(Cli, MissingEmptyAndPoemlessInputs) {
  ScratchDir dir;
  const std::string out = dir / "out.h5";
  expect_one_line_error(run_poet("prepare --input " + (dir / "missing") + " --output " + out), 1, "does not exist");
  std::filesystem::create_directories(dir.path() / "empty");
  expect_one_line_error(run_poet("prepare --input " + (dir / "empty") + " --output " + out), 1, "is empty");
  test::write_text(dir.path() / "other" / "notes.txt", "x");
  expect_one_line_error(run_poet("prepare --input " + (dir / "other") + " --output " + out), 1,
                        "holds no poet.tang.*.json files");
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(Cli, NotJsonNamesTheFileAndOffset) {
  ScratchDir dir;
  const std::string text = "[\n  {\"id\": \"a\", \"paragraphs\": [\"春\"]},\n  oops\n]";
  test::write_text(dir.path() / "corpus" / "poet.tang.0.json", text);
  const auto r = run_poet("prepare --input " + (dir / "corpus") + " --output " + (dir / "out.h5"));
  expect_one_line_error(r, 1, "poet.tang.0.json: not valid JSON at byte offset " + std::to_string(text.find("oops")));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "out.h5"));
}

TEST(Cli, UnwritableOutput) {
  ScratchDir dir;
  test::write_clone(dir.path() / "corpus", json::array({test::poem("a", {"春眠不覺曉。"})}));
  expect_one_line_error(run_poet("prepare --input " + (dir / "corpus") + " --output " + (dir / "nope/out.h5")), 1,
                        "cannot write output");
}

TEST(Cli, InspectVerifiesAndDecodes) {
  ScratchDir dir;
  const std::string file = small_dataset(dir);
  const auto r = run_poet("inspect " + file + " --poems 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("verified"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("poems read                  2"), std::string::npos) << r.out;
  const bool has_a = r.out.find("床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。") != std::string::npos;
  const bool has_b = r.out.find("春眠不覺曉，處處聞啼鳥。夜來風雨聲，花落知多少。") != std::string::npos;
  EXPECT_TRUE(has_a && has_b) << r.out;
}

TEST(Cli, InspectRefusesTruncatedGarbageAndMissingFiles) {
  ScratchDir dir;
  const std::string file = small_dataset(dir);
  const auto size = std::filesystem::file_size(file);
  std::filesystem::copy_file(file, dir / "truncated.h5");
  std::filesystem::resize_file(dir / "truncated.h5", size / 2);
  expect_one_line_error(run_poet("inspect " + (dir / "truncated.h5")), 1, "truncated.h5");
  test::write_text(dir.path() / "garbage.h5", std::string(4096, 'x'));
  expect_one_line_error(run_poet("inspect " + (dir / "garbage.h5")), 1, "garbage.h5: not an HDF5 file");
  expect_one_line_error(run_poet("inspect " + (dir / "absent.h5")), 1, "absent.h5");
}

TEST(Cli, InspectDetectsACorruptTokenChunk) {
  ScratchDir dir;
  const std::string file = small_dataset(dir);
  haddr_t chunk_address = 0;
  {
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t d = H5Dopen2(f, "/train/tokens", H5P_DEFAULT);
    const hid_t space = H5Dget_space(d);
    hsize_t offset[1];
    unsigned mask = 0;
    hsize_t chunk_size = 0;
    ASSERT_GE(H5Dget_chunk_info(d, space, 0, offset, &mask, &chunk_address, &chunk_size), 0);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
  }
  {
    std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(static_cast<std::streamoff>(chunk_address + 4));
    char byte = 0;
    io.get(byte);
    io.seekp(static_cast<std::streamoff>(chunk_address + 4));
    io.put(static_cast<char>(byte ^ 0x5a));
  }
  expect_one_line_error(run_poet("inspect " + file), 1, "/train/tokens");
}

}  // namespace
}  // namespace poet
