// poet_dist serve, end to end: the real binary serves a tiny model trained on the real corpus
// (prepared once for the suite: one ctest entry), and these tests talk to it over loopback as
// its users would: the API against `sample --json`, every bad input, a load test, the queue and
// the time limit, SIGTERM's drain, and the page itself in headless Chromium driven through
// chromedriver (WebDriver), so the form is filled and clicked as a person would.
#include <gtest/gtest.h>
#include <httplib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/subprocess.h"
#include "common/utf8.h"
#include "test_support.h"
#include "webdriver_client.h"

namespace poet {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A `poet_dist serve` in the background on a port of its choosing, read from its first line.
class ServerProcess {
 public:
  explicit ServerProcess(const std::string& args)
      : process_(std::string(POET_BINARY) + " serve --port 0 " + args) {
    const std::regex line("poet_dist serve: http://127\\.0\\.0\\.1:([0-9]+)/");
    test::eventually(60, [&] {
      std::smatch m;
      const std::string out = process_.out();
      if (std::regex_search(out, m, line)) port_ = std::stoi(m[1]);
      return port_ > 0 || process_.wait(0) >= 0;
    });
  }
  int port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  test::BackgroundCommand& process() { return process_; }
  httplib::Client client(double timeout_s = 60) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(std::chrono::duration<double>(timeout_s));
    c.set_connection_timeout(std::chrono::seconds(5));
    return c;
  }
  // POST /api/poems; status -1 when no answer came.
  std::pair<int, json> poems(const std::string& body, double timeout_s = 60) const {
    httplib::Client c = client(timeout_s);
    const auto res = c.Post("/api/poems", body, "application/json");
    if (!res) return {-1, json()};
    return {res->status, json::parse(res->body, nullptr, /*allow_exceptions=*/false)};
  }
  bool healthy() const {
    httplib::Client c = client(5);
    const auto res = c.Get("/healthz");
    return res && res->status == 200 && json::parse(res->body)["status"] == "ok";
  }
  json health() const {
    httplib::Client c = client(5);
    const auto res = c.Get("/healthz");
    return res ? json::parse(res->body) : json();
  }

 private:
  test::BackgroundCommand process_;
  int port_ = -1;
};

// The resident memory of process `pid`, in kB.
long resident_kb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// Chinese characters of a line, its ， or 。 left out.
size_t verse_chars(const std::string& line) {
  size_t n = 0;
  for (char32_t c : utf8_decode(line)) n += c != U'，' && c != U'。';
  return n;
}

std::u32string chars(const std::string& text) { return utf8_decode(text); }

class Serve : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string corpus = test::real_corpus_dir();
    if (corpus.empty()) return;
    dir_ = new test::ScratchDir;
    ASSERT_EQ(test::prepare_and_train_tiny(*dir_, corpus), "");
    server_ = new ServerProcess("--checkpoint " + checkpoint() + " --workers 2 --queue 4 --timeout 20");
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
    server_ = nullptr;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (dir_ == nullptr) POET_SKIP_UNLESS_REQUIRED("POET_REQUIRE_CORPUS", "no corpus: set POET_DATA or run scripts/get-data.sh");
    ASSERT_GT(server_->port(), 0) << server_->process().err();
  }
  static std::string checkpoint() { return *dir_ / "run/checkpoints/best.pt"; }
  static std::string path(const std::string& name) { return *dir_ / name; }

  static inline test::ScratchDir* dir_ = nullptr;
  static inline ServerProcess* server_ = nullptr;
};

// ---------------------------------------------------------------------------
// The API

