// Numbers as the printed reports (prepare, inspect, train) show them to people.
#pragma once

#include <string>

namespace poet {

// 1234567 -> "1,234,567".
std::string with_commas(long long n);

}  // namespace poet
