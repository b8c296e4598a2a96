// configure_torch_threads(): at::set_num_threads also sets OpenMP's count, which OpenBLAS uses.
#include "model/torch_threads.h"

#include <ATen/Parallel.h>

#include "common/cpu_count.h"

namespace poet {

int configure_torch_threads(int requested) {
  at::set_num_threads(requested > 0 ? requested : available_cores());
  return at::get_num_threads();
}

}  // namespace poet
