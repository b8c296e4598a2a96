// A WebDriver session with headless Chromium through Debian's chromedriver, both on loopback:
// as much of the W3C protocol as a test of a page needs (open, click, type, read attributes and
// text, run a script, a screenshot, the browser's console). Each call waits for its answer; a
// failed call records why in error() and answers empty, so a test asserts on values.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace httplib {
class Client;
}

namespace poet {

class WebDriver {
 public:
  // Starts chromedriver and a browser whose profile lives in `profile_dir`.
  explicit WebDriver(const std::string& profile_dir);
  ~WebDriver();
  WebDriver(const WebDriver&) = delete;
  WebDriver& operator=(const WebDriver&) = delete;

  bool ok() const { return !session_.empty(); }
  const std::string& error() const { return error_; }

  void open(const std::string& url);
  // The first element `css` selects.
  void click(const std::string& css);
  void type(const std::string& css, const std::string& text);
  void clear(const std::string& css);
  std::string text(const std::string& css);
  // "" when the attribute is absent.
  std::string attribute(const std::string& css, const std::string& name);
  // Of every element `css` selects, in document order.
  std::vector<std::string> attributes(const std::string& css, const std::string& name);
  int count(const std::string& css);
  // Runs `js` in the page; its return value as a string ("" for none).
  std::string script(const std::string& js);
  // Writes a PNG of the window to `path` and returns it.
  std::string screenshot(const std::string& path);
  // The console's errors since the last call, one a line.
  std::string console_errors();

 private:
  nlohmann::json call(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr);
  std::vector<std::string> elements(const std::string& css);
  std::string element(const std::string& css);

  pid_t driver_ = -1;
  std::unique_ptr<httplib::Client> client_;
  std::string session_;
  std::string error_;
};

}  // namespace poet