TEST_F(Serve, PoemsAreWhatSampleJsonWrites) {
  const auto [status, body] = server_->poems(R"({"form": "qijue", "acrostic": "春夏秋冬", "seed": 7})");
  ASSERT_EQ(status, 200) << body;
  ASSERT_EQ(body["poems"].size(), 1u);
  const json& poem = body["poems"][0];
  ASSERT_EQ(poem["lines"].size(), 4u);
  const std::u32string heads = U"春夏秋冬";
  for (size_t i = 0; i < 4; ++i) {
    const std::string line = poem["lines"][i];
    EXPECT_EQ(verse_chars(line), 7u) << line;
    EXPECT_EQ(chars(line)[0], heads[i]) << line;
    EXPECT_EQ(chars(poem["line_tones"][i]).size(), 7u) << poem["line_tones"][i];
  }
  EXPECT_EQ(poem["seed"], 7);
  const bool first_rhymes = poem["pattern"].get<std::string>().find("首句入韵") != std::string::npos;
  EXPECT_EQ(poem["rhyme_lines"], first_rhymes ? json({0, 1, 3}) : json({1, 3})) << poem["pattern"];
  EXPECT_EQ(poem["rhyme_lines"].back(), 3);

  // The same options to sample --json give the same poems; only the time taken differs.
  const auto sample = test::run_poet("sample --checkpoint " + checkpoint() +
                                     " --json --form qijue --acrostic 春夏秋冬 --seed 7");
  ASSERT_EQ(sample.exit_code, 0) << sample.err;
  json expected = json::parse(sample.out);
  json got = body;
  for (json* j : {&expected, &got}) {
    for (auto& p : (*j)["poems"]) p.erase("seconds");
  }
  EXPECT_EQ(got, expected);

  // The other script: the same poem, converted (繁體 has characters of its own).
  const auto [t_status, traditional] =
      server_->poems(R"({"form": "qijue", "acrostic": "春夏秋冬", "seed": 7, "script": "traditional"})");
  ASSERT_EQ(t_status, 200);
  const auto t_sample = test::run_poet("sample --checkpoint " + checkpoint() +
                                       " --json --form qijue --acrostic 春夏秋冬 --seed 7 --script traditional");
  EXPECT_EQ(traditional["poems"][0]["text"], json::parse(t_sample.out)["poems"][0]["text"]);
  EXPECT_EQ(traditional["poems"][0]["script"], "traditional");
  EXPECT_EQ(chars(traditional["poems"][0]["text"]).size(), chars(poem["text"]).size());
}

TEST_F(Serve, ModelAndHealthSayWhatIsServed) {
  httplib::Client c = server_->client();
  const auto model = c.Get("/api/model");
  ASSERT_TRUE(model);
  ASSERT_EQ(model->status, 200);
  const json m = json::parse(model->body);
  EXPECT_EQ(m["step"], 20);
  EXPECT_EQ(m["config"]["hidden"], 64);
  EXPECT_EQ(m["config"]["layers"], 1);
  EXPECT_GT(m["vocab_size"].get<int>(), 5000);
  EXPECT_GT(m["val_perplexity"].get<double>(), 1.0);
  EXPECT_LT(m["val_perplexity"].get<double>(), static_cast<double>(m["vocab_size"].get<int>()) * 2);
  const std::string table = m["rhyme_table"];
  if (test::real_pingshui_file().empty()) {
    EXPECT_NE(table.find("learned"), std::string::npos) << table;
  } else {
    EXPECT_EQ(table, "平水韵");
  }
  EXPECT_FALSE(m.contains("config_toml"));  // it names the server's files

  const json h = server_->health();
  EXPECT_EQ(h["status"], "ok");
  EXPECT_EQ(h["workers"], 2);

  const auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  EXPECT_NE(page->body.find("id=\"poem-form\""), std::string::npos);
  const auto missing = c.Get("/etc/passwd");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(json::parse(missing->body)["error"], "HTTP 404 for GET /etc/passwd");
}

