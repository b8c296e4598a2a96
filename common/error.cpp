// throw_call_failure(): the message format of every checked library call.
#include "common/error.h"

#include <cstring>

namespace poet {

void throw_call_failure(const char* call, const char* file, int line, const std::string& detail) {
  const std::string name(call, std::strcspn(call, "("));
  throw Error(name + " failed at " + file + ":" + std::to_string(line) + (detail.empty() ? "" : ": " + detail));
}

}  // namespace poet
