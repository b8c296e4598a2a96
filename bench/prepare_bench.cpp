// prepare_bench: runs the whole prepare pipeline (JSON, cleaning, OpenCC, HDF5 write) on the
// Tang corpus several times and prints seconds and MB/s per run, with the median, for all
// available cores and for one thread in the same run so the ratio is fair on a noisy machine.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <vector>

#include "common/cpu_count.h"
#include "common/error.h"
#include "data/prepare.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Times poet_dist prepare on the whole Tang corpus"};
  poet::PrepareOptions options;
  const char* env = std::getenv("POET_DATA");
  options.input = env != nullptr ? env : "../shared/data/chinese-poetry";
  int runs = 5;
  app.add_option("--input", options.input, "Corpus folder")->capture_default_str();
  app.add_option("--runs", runs, "Runs per thread count")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  options.output = (std::filesystem::temp_directory_path() / "poet_prepare_bench.h5").string();

  try {
    const int cores = poet::available_cores();
    std::printf("prepare_bench: %s, %d runs, script %s, %d cores available\n", options.input.c_str(), runs,
                poet::script_name(options.script), cores);
    std::vector<int> thread_counts{cores};
    if (cores > 1) thread_counts.push_back(1);
    std::vector<double> medians;
    for (int threads : thread_counts) {
      options.threads = threads;
      std::vector<double> seconds;
      double megabytes = 0;
      for (int r = 0; r < runs; ++r) {
        std::ostringstream log;
        const auto start = std::chrono::steady_clock::now();
        const poet::PrepareReport report = poet::prepare_dataset(options, log);
        seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        megabytes = report.input_megabytes;
        std::printf("  threads %d run %d: %.3f s  %.1f MB/s  (%ld poems kept)\n", threads, r + 1, seconds.back(),
                    megabytes / seconds.back(), report.poems_kept);
      }
      medians.push_back(median(seconds));
      std::printf("threads %d median: %.3f s, %.1f MB/s over %.1f MB of JSON\n", threads, medians.back(),
                  megabytes / medians.back(), megabytes);
    }
    if (medians.size() == 2) std::printf("speed-up with %d threads: %.2fx\n", cores, medians[1] / medians[0]);
    std::filesystem::remove(options.output);
  } catch (const poet::Error& e) {
    std::fprintf(stderr, "prepare_bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
