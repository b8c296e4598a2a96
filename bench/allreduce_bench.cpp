// allreduce_bench: bus bandwidth of the MPI communicator's all-reduce from 1 KB up to
// --max-bytes (256 MB), beside a plain MPI_Allreduce loop on the same buffers in the same run.
// Run under mpiexec:
//   mpiexec -np 2 build/bin/allreduce_bench
// Bus bandwidth = bytes x 2(n-1)/n / time, the figure nccl-tests reports.
#include <mpi.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "collectives/communicator.h"
#include "common/error.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename Fn>
double time_median(int repeats, Fn fn) {
  std::vector<double> seconds;
  for (int r = 0; r < repeats; ++r) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double start = MPI_Wtime();
    fn();
    double elapsed = MPI_Wtime() - start;
    MPI_Allreduce(MPI_IN_PLACE, &elapsed, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);  // the slowest rank
    seconds.push_back(elapsed);
  }
  return median(seconds);
}

}  // namespace

int main(int argc, char** argv) {
  poet::MpiSession mpi(&argc, &argv);
  CLI::App app{"All-reduce bus bandwidth of poet_dist's MPI communicator and of plain MPI_Allreduce"};
  int64_t max_bytes = int64_t{256} << 20;
  app.add_option("--max-bytes", max_bytes, "Largest message; sizes grow by 4x from 1 KB")
      ->check(CLI::Range(int64_t{1} << 10, int64_t{1} << 30))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    const auto comm = poet::make_communicator("cpu", "mpi", /*distributed=*/true);
    const int n = comm->size();
    const double factor = n > 1 ? 2.0 * (n - 1) / n : 1.0;
    if (comm->rank() == 0) {
      std::printf("allreduce_bench: %d ranks, float32 sum; bus bandwidth in GB/s (median)\n", n);
      std::printf("%12s %14s %14s %8s\n", "bytes", "poet mpi", "MPI_Allreduce", "ratio");
    }
    for (int64_t bytes = 1 << 10; bytes <= max_bytes; bytes *= 4) {
      const int64_t count = bytes / 4;
      const int repeats = bytes <= (1 << 20) ? 50 : (bytes <= (16 << 20) ? 10 : 4);
      torch::Tensor tensor = torch::ones({count});
      std::vector<float> raw(static_cast<size_t>(count), 1.0f);
      const double ours = time_median(repeats, [&] { comm->all_reduce_sum(tensor); });
      const double plain = time_median(repeats, [&] {
        MPI_Allreduce(MPI_IN_PLACE, raw.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      });
      if (comm->rank() == 0) {
        const double ours_bw = factor * static_cast<double>(bytes) / ours / 1e9;
        const double plain_bw = factor * static_cast<double>(bytes) / plain / 1e9;
        std::printf("%12lld %14.2f %14.2f %8.2f\n", static_cast<long long>(bytes), ours_bw, plain_bw,
                    ours_bw / plain_bw);
      }
    }
  } catch (const poet::Error& e) {
    std::fprintf(stderr, "allreduce_bench: error: %s\n", e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return 0;
}
