// `poet_dist serve`: a checkpoint behind HTTP (cpp-httplib, Debian's libcpp-httplib-dev).
//   GET  /            the page that writes poems (page.html, built into the binary)
//   POST /api/poems   sample's options as JSON (poem_request.h) -> sample --json's output
//   GET  /api/model   the model's config, vocabulary size, training step, val perplexity
//   GET  /healthz     {"status": "ok", ...} while the server is up
// Errors are JSON {"error": ..., "field": ...}: 400 for a request that is malformed, too large
// or out of range, 503 at once when the workers are busy and the queue is full, or when a
// request's time limit passes. SIGTERM or SIGINT stops accepting, lets the requests in flight
// finish and returns 0.
#pragma once

#include <ostream>
#include <string>

namespace poet {

constexpr int kMaxWorkers = 256;
constexpr int kMaxQueue = 4096;

struct ServeOptions {
  std::string checkpoint;
  std::string data;         // the dataset for tones, rhymes and the copy check; default: the checkpoint's
  std::string rhyme_table;  // pingshui|learned; empty: the 平水韵 where the dataset holds it
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (the log line says which)
  int workers = 0;  // poems written at once, each on one thread (LibTorch's default); 0: the cores
  int queue = 16;   // requests that may wait for a worker
  double timeout_s = 30;
};

// Serves until SIGTERM or SIGINT; returns the exit code. Throws poet::Error when the checkpoint,
// the dataset or the address cannot be had.
int run_server(const ServeOptions& options, std::ostream& log);

}  // namespace poet
