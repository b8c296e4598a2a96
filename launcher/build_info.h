// The facts `poet_dist version` prints: versions of poet_dist and its libraries, whether
// NCCL and CUDA were found, which BLAS LibTorch runs on and how many threads it will use.
#pragma once

#include <string>

namespace poet {

std::string poet_version_line();  // "poet_dist 0.1.0 (commit ...)"
// poet_dist and the libraries a job's ranks run on, in one line for the start of a job.
std::string versions_line();
std::string build_report();
// The BLAS library loaded into this process, as "OpenBLAS 0.3.21 ... (path)" or the path alone.
std::string loaded_blas();

}  // namespace poet
