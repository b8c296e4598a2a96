// The one exception type poet_dist throws for errors a user can act on, and Interrupted for a
// run stopped by a signal. Messages name the file, the field and what was expected.
#pragma once

#include <stdexcept>
#include <string>

namespace poet {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Thrown at a safe point after SIGINT/SIGTERM; main turns it into exit code 130.
class Interrupted : public Error {
 public:
  Interrupted() : Error("interrupted") {}
};

}  // namespace poet
