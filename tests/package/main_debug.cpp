// The package test's gort::debug consumer: serves the debug endpoints on a
// free loopback port and asks itself for the statistics (exit 0 only if they
// come back as the runtime's JSON).
#include <gort/debug.hpp>
#include <gort/gort.hpp>

#include <cstdio>
#include <string>

int main() {
  std::string answer;
  gort::run(
      [&] {
        auto dbg = gort::debug::serve("127.0.0.1:0");
        auto c = gort::net::dial("127.0.0.1:" + std::to_string(dbg.port()));
        c.write("GET /debug/gort/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        char buf[4096];
        while (std::size_t n = c.read(std::span<char>(buf))) answer.append(buf, n);
      },
      {.workers = 2});
  if (answer.rfind("HTTP/1.1 200 OK\r\n", 0) != 0 ||
      answer.find("\r\n\r\n{\"workers\":2,") == std::string::npos) {
    std::fprintf(stderr, "package debug consumer: unexpected answer:\n%s\n", answer.c_str());
    return 1;
  }
  std::puts("package debug consumer: ok");
  return 0;
}
