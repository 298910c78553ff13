// errgroup: fetch several pages at once with gort::errgroup (Go's
// golang.org/x/sync/errgroup) over real sockets. A small page server runs in
// the same program; each fetch dials with net::dial(ctx, ...) and reads and
// writes under the group's context, so cancelling it closes the sockets of
// the fetches still in flight.
//
//   first group:  six pages, at most two fetches at a time: all arrive
//   second group: one page is missing; its failure cancels the group: the
//                 fetches in flight stop, the one still waiting for a slot
//                 stops at once, and wait() rethrows the first failure
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "gort/gort.hpp"

using namespace std::chrono_literals;

namespace {

struct page {
  std::chrono::milliseconds delay;
  std::string body;
};

const std::map<std::string, page> k_pages = {
    {"home", {20ms, "<h1>gort</h1>"}},      {"about", {20ms, "goroutines for C++20"}},
    {"blog", {20ms, "context has landed"}}, {"docs", {20ms, "see docs/README.md"}},
    {"faq", {20ms, "yes, select works"}},   {"jobs", {20ms, "none"}},
    {"slow-a", {10'000ms, "too late"}},     {"slow-b", {10'000ms, "too late"}},
    {"slow-c", {10'000ms, "too late"}},
};

// The page server's fiber for one connection: reads a page name, answers
// after the page's delay; closes without an answer for an unknown page.
void serve_page(gort::net::conn c) {
  try {
    std::string name;
    char ch;
    while (name.size() < 64 && c.read(std::span<char>(&ch, 1)) == 1 && ch != '\n') name += ch;
    auto it = k_pages.find(name);
    if (it == k_pages.end()) return;
    gort::sleep_for(it->second.delay);
    c.write(it->second.body);
  } catch (const std::exception&) {
    // The client gave up (its context was cancelled): nothing to answer.
  }
}

// Fetches `name`; throws when the page is missing, or the context's error
// once the context is done.
std::string fetch(const gort::context& ctx, const std::string& addr, const std::string& name) {
  if (std::error_code e = ctx.err()) throw std::system_error(e, "fetch \"" + name + "\"");
  gort::net::conn c = gort::net::dial(ctx, addr);
  gort::net::write(ctx, c, name + "\n");
  std::string body;
  char buf[512];
  while (std::size_t n = gort::net::read(ctx, c, std::span<char>(buf))) body.append(buf, n);
  if (body.empty()) throw std::runtime_error("fetch \"" + name + "\": page not found");
  return body;
}

// Fetches `names` through one group with at most `limit` at once; prints
// what became of each, then what wait() said.
void fetch_all(const std::string& addr, const std::vector<std::string>& names, int limit) {
  gort::errgroup g(gort::background());
  g.set_limit(limit);
  gort::mutex mu;
  std::map<std::string, std::string> outcome;  // guarded by mu
  std::atomic<int> in_flight{0}, peak{0};
  for (const std::string& name : names) {
    g.go([&, name] {
      int now = ++in_flight;
      for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {}
      std::string what;
      try {
        what = std::to_string(fetch(g.ctx(), addr, name).size()) + " bytes";
      } catch (const std::exception& e) {
        what = e.what();
        --in_flight;
        std::lock_guard l(mu);
        outcome[name] = what;
        throw;  // the group keeps the first failure and cancels the others
      }
      --in_flight;
      std::lock_guard l(mu);
      outcome[name] = what;
    });
  }
  std::string result = "ok";
  try {
    g.wait();
  } catch (const std::exception& e) {
    result = std::string("rethrew: ") + e.what();
  }
  for (const auto& [name, what] : outcome) std::printf("  %s: %s\n", name.c_str(), what.c_str());
  std::printf("  at most %d fetches at once (limit %d); wait() %s\n", peak.load(), limit, result.c_str());
}

}  // namespace

int main() {
  return gort::run([] {
    gort::net::listener ln = gort::net::listen("127.0.0.1:0");
    const std::string addr = "127.0.0.1:" + std::to_string(ln.port());
    auto server = gort::spawn([&ln] {
      try {
        for (;;) gort::go(serve_page, ln.accept());
      } catch (const std::system_error&) {
        // closed: the program is done
      }
    });
    std::printf("six pages, two at a time:\n");
    fetch_all(addr, {"home", "about", "blog", "docs", "faq", "jobs"}, 2);
    std::printf("one page missing, three at a time:\n");
    fetch_all(addr, {"slow-a", "slow-b", "missing", "slow-c"}, 3);
    ln.close();
    server.join();
  });
}
