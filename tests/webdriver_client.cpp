// WebDriver (see webdriver_client.h): chromedriver on a free loopback port, a session of
// headless Chromium with the flags a closed network needs, and the calls as JSON over HTTP.
#include "webdriver_client.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "common/subprocess.h"

namespace poet {

namespace {

using nlohmann::json;

const char* const kElement = "element-6066-11e4-a52e-4f735466cecf";  // the W3C key of an element reference

// A port nothing listens on now: the kernel's pick for a socket bound to port 0.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string base64_decode(const std::string& in) {
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int bits = 0;
  uint32_t buffer = 0;
  for (char c : in) {
    const size_t v = alphabet.find(c);
    if (v == std::string::npos) continue;  // '=' and line breaks
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

}  // namespace

WebDriver::WebDriver(const std::string& profile_dir) {
  const std::string driver = find_on_path("chromedriver");
  const std::string chromium = find_on_path("chromium");
  const int port = free_port();
  driver_ = ::fork();
  if (driver_ == 0) {
    // A group of its own: chromedriver's and Chromium's ends signal their process group, which
    // would otherwise be the test's, and ctest's with it.
    ::setpgid(0, 0);
    const std::string flag = "--port=" + std::to_string(port);
    const std::string log = "--log-path=" + profile_dir + ".chromedriver.log";
    ::execl(driver.c_str(), driver.c_str(), flag.c_str(), log.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  client_ = std::make_unique<httplib::Client>("127.0.0.1", port);
  client_->set_read_timeout(std::chrono::seconds(60));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto res = client_->Get("/status");
    if (res && res->status == 200 && json::parse(res->body)["value"]["ready"] == true) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Without the background-networking flags Chromium calls out to hosts a closed network refuses.
  const json args = {"--headless",      "--no-sandbox",       "--disable-gpu",
                     "--disable-dev-shm-usage",               "--disable-background-networking",
                     "--disable-component-update",            "--disable-sync",
                     "--no-first-run",  "--disable-quic",     "--window-size=1100,900",
                     "--user-data-dir=" + profile_dir};
  const json session =
      call("POST", "/session",
           {{"capabilities",
             {{"alwaysMatch",
               {{"browserName", "chrome"},
                {"goog:chromeOptions", {{"binary", chromium}, {"args", args}}},
                {"goog:loggingPrefs", {{"browser", "ALL"}}}}}}}});
  if (session.is_object() && session.contains("sessionId")) session_ = session["sessionId"];
}

WebDriver::~WebDriver() {
  if (!session_.empty()) call("DELETE", "/session/" + session_);
  if (driver_ > 0) {
    ::kill(-driver_, SIGTERM);  // chromedriver and the browser it started
    ::waitpid(driver_, nullptr, 0);
  }
}

json WebDriver::call(const std::string& method, const std::string& path, const json& body) {
  const std::string full = session_.empty() || path == "/session" ? path : "/session/" + session_ + path;
  httplib::Result res = method == "GET"      ? client_->Get(full.c_str())
                        : method == "DELETE" ? client_->Delete(full.c_str())
                                             : client_->Post(full.c_str(), body.is_null() ? "{}" : body.dump(),
                                                             "application/json");
  if (!res) {
    error_ = method + " " + full + ": no answer from chromedriver";
    return nullptr;
  }
  const json answer = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (res->status != 200 || answer.is_discarded()) {
    error_ = method + " " + full + ": HTTP " + std::to_string(res->status) + " " + res->body.substr(0, 300);
    return nullptr;
  }
  return answer["value"];
}

void WebDriver::open(const std::string& url) { call("POST", "/url", {{"url", url}}); }

std::vector<std::string> WebDriver::elements(const std::string& css) {
  std::vector<std::string> ids;
  const json found = call("POST", "/elements", {{"using", "css selector"}, {"value", css}});
  if (found.is_array()) {
    for (const auto& e : found) ids.push_back(e[kElement]);
  }
  return ids;
}

std::string WebDriver::element(const std::string& css) {
  const std::vector<std::string> ids = elements(css);
  if (ids.empty()) {
    error_ = "no element " + css;
    return "";
  }
  return ids.front();
}

void WebDriver::click(const std::string& css) { call("POST", "/element/" + element(css) + "/click", json::object()); }

void WebDriver::type(const std::string& css, const std::string& text) {
  call("POST", "/element/" + element(css) + "/value", {{"text", text}});
}

void WebDriver::clear(const std::string& css) { call("POST", "/element/" + element(css) + "/clear", json::object()); }

std::string WebDriver::text(const std::string& css) {
  const json t = call("GET", "/element/" + element(css) + "/text");
  return t.is_string() ? t.get<std::string>() : "";
}

std::string WebDriver::attribute(const std::string& css, const std::string& name) {
  const json v = call("GET", "/element/" + element(css) + "/attribute/" + name);
  return v.is_string() ? v.get<std::string>() : "";
}

std::vector<std::string> WebDriver::attributes(const std::string& css, const std::string& name) {
  std::vector<std::string> values;
  for (const std::string& id : elements(css)) {
    const json v = call("GET", "/element/" + id + "/attribute/" + name);
    values.push_back(v.is_string() ? v.get<std::string>() : "");
  }
  return values;
}

int WebDriver::count(const std::string& css) { return static_cast<int>(elements(css).size()); }

std::string WebDriver::script(const std::string& js) {
  const json v = call("POST", "/execute/sync", {{"script", js}, {"args", json::array()}});
  return v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump();
}

std::string WebDriver::screenshot(const std::string& path) {
  const json png = call("GET", "/screenshot");
  std::ofstream(path, std::ios::binary) << base64_decode(png.is_string() ? png.get<std::string>() : "");
  return path;
}

std::string WebDriver::console_errors() {
  std::string errors;
  const json entries = call("POST", "/se/log", {{"type", "browser"}});
  if (!entries.is_array()) return "(no console log: " + error_ + ")\n";
  for (const auto& e : entries) {
    if (e.value("level", "") == "SEVERE") errors += e.value("message", "") + "\n";
  }
  return errors;
}

}  // namespace poet