TEST_F(Serve, BadInputGets400NamingTheField) {
  struct Case {
    std::string body;
    std::string field;
    std::string message;  // the start of the error
  };
  std::string long_prompt;
  for (int i = 0; i < 65; ++i) long_prompt += "春";
  const std::vector<Case> cases = {
      {"not json", "", "the body is not JSON"},
      {"[1, 2]", "", "the body is [1,2], expected a JSON object"},
      {"{\"acrostic\": \"\xff\xfe\"}", "", "the body is not JSON"},
      {R"({"num": 0})", "num", "num: expected an integer from 1 to 8, got 0"},
      {R"({"num": 9})", "num", "num: expected an integer from 1 to 8, got 9"},
      {R"({"num": "3"})", "num", "num: expected an integer from 1 to 8, got \"3\""},
      {R"({"num": 2.5})", "num", "num: expected an integer"},
      {R"({"candidates": 0})", "candidates", "candidates: expected an integer from 1 to 32"},
      {R"({"candidates": 33})", "candidates", "candidates: expected an integer from 1 to 32"},
      {R"({"candidates": 99999999999999999999})", "candidates", "candidates: expected an integer"},
      {R"({"temperature": -0.5})", "temperature", "temperature: expected a number from 0 (greedy) to 5"},
      {R"({"temperature": 6})", "temperature", "temperature: expected a number from 0 (greedy) to 5"},
      {R"({"temperature": "hot"})", "temperature", "temperature: expected a number"},
      {R"({"top_p": 0})", "top_p", "top_p: expected a number in (0, 1]"},
      {R"({"top_p": 1.5})", "top_p", "top_p: expected a number in (0, 1]"},
      {R"({"top_k": -1})", "top_k", "top_k: expected an integer from 0 to 100000"},
      {R"({"seed": -1})", "seed", "seed: expected an integer from 0 to 9007199254740991"},
      {R"({"seed": 9007199254740992})", "seed", "seed: expected an integer from 0 to 9007199254740991"},
      {R"({"acrostic": "一二三四五六七八九"})", "acrostic", "acrostic: 9 characters, expected at most 8"},
      {R"({"acrostic": 5})", "acrostic", "acrostic: expected a string, got 5"},
      {R"({"acrostic": "春夏秋冬春", "form": "qijue"})", "acrostic", "acrostic has 5 characters, but a 七绝"},
      {R"({"acrostic": "<b>"})", "acrostic",
       "acrostic character '<' is not in the model's vocabulary"},
      {R"({"keywords": ["春","江","花","月","夜","山","水","风","云"]})", "keywords",
       "keywords: 9 keywords, expected at most 8"},
      {R"({"keywords": ["春风吹"]})", "keywords", "keywords: 3 characters, expected at most 2"},
      {R"({"keywords": [""]})", "keywords", "keywords: each keyword is one or two characters"},
      {R"({"keywords": {"a": 1}})", "keywords", "keywords: expected a list of strings"},
      {R"({"keywords": ["春", "江"], "form": "free"})", "keywords", "keywords needs a regular form"},
      {"{\"prompt\": \"" + long_prompt + "\"}", "prompt", "prompt: 65 characters, expected at most 64"},
      {R"({"prompt": "春", "acrostic": "春"})", "prompt", "prompt and acrostic cannot be combined"},
      {R"({"form": "sonnet"})", "form", "form: expected one of wujue, qijue, wulv, qilv, free, got \"sonnet\""},
      {R"({"tones": "loud"})", "tones", "tones: expected one of strict, soft, off"},
      {R"({"search": "dfs"})", "search", "search: expected one of candidates, beam"},
      {R"({"script": "latin"})", "script", "script: expected one of simplified, traditional"},
      {R"({"copy_check": "yes"})", "copy_check", "copy_check: expected true or false"},
      // Nothing in a request names a file.
      {R"({"checkpoint": "/etc/passwd"})", "checkpoint", "unknown field 'checkpoint', expected one of prompt,"},
      {R"({"data": "/tmp/x.h5"})", "data", "unknown field 'data'"},
      {R"({"rhyme_table": "learned"})", "rhyme_table", "unknown field 'rhyme_table'"},
      {"{\"prompt\": \"" + std::string(20000, 'a') + "\"}", "", "the body is over 16384 bytes"},
  };
  for (const Case& c : cases) {
    const auto [status, body] = server_->poems(c.body);
    EXPECT_EQ(status, 400) << c.body.substr(0, 80);
    EXPECT_EQ(body["field"], c.field) << c.body.substr(0, 80) << " -> " << body;
    EXPECT_EQ(body["error"].get<std::string>().rfind(c.message, 0), 0u) << c.body.substr(0, 80) << " -> " << body;
  }
  EXPECT_TRUE(server_->healthy());
}

// ---------------------------------------------------------------------------
// Load, the queue and the time limit

