// The number of cores this process may use: its CPU affinity, capped by a cgroup CPU quota.
// Thread counts (LibTorch, prepare's workers) are set from this on purpose.
#pragma once

namespace poet {

int available_cores();

}  // namespace poet
