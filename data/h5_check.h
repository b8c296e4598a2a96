// Checked calls into the HDF5 C library. POET_H5_CHECK(call) throws poet::Error naming the
// call, its place in our source and HDF5's own description of the fault; H5Handle closes an
// HDF5 identifier when it goes out of scope.
#pragma once

#include <hdf5.h>

#include <string>

namespace poet {

// Turns off HDF5's printing of its error stack: errors reach the user as one line instead.
void h5_silence_library_errors();

[[noreturn]] void h5_fail(const char* call, const char* file, int line);

template <typename T>
T h5_check(T result, const char* call, const char* file, int line) {
  if (result < 0) h5_fail(call, file, line);
  return result;
}

#define POET_H5_CHECK(call) ::poet::h5_check((call), #call, __FILE__, __LINE__)

class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  H5Handle() = default;
  H5Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  ~H5Handle() { reset(); }
  H5Handle(H5Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
  H5Handle& operator=(H5Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;

  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }  // NOLINT: handles pass straight into H5 calls

 private:
  void reset() {
    if (id_ >= 0 && close_ != nullptr) close_(id_);
    id_ = H5I_INVALID_HID;
  }
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

}  // namespace poet
