// with_commas(): digits grouped by three, so that a count can be read at a glance.
#include "common/number_format.h"

namespace poet {

std::string with_commas(long long n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<size_t>(i), ",");
  return n < 0 ? "-" + digits : digits;
}

}  // namespace poet
