// `poet_dist inspect FILE`: prints the report prepare stored, verifies the file (offsets,
// shard boundaries, token range, checksums) and decodes a few poems.
#pragma once

#include <ostream>
#include <string>

namespace poet {

// Throws poet::Error naming the file and the first inconsistency found.
void inspect_dataset(const std::string& path, int poems_to_show, std::ostream& out);

}  // namespace poet
