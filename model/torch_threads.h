// Sets LibTorch's intra-op thread count on purpose: LibTorch uses one thread unless told.
#pragma once

namespace poet {

// `requested` > 0 is used as given; 0 means the cores available to this process. Returns the
// count LibTorch now uses.
int configure_torch_threads(int requested);

}  // namespace poet