TEST_F(Serve, UnderLoadEveryAnswerIs200Or503AndMemoryStaysFlat) {
  constexpr int kClients = 8;
  // Every client the same: a 七绝 of one candidate, each its own seed. A client refused waits
  // 50 ms before its next request, as Retry-After asks (briefly, to keep the test short).
  const auto run = [&](int requests, std::vector<int>* statuses, std::vector<double>* refusal_s) {
    std::atomic<int> next{0};
    std::mutex mutex;
    std::vector<std::thread> clients;
    const auto stop_at = Clock::now() + std::chrono::seconds(240);
    for (int k = 0; k < kClients; ++k) {
      clients.emplace_back([&] {
        httplib::Client c = server_->client(30);
        for (int i = next++; i < requests && Clock::now() < stop_at; i = next++) {
          const auto start = Clock::now();
          const auto res = c.Post("/api/poems", R"({"form":"qijue","candidates":1,"seed":)" + std::to_string(i) + "}",
                                  "application/json");
          const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
          const bool refused = res && res->status == 503;
          {
            std::lock_guard<std::mutex> lock(mutex);
            statuses->push_back(res ? res->status : -1);
            if (refused) refusal_s->push_back(seconds);
          }
          if (refused) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      });
    }
    for (auto& t : clients) t.join();
  };
  std::vector<int> warm_statuses, statuses;
  std::vector<double> warm_refusals, refusals;
  run(80, &warm_statuses, &warm_refusals);  // every worker's and thread's memory in use once
  const long before_kb = resident_kb(server_->pid());
  run(400, &statuses, &refusals);
  const long after_kb = resident_kb(server_->pid());

  ASSERT_EQ(statuses.size(), 400u);
  const auto ok = std::count(statuses.begin(), statuses.end(), 200);
  const auto busy = std::count(statuses.begin(), statuses.end(), 503);
  EXPECT_EQ(ok + busy, 400) << "answers other than 200 or 503";
  EXPECT_GT(ok, 100);
  // 8 clients, 2 workers and 4 places in the queue: some are refused, and at once.
  EXPECT_GT(busy, 0);
  std::sort(refusals.begin(), refusals.end());
  if (!refusals.empty()) {
    EXPECT_LT(refusals[refusals.size() / 2], 0.1) << "median 503 took " << refusals[refusals.size() / 2] << " s";
    EXPECT_LT(refusals.back(), 2.0);
  }
  std::cout << "load: " << ok << " x 200, " << busy << " x 503 (median refusal "
            << (refusals.empty() ? 0 : refusals[refusals.size() / 2] * 1000) << " ms); resident " << before_kb
            << " kB after warm-up, " << after_kb << " kB after 400 requests\n";
  EXPECT_TRUE(server_->healthy());
  EXPECT_LT(after_kb, before_kb + before_kb / 20 + 4096) << "memory grew from " << before_kb << " to " << after_kb << " kB";
}

TEST_F(Serve, AFullQueueIsRefusedAtOnceAndARequestPastItsTimeLimitToo) {
  ServerProcess one("--checkpoint " + checkpoint() + " --workers 1 --queue 0 --timeout 30");
  ASSERT_GT(one.port(), 0) << one.process().err();
  std::thread slow([&] {
    const auto [status, body] = one.poems(R"({"form":"qilv","num":3,"candidates":32,"tones":"strict"})");
    EXPECT_EQ(status, 200) << body;
  });
  ASSERT_TRUE(test::eventually(10, [&] { return one.health()["busy"] == 1; }));
  const auto start = Clock::now();
  const auto [status, body] = one.poems(R"({"form":"wujue"})");
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(status, 503) << body;
  EXPECT_EQ(body["error"], "busy: all 1 workers are writing and 0 requests wait; try again");
  EXPECT_LT(seconds, 0.5);
  slow.join();

  ServerProcess hurried("--checkpoint " + checkpoint() + " --workers 1 --timeout 0.000001");
  ASSERT_GT(hurried.port(), 0) << hurried.process().err();
  const auto [late_status, late] = hurried.poems(R"({"form":"qilv","candidates":32})");
  EXPECT_EQ(late_status, 503) << late;
  EXPECT_EQ(late["error"].get<std::string>().rfind("the request took longer than the time limit of 1e-06 s", 0), 0u)
      << late;
  EXPECT_TRUE(hurried.healthy());
}

TEST_F(Serve, ConnectionsBeyondThePoolAreAnsweredAtOnce) {
  // 1 worker, no queue, and 4 spare threads: 5 connection threads.
  ServerProcess s("--checkpoint " + checkpoint() + " --workers 1 --queue 0");
  ASSERT_GT(s.port(), 0) << s.process().err();
  std::vector<int> idle;  // connected, sending nothing: each holds a thread until it closes
  for (int i = 0; i < 5; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(s.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    idle.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // each taken by a thread
  const auto start = Clock::now();
  const auto [status, body] = s.poems(R"({"form":"wujue"})");
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 0.5);
  EXPECT_EQ(status, 503) << body;
  EXPECT_EQ(body["error"], "busy: every connection thread is taken; try again");
  EXPECT_TRUE(s.healthy());  // the overflow thread still answers the rest
  for (int fd : idle) close(fd);
  EXPECT_TRUE(test::eventually(5, [&] { return s.poems(R"({"form":"wujue","candidates":1})").first == 200; }));
}

TEST_F(Serve, SigtermWhileTheModelsLoadStopsTheServer) {
  // The signal goes once run_server has blocked it (SigBlk holds SIGTERM's bit) and before the
  // four models have loaded, so before listening has begun.
  test::BackgroundCommand s(std::string(POET_BINARY) + " serve --port 0 --workers 4 --checkpoint " + checkpoint());
  const auto blocked = [&] {
    std::ifstream status("/proc/" + std::to_string(s.pid()) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("SigBlk:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> (SIGTERM - 1)) & 1;
    }
    return 0ull;
  };
  const auto give_up = Clock::now() + std::chrono::seconds(30);
  while (blocked() == 0 && Clock::now() < give_up) std::this_thread::sleep_for(std::chrono::microseconds(200));
  // Frozen, it cannot begin listening while the test looks: the signal is surely early.
  ASSERT_EQ(kill(s.pid(), SIGSTOP), 0);
  ASSERT_EQ(blocked(), 1u);
  ASSERT_EQ(s.out().find("http://"), std::string::npos) << "already listening: " << s.out();
  ASSERT_EQ(kill(s.pid(), SIGTERM), 0);
  ASSERT_EQ(kill(s.pid(), SIGCONT), 0);
  EXPECT_EQ(s.wait(30), 0) << s.out() << s.err();
  EXPECT_NE(s.out().find("SIGTERM: finishing the requests in flight\npoet_dist serve: stopped"), std::string::npos)
      << s.out();
}

TEST_F(Serve, SigtermFinishesTheRequestsInFlightAndExits0) {
  ServerProcess s("--checkpoint " + checkpoint() + " --workers 1");
  ASSERT_GT(s.port(), 0) << s.process().err();
  int status = 0;
  json body;
  std::thread slow([&] { std::tie(status, body) = s.poems(R"({"form":"qilv","num":3,"candidates":32,"tones":"strict"})"); });
  ASSERT_TRUE(test::eventually(10, [&] { return s.health()["busy"] == 1; }));
  ASSERT_EQ(kill(s.pid(), SIGTERM), 0);
  EXPECT_EQ(s.process().wait(60), 0) << s.process().err();
  slow.join();
  // The poem begun before the signal was written whole, and nothing is listening now.
  EXPECT_EQ(status, 200) << body;
  ASSERT_EQ(body["poems"].size(), 3u);
  for (const auto& poem : body["poems"]) EXPECT_EQ(poem["lines"].size(), 8u);
  EXPECT_NE(s.process().out().find("poet_dist serve: SIGTERM: finishing the requests in flight\npoet_dist serve: stopped"),
            std::string::npos)
      << s.process().out();
  EXPECT_FALSE(s.healthy());
}

TEST_F(Serve, ListensOnLoopbackOnlyByDefault) {
  // The fixture's server was started without --host; its address is in /proc/net/tcp as
  // 0100007F (127.0.0.1) and port in hex, state 0A (listening).
  char port_hex[8];
  std::snprintf(port_hex, sizeof port_hex, "%04X", server_->port());
  const std::string tcp = test::read_text("/proc/net/tcp");
  EXPECT_NE(tcp.find("0100007F:" + std::string(port_hex) + " 00000000:0000 0A"), std::string::npos);
  EXPECT_EQ(tcp.find("00000000:" + std::string(port_hex) + " 00000000:0000 0A"), std::string::npos);
  // A second server on the same port is refused (httplib's SO_REUSEPORT would share the port).
  const auto refused = test::run_command("timeout 20 " + std::string(POET_BINARY) + " serve --checkpoint " +
                                         checkpoint() + " --port " + std::to_string(server_->port()));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("serve: cannot listen on 127.0.0.1:" + std::to_string(server_->port())), std::string::npos)
      << refused.err;
}

// ---------------------------------------------------------------------------
// The page, in headless Chromium

TEST_F(Serve, ThePageWritesAnAcrosticQijueThenAKeywordWulvInChromium) {
  if (find_on_path("chromedriver").empty() || find_on_path("chromium").empty()) {
    POET_SKIP_UNLESS_REQUIRED("POET_REQUIRE_CHROMIUM",
                              "no chromium or chromedriver (scripts/install-deps.sh installs them)");
  }
  WebDriver browser(path("chromium-profile"));
  ASSERT_TRUE(browser.ok()) << browser.error();
  browser.open("http://127.0.0.1:" + std::to_string(server_->port()) + "/");
  ASSERT_TRUE(test::eventually(20, [&] { return browser.text("#model").find("step 20") != std::string::npos; }))
      << browser.text("#model");

  // The shape on the page: the lines' text, and each line's marked rhyme and tones.
  const auto written = [&] {
    return test::eventually(60, [&] {
      return browser.attribute("#poem", "data-state") == "done" && browser.attribute("#write", "disabled").empty();
    });
  };
  browser.click("#form option[value=qijue]");
  browser.type("#acrostic", "春夏秋冬");
  browser.click("#write");
  ASSERT_TRUE(written()) << browser.text("#error");
  std::vector<std::string> lines = browser.attributes(".line", "data-text");
  ASSERT_EQ(lines.size(), 4u) << browser.text("#error");
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(verse_chars(lines[i]), 7u) << lines[i];
    EXPECT_EQ(chars(lines[i])[0], U"春夏秋冬"[i]) << lines[i];
  }
  EXPECT_EQ(browser.count(".line ruby"), 28);
  EXPECT_EQ(browser.count(".line:nth-child(2) ruby.rhyme"), 1);
  EXPECT_EQ(browser.count(".line:nth-child(4) ruby.rhyme"), 1);
  EXPECT_NE(browser.text("#poem-seed").find("seed "), std::string::npos);

  // Then a 五律 with a keyword a line.
  browser.clear("#acrostic");
  browser.click("#form option[value=wulv]");
  browser.type("#keywords", "山,水,风,月,花,雪,云,雨");
  browser.click("#write");
  ASSERT_TRUE(written()) << browser.text("#error");
  lines = browser.attributes(".line", "data-text");
  ASSERT_EQ(lines.size(), 8u) << browser.text("#error");
  const std::u32string keywords = U"山水风月花雪云雨";
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(verse_chars(lines[i]), 5u) << lines[i];
    EXPECT_NE(chars(lines[i]).find(keywords[i]), std::u32string::npos) << lines[i];
  }
  const std::string seed = browser.attribute("#poem", "data-seed");

  // 繁體 writes the same poem (its seed) in traditional characters; vertical only lays it out anew.
  browser.click("#traditional");
  ASSERT_TRUE(test::eventually(60, [&] {
    return browser.attributes(".line", "data-text") != lines && browser.attribute("#poem", "data-state") == "done";
  }));
  EXPECT_EQ(browser.attribute("#poem", "data-seed"), seed);
  EXPECT_NE(browser.attributes(".line", "data-text")[2].find("風"), std::string::npos)
      << browser.attributes(".line", "data-text")[2];
  browser.click("#vertical");
  EXPECT_EQ(browser.script("return getComputedStyle(document.querySelector('.lines')).writingMode"), "vertical-rl");
  const std::string screenshot = browser.screenshot(path("serve.png"));
  if (const char* keep = std::getenv("POET_SCREENSHOT_DIR")) fs::copy_file(screenshot, fs::path(keep) / "serve.png", fs::copy_options::overwrite_existing);
  EXPECT_GT(fs::file_size(screenshot), 20000u);

  EXPECT_EQ(browser.console_errors(), "");

  // An error is shown as text, and so is a poem: markup in either makes no element.
  browser.clear("#keywords");
  browser.type("#acrostic", "<b>");
  browser.click("#write");
  ASSERT_TRUE(test::eventually(30, [&] { return !browser.text("#error").empty(); }));
  EXPECT_EQ(browser.text("#error"), "acrostic character '<' is not in the model's vocabulary");
  // A message that quotes markup: the page's own write() with a form the select cannot send.
  browser.script("write({form: '<b id=injected>x</b>'})");
  ASSERT_TRUE(test::eventually(30, [&] { return browser.text("#error").find("form:") == 0; }));
  EXPECT_EQ(browser.text("#error"),
            "form: expected one of wujue, qijue, wulv, qilv, free, got \"<b id=injected>x</b>\"");
  EXPECT_EQ(browser.count("#injected"), 0);
  EXPECT_EQ(browser.script("show({form: 'qijue', pattern: '', seed: 1, lines: ['<img id=injected src=x>，'], "
                           "line_tones: [''], rhyme_lines: []}); return document.querySelector('.line').dataset.text"),
            "<img id=injected src=x>，");
  EXPECT_EQ(browser.count("#injected"), 0);
  EXPECT_NE(browser.script("return document.getElementById('poem-lines').innerHTML").find("&lt;img"), std::string::npos);

  // The console's errors now are the browser's notes of the two refusals.
  const std::string refusal = "http://127.0.0.1:" + std::to_string(server_->port()) +
                              "/api/poems - Failed to load resource: the server responded with a status of 400 (Bad "
                              "Request)\n";
  EXPECT_EQ(browser.console_errors(), refusal + refusal);
}

}  // namespace
}  // namespace poet
