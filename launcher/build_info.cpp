// build_report(): compile-time facts from CMake plus what the loaded libraries say of themselves.
#include "launcher/build_info.h"

#include <dlfcn.h>
#include <hdf5.h>
#include <mpi.h>

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "build_config.h"
#include "git_commit.h"
#include "model/torch_threads.h"

namespace poet {

namespace {

std::string mpi_library() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  // Allowed before MPI_Init by the MPI standard, so `version` needs no launcher.
  if (MPI_Get_library_version(text, &length) != MPI_SUCCESS) return "unknown";
  std::string s(text, static_cast<size_t>(length));
  const size_t end = s.find_first_of(",\n");
  int major = 0;
  int minor = 0;
  MPI_Get_version(&major, &minor);
  return s.substr(0, end) + " (MPI " + std::to_string(major) + "." + std::to_string(minor) + ")";
}

std::string hdf5_library() {
  unsigned major = 0;
  unsigned minor = 0;
  unsigned release = 0;
  H5get_libversion(&major, &minor, &release);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
}

}  // namespace

std::string loaded_blas() {
  std::string path;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const size_t at = line.find('/');
    if (at != std::string::npos && line.find("blas", at) != std::string::npos) {
      path = line.substr(at);
      break;
    }
  }
  char resolved[PATH_MAX];
  if (!path.empty() && realpath(path.c_str(), resolved) != nullptr) path = resolved;
  using ConfigFn = char* (*)();
  if (auto config = reinterpret_cast<ConfigFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
    return std::string(config()) + " (" + path + ")";
  }
  if (path.empty()) return "none found";
  return path + " -- reference BLAS is ~25x slower: install libopenblas0-openmp";
}

std::string poet_version_line() {
  return std::string("poet_dist ") + POET_VERSION + " (commit " + POET_GIT_COMMIT + ", " + POET_BUILD_TYPE + ", " +
         POET_COMPILER + ")";
}

std::string versions_line() {
  return poet_version_line() + "; LibTorch " + TORCH_VERSION + ", " + mpi_library() + ", HDF5 " + hdf5_library() +
         (POET_HAVE_NCCL ? std::string(", NCCL ") + POET_NCCL_VERSION : std::string());
}

std::string build_report() {
  std::ostringstream out;
  const int threads = configure_torch_threads(0);
  out << poet_version_line() << "\n";
  out << "LibTorch   " << TORCH_VERSION << " (CUDA devices visible: " << torch::cuda::device_count() << ")\n";
  out << "MPI        " << mpi_library() << "\n";
  out << "HDF5       " << hdf5_library() << "\n";
  out << "NCCL       " << (POET_HAVE_NCCL ? std::string("yes, ") + POET_NCCL_VERSION : std::string("no")) << "\n";
  out << "CUDA       " << (POET_HAVE_CUDA ? std::string("yes, toolkit ") + POET_CUDA_VERSION : std::string("no"))
      << "\n";
  out << "BLAS       " << loaded_blas() << "\n";
  out << "threads    " << threads << " (the cores available to this process; LibTorch and OpenMP use this many)\n";
  return out.str();
}

}  // namespace poet
