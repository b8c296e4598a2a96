// run_server(): load the workers, route, and stop on a signal once the requests in flight are done.
#include "serve/poem_server.h"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <thread>

#include "common/cpu_count.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "serve/connection_queue.h"
#include "serve/poem_request.h"
#include "serve/poem_workers.h"
#include "serve/serve_page.h"

namespace poet {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Connection threads beyond the workers and the queue, for the page, /healthz and /api/model
// while every worker is busy and the queue full.
constexpr int kSpareThreads = 4;
// A client that sends its request or reads its answer slower than this is dropped.
constexpr time_t kSocketTimeoutSeconds = 10;

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // Replaced, not thrown on: an error may quote a request's bytes.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json; charset=utf-8");
}

void refuse(httplib::Response& res, int status, const std::string& field, const std::string& message) {
  json body = {{"error", message}};
  if (status == 400) body["field"] = field;
  if (status == 503) res.set_header("Retry-After", "1");
  reply(res, status, body);
}

json model_facts(const LoadedModel& m) {
  const ModelConfig& c = m.config.model;
  const double loss = m.meta.val_loss;
  return {{"step", m.meta.step},
          {"vocab_size", m.vocab.size()},
          {"val_perplexity", std::isfinite(loss) ? json(std::exp(loss)) : json(nullptr)},
          {"script", script_name(m.script)},
          {"config",
           {{"embed", c.embed}, {"hidden", c.hidden}, {"layers", c.layers}, {"dropout", c.dropout},
            {"tie_weights", c.tie_weights}}}};
}

std::unique_ptr<PoemWorkers> load_workers(const ServeOptions& o, int workers, json* facts) {
  LoadedModel first = load_model(o.checkpoint);
  std::shared_ptr<const VerseRules> rules = load_poem_rules(first, o.data, o.rhyme_table);
  *facts = model_facts(first);
  (*facts)["rhyme_table"] = rules->rhyme_table;
  std::vector<std::unique_ptr<PoemMaker>> makers;
  makers.push_back(std::make_unique<PoemMaker>(std::move(first), rules));
  while (static_cast<int>(makers.size()) < workers) {
    makers.push_back(std::make_unique<PoemMaker>(load_model(o.checkpoint), rules));
  }
  return std::make_unique<PoemWorkers>(std::move(makers), static_cast<size_t>(o.queue));
}

void write_poems(PoemWorkers& workers, double timeout_s, const httplib::Request& req, httplib::Response& res) {
  if (ConnectionQueue::overflowing()) {
    return refuse(res, 503, "", "busy: every connection thread is taken; try again");
  }
  const Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  PoemRequest request;
  try {
    request = parse_poem_request(req.body);
  } catch (const BadRequest& e) {
    return refuse(res, 400, e.field(), e.what());
  }
  PoemWorkers::Refusal refusal;
  const PoemWorkers::Lease worker = workers.acquire(deadline, &refusal);
  if (refusal == PoemWorkers::Refusal::kQueueFull) {
    return refuse(res, 503, "",
                  "busy: all " + std::to_string(workers.workers()) + " workers are writing and " +
                      std::to_string(workers.max_waiting()) + " requests wait; try again");
  }
  const std::string too_long = "the request took longer than the time limit of " + json(timeout_s).dump() + " s";
  if (refusal == PoemWorkers::Refusal::kTimedOut) return refuse(res, 503, "", too_long + " waiting for a worker");
  try {
    reply(res, 200, worker.get()->poems(request, deadline));
  } catch (const TimedOut&) {
    refuse(res, 503, "", too_long);
  } catch (const Error& e) {
    const BadRequest bad = bad_request_from(e);
    refuse(res, 400, bad.field(), bad.what());
  }
}

// SIGTERM and SIGINT go to one thread that stops the server. Every thread blocks them, and
// SIGUSR1 and SIGUSR2 too, so that no signal sets the interrupt flag the sampler checks: it
// would cut every later request short.
sigset_t signal_set(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  return set;
}

}  // namespace

