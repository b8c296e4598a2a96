// serve's request parsing, its mapping of the sampler's errors onto fields, and the workers' queue,
// without a server: what the end-to-end tests in serve_test.cpp stand on.
#include <gtest/gtest.h>

#include <optional>
#include <thread>

#include "serve/poem_request.h"
#include "serve/poem_workers.h"

namespace poet {
namespace {

using Clock = std::chrono::steady_clock;

BadRequest refusal_of(const std::string& body) {
  try {
    parse_poem_request(body);
  } catch (const BadRequest& e) {
    return e;
  }
  return BadRequest("(none)", "(no error)");
}

TEST(PoemRequest, FieldsFillTheRequestAndTheRestKeepSamplesDefaults) {
  const PoemRequest defaults;
  const PoemRequest empty = parse_poem_request("{}");
  EXPECT_EQ(empty.candidates, defaults.candidates);
  EXPECT_EQ(empty.temperature, defaults.temperature);
  EXPECT_EQ(empty.tones, defaults.tones);
  EXPECT_EQ(empty.search, defaults.search);
  EXPECT_FALSE(empty.script.has_value());

  const PoemRequest r = parse_poem_request(
      R"({"form": "wulv", "keywords": ["春", "江水"], "temperature": 0, "top_k": 5, "top_p": 0.5, "seed": 9,
          "num": 2, "candidates": 3, "search": "candidates", "script": "traditional", "tones": "strict",
          "copy_check": false, "prompt": ""})");
  EXPECT_EQ(r.form, "wulv");
  EXPECT_EQ(r.keywords, "春,江水");
  EXPECT_EQ(r.temperature, 0);
  EXPECT_EQ(r.top_k, 5);
  EXPECT_EQ(r.top_p, 0.5);
  EXPECT_EQ(r.seed, 9u);
  EXPECT_EQ(r.num, 2);
  EXPECT_EQ(r.candidates, 3);
  EXPECT_EQ(r.search, "candidates");
  EXPECT_EQ(r.script, Script::kTraditional);
  EXPECT_EQ(r.tones, "strict");
  EXPECT_FALSE(r.avoid_copies);
  EXPECT_EQ(parse_poem_request(R"({"keywords": "春,江"})").keywords, "春,江");
}

TEST(PoemRequest, TheLastPoemsSeedStaysExactInJavaScript) {
  EXPECT_EQ(parse_poem_request(R"({"seed": 9007199254740984, "num": 8})").seed, 9007199254740984u);
  const BadRequest e = refusal_of(R"({"seed": 9007199254740985, "num": 8})");
  EXPECT_EQ(e.field(), "seed");
  EXPECT_STREQ(e.what(), "seed: 9007199254740985 with num 8 gives seeds above 9007199254740991");
}

TEST(PoemRequest, TheSamplersErrorsNameTheRequestsFields) {
  const auto mapped = [](const std::string& message) { return bad_request_from(Error(message)); };
  const BadRequest misfit = mapped(
      "keyword '春风' cannot fit line 2 under --tones strict: where its tones fit, it ends the line, and in none of "
      "12 candidates does it rhyme with the rhymes before it");
  EXPECT_EQ(misfit.field(), "keywords");
  EXPECT_NE(std::string(misfit.what()).find("under tones strict:"), std::string::npos) << misfit.what();
  EXPECT_EQ(mapped("acrostic character '<' is not in the model's vocabulary").field(), "acrostic");
  const BadRequest both = mapped("--prompt and --acrostic cannot be combined");
  EXPECT_EQ(both.field(), "prompt");
  EXPECT_STREQ(both.what(), "prompt and acrostic cannot be combined");
  EXPECT_EQ(mapped("--top-k is -1, expected 0 (off) or a positive number").field(), "top_k");
  EXPECT_EQ(mapped("--keywords needs a regular form (--form wujue, qijue, wulv or qilv)").field(), "keywords");
  EXPECT_EQ(mapped("the model is tired").field(), "");
}

TEST(PoemWorkers, AFullQueueIsRefusedAtOnceAndAWaitEndsAtItsDeadline) {
  std::vector<std::unique_ptr<PoemMaker>> makers;
  makers.push_back(std::make_unique<PoemMaker>(LoadedModel{}, nullptr));
  PoemWorkers one(std::move(makers), /*max_waiting=*/1);
  PoemWorkers::Refusal refusal;
  std::optional<PoemWorkers::Lease> held(one.acquire(Clock::now() + std::chrono::seconds(1), &refusal));
  ASSERT_TRUE(*held);
  EXPECT_EQ(one.load().busy, 1u);

  // One may wait; it gives up at its deadline.
  auto start = Clock::now();
  EXPECT_FALSE(one.acquire(start + std::chrono::milliseconds(100), &refusal));
  EXPECT_EQ(refusal, PoemWorkers::Refusal::kTimedOut);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(100));

  // While one waits, the next is refused at once; the waiter gets the worker when it is freed.
  std::thread waiter([&] {
    PoemWorkers::Refusal r;
    const PoemWorkers::Lease lease = one.acquire(Clock::now() + std::chrono::seconds(10), &r);
    EXPECT_TRUE(lease);
    EXPECT_EQ(r, PoemWorkers::Refusal::kNone);
  });
  while (one.load().waiting == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  start = Clock::now();
  EXPECT_FALSE(one.acquire(start + std::chrono::seconds(10), &refusal));
  EXPECT_EQ(refusal, PoemWorkers::Refusal::kQueueFull);
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(50));
  held.reset();
  waiter.join();
  EXPECT_EQ(one.load().busy, 0u);
}

}  // namespace
}  // namespace poet
