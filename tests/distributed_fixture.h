// The fixture of the tests that run poet_dist train under mpiexec: a small dataset, Open MPI's
// environment for root and containers, and the command line of a job.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "test_support.h"

namespace poet::test {

class DistributedJob : public ::testing::Test {
 protected:
  void SetUp() override {
    write_fixture_dataset(dir_ / "d.h5", 120, /*val_fraction=*/0.2);
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 1);
  }

  // `mpiexec -np NP poet_dist train` of configs/tiny.toml for `steps` steps into run dir `run`.
  std::string command(int np, const std::string& run, const std::string& extra = "", int steps = 20,
                      const std::string& data = "d.h5") {
    return std::string(POET_MPIEXEC) + " -np " + std::to_string(np) + " --oversubscribe " + POET_BINARY +
           " train --config " + POET_SOURCE_DIR + "/configs/tiny.toml --data " + (dir_ / data) + " --run-dir " +
           (dir_ / run) + " --set run.steps=" + std::to_string(steps) + " --set run.threads=1 --backend mpi " + extra;
  }

  CommandResult train(int np, const std::string& run, const std::string& extra = "") {
    return run_command(command(np, run, extra));
  }

  ScratchDir dir_;
};

}  // namespace poet::test