int run_server(const ServeOptions& o, std::ostream& log) {
  if (o.workers < 0 || o.workers > kMaxWorkers) {
    throw Error("--workers is " + std::to_string(o.workers) + ", expected 0 (the cores) to " + std::to_string(kMaxWorkers));
  }
  if (o.queue < 0 || o.queue > kMaxQueue) {
    throw Error("--queue is " + std::to_string(o.queue) + ", expected 0 to " + std::to_string(kMaxQueue));
  }
  if (!(o.timeout_s > 0)) throw Error("--timeout is " + std::to_string(o.timeout_s) + ", expected seconds above 0");
  const sigset_t blocked = signal_set({SIGTERM, SIGINT, SIGUSR1, SIGUSR2});
  const sigset_t stop_signals = signal_set({SIGTERM, SIGINT});
  if (int rc = pthread_sigmask(SIG_BLOCK, &blocked, nullptr); rc != 0) {
    throw_call_failure("pthread_sigmask", __FILE__, __LINE__, std::strerror(rc));
  }
  // A signal before the mask went to the interrupt handler: nothing is served yet to finish.
  if (interrupted()) {
    log << "poet_dist serve: stopped before serving" << std::endl;
    return 0;
  }
  const int workers = o.workers > 0 ? o.workers : available_cores();
  json facts;
  const std::unique_ptr<PoemWorkers> pool = load_workers(o, workers, &facts);
  const std::string model_json = facts.dump();

  httplib::Server server;
  // A connection a request (no keep-alive), so that the pool's threads count requests, and one
  // beyond them is answered at once by the overflow thread (connection_queue.h).
  const int threads = workers + o.queue + kSpareThreads;
  server.new_task_queue = [threads] { return new ConnectionQueue(static_cast<size_t>(threads)); };
  server.set_keep_alive_max_count(1);
  // httplib's default also sets SO_REUSEPORT, which lets a second server share a port in use.
  server.set_socket_options([](socket_t sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server.set_payload_max_length(RequestLimits::kBodyBytes);
  server.set_read_timeout(kSocketTimeoutSeconds);
  server.set_write_timeout(kSocketTimeoutSeconds);
  server.set_default_headers({{"X-Content-Type-Options", "nosniff"}, {"Cache-Control", "no-store"}});

  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    // The page's script and style are inline, and it talks to this server only.
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; "
                   "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    res.set_content(kServePage, "text/html; charset=utf-8");
  });
  server.Get("/healthz", [&pool](const httplib::Request&, httplib::Response& res) {
    const PoemWorkers::Load load = pool->load();
    reply(res, 200, {{"status", "ok"}, {"workers", pool->workers()}, {"busy", load.busy}, {"waiting", load.waiting}});
  });
  server.Get("/api/model", [&model_json](const httplib::Request&, httplib::Response& res) {
    res.set_content(model_json, "application/json; charset=utf-8");
  });
  server.Post("/api/poems", [&pool, &o](const httplib::Request& req, httplib::Response& res) {
    write_poems(*pool, o.timeout_s, req, res);
  });
  // httplib's own refusals (no such route, a body over the limit) answer in JSON too.
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) {
      return refuse(res, 400, "", "the body is over " + std::to_string(RequestLimits::kBodyBytes) + " bytes");
    }
    refuse(res, res.status, "", "HTTP " + std::to_string(res.status) + " for " + req.method + " " + req.path);
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr e) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
    }
    refuse(res, 500, "", what);
  });

  const int port = o.port == 0 ? server.bind_to_any_port(o.host) : (server.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port < 0) throw Error("serve: cannot listen on " + o.host + ":" + std::to_string(o.port) + " (in use, or no such address)");
  log << "poet_dist serve: http://" << o.host << ":" << port << "/ (" << o.checkpoint << ", step "
      << facts["step"].get<int64_t>() << "; " << workers << " workers, " << o.queue << " may wait, "
      << o.timeout_s << " s a request)" << std::endl;

  std::atomic<bool> stopping{false}, listening_over{false};
  std::thread stopper([&] {
    int signal = 0;
    if (int rc = sigwait(&stop_signals, &signal); rc != 0) {
      log << "poet_dist serve: sigwait failed: " << std::strerror(rc) << "; SIGTERM will not stop the server" << std::endl;
      return;
    }
    if (listening_over) return;  // woken by run_server
    stopping = true;
    log << "poet_dist serve: " << (signal == SIGINT ? "SIGINT" : "SIGTERM")
        << ": finishing the requests in flight" << std::endl;
    // A signal that came while the models loaded waits for listening to begin: stop() before
    // it would find nothing to stop.
    while (!server.is_running() && !listening_over) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    server.stop();
  });
  const auto end_stopper = [&] {
    listening_over = true;
    if (!stopping) {
      if (int rc = pthread_kill(stopper.native_handle(), SIGTERM); rc != 0 && rc != ESRCH) {
        throw_call_failure("pthread_kill", __FILE__, __LINE__, std::strerror(rc));
      }
    }
    stopper.join();
  };
  bool listened = false;
  try {
    listened = server.listen_after_bind();
  } catch (...) {
    end_stopper();
    throw;
  }
  end_stopper();
  if (!listened) throw Error("serve: listening on " + o.host + ":" + std::to_string(port) + " failed");
  log << "poet_dist serve: stopped" << std::endl;
  return 0;
}

}  // namespace poet
