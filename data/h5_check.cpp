// h5_fail(): builds the error line from HDF5's error stack.
#include "data/h5_check.h"

#include <cstring>

#include "common/error.h"

namespace poet {

namespace {

herr_t collect_description(unsigned depth, const H5E_error2_t* error, void* out) {
  auto* text = static_cast<std::string*>(out);
  if (error->desc != nullptr && std::strlen(error->desc) > 0) {
    if (!text->empty()) text->append("; ");
    text->append(error->desc);
  }
  return depth >= 2 ? 1 : 0;  // the innermost few entries say what went wrong
}

}  // namespace

void h5_silence_library_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

void h5_fail(const char* call, const char* file, int line) {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_description, &detail);
  H5Eclear2(H5E_DEFAULT);
  throw_call_failure(call, file, line, detail);
}

}  // namespace poet
