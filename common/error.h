// The one exception type poet_dist throws for errors a user can act on, and Interrupted for a
// run stopped by a signal. Messages name the file, the field and what was expected.
#pragma once

#include <stdexcept>
#include <string>

namespace poet {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Thrown at a safe point after SIGINT/SIGTERM; main turns it into exit code 130.
class Interrupted : public Error {
 public:
  Interrupted() : Error("interrupted") {}
};

// Throws Error("NAME failed at FILE:LINE: DETAIL"), NAME being `call` up to its '(': the
// common end of the POET_*_CHECK macros for MPI, NCCL, CUDA and HDF5.
[[noreturn]] void throw_call_failure(const char* call, const char* file, int line, const std::string& detail);

}  // namespace poet
