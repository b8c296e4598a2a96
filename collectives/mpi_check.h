// POET_MPI_CHECK(call): throws poet::Error naming the MPI call, its place and MPI's own error
// string when the call does not return MPI_SUCCESS.
#pragma once

#include <mpi.h>

namespace poet {

[[noreturn]] void mpi_fail(int code, const char* call, const char* file, int line);

}  // namespace poet

#define POET_MPI_CHECK(call)                                           \
  do {                                                                 \
    const int poet_mpi_code_ = (call);                                 \
    if (poet_mpi_code_ != MPI_SUCCESS) {                               \
      ::poet::mpi_fail(poet_mpi_code_, #call, __FILE__, __LINE__);     \
    }                                                                  \
  } while (0)
