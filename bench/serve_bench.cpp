// serve_bench: poet_dist serve under 1, 2 and 8 concurrent clients on loopback, each asking for
// one 七绝 at the defaults (a seed of its own each time). Prints poems per second and the p50 and
// p99 latency of the poems written, and how many requests were refused (503; a refused client
// waits 50 ms before asking again). The server is started here, on a free port, and stopped by
// SIGTERM at the end.
//   serve_bench --checkpoint CK [--binary build/bin/poet_dist] [--requests 64] [--workers 0]
#include <CLI/CLI.hpp>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <regex>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Server {
  pid_t pid = -1;
  int port = -1;
};

// Starts `binary serve` and reads its port from the first line it prints.
Server start_server(const std::string& binary, const std::string& checkpoint, int workers) {
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("serve_bench: pipe failed");
  Server s;
  s.pid = fork();
  if (s.pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    const std::string w = std::to_string(workers);
    execl(binary.c_str(), binary.c_str(), "serve", "--checkpoint", checkpoint.c_str(), "--port", "0", "--workers",
          w.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  FILE* stream = fdopen(out[0], "r");
  char line[1024];
  if (fgets(line, sizeof line, stream) != nullptr) {
    std::cout << line;
    std::cmatch m;
    if (std::regex_search(line, m, std::regex("http://[^:]+:([0-9]+)/"))) s.port = std::stoi(m[1]);
  }
  if (s.port < 0) throw std::runtime_error("serve_bench: " + binary + " serve did not start");
  return s;
}

struct Round {
  int clients = 0;
  int written = 0;
  int refused = 0;
  double seconds = 0;
  std::vector<double> latencies;  // of the poems written
};

Round run_round(int port, int clients, int requests) {
  Round r;
  r.clients = clients;
  std::atomic<int> next{0};
  std::mutex mutex;
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(std::chrono::seconds(60));
      for (int i = next++; i < requests; i = next++) {
        for (;;) {  // until poem i is written, or fails otherwise than by a refusal
          const auto t0 = Clock::now();
          const auto res = client.Post("/api/poems", "{\"form\": \"qijue\", \"seed\": " + std::to_string(i) + "}",
                                       "application/json");
          const double s = std::chrono::duration<double>(Clock::now() - t0).count();
          const bool refused = res && res->status == 503;
          {
            std::lock_guard<std::mutex> lock(mutex);
            if (res && res->status == 200) {
              ++r.written;
              r.latencies.push_back(s);
            } else if (refused) {
              ++r.refused;
            } else {
              std::cerr << "serve_bench: request " << i << ": " << (res ? std::to_string(res->status) : "no answer")
                        << "\n";
            }
          }
          if (!refused) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(r.latencies.begin(), r.latencies.end());
  return r;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto at = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(at, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"poet_dist serve under concurrent clients: poems/s and latency for one 七绝"};
  std::string checkpoint, binary = "build/bin/poet_dist";
  int requests = 64, workers = 0;
  app.add_option("--checkpoint", checkpoint, "Checkpoint to serve")->required();
  app.add_option("--binary", binary, "poet_dist to run")->capture_default_str();
  app.add_option("--requests", requests, "Poems written at each concurrency")->capture_default_str();
  app.add_option("--workers", workers, "serve --workers (0: the cores)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    const Server server = start_server(binary, checkpoint, workers);
    run_round(server.port, 1, 2);  // the first requests pay for the workers' first allocations
    std::printf("clients  poems/s  p50 ms  p99 ms  refused (503)  poems\n");
    for (int clients : {1, 2, 8}) {
      const Round r = run_round(server.port, clients, requests);
      std::printf("%7d  %7.2f  %6.0f  %6.0f  %13d  %5d\n", clients, r.written / r.seconds,
                  percentile(r.latencies, 0.5) * 1000, percentile(r.latencies, 0.99) * 1000, r.refused, r.written);
      std::printf("RESULT clients=%d poems_per_s=%.3f p50_ms=%.1f p99_ms=%.1f\n", clients, r.written / r.seconds,
                  percentile(r.latencies, 0.5) * 1000, percentile(r.latencies, 0.99) * 1000);
    }
    kill(server.pid, SIGTERM);
    int status = 0;
    waitpid(server.pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
