// gtest main for tests run under mpiexec: MPI is initialised around RUN_ALL_TESTS, and the
// process exits non-zero when any test failed on this rank, so mpiexec fails too.
#include <gtest/gtest.h>

#include "collectives/communicator.h"

int main(int argc, char** argv) {
  poet::MpiSession mpi(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
