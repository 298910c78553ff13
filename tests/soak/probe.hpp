// The soak run's measuring tools: a process's resident memory, descriptors
// and threads from /proc, the http_server demo started as a child process,
// and a small HTTP/1.1 client over gort::net.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "gort/gort.hpp"

namespace soak {

struct proc_sample {
  std::int64_t rss_kb = -1;   // VmRSS
  std::int64_t fds = -1;      // entries of /proc/PID/fd
  std::int64_t threads = -1;  // Threads
};

// Any thread. /proc of `pid` (0: this process); -1 fields if it is gone.
proc_sample sample_process(pid_t pid);

// The http_server demo, started before gort::run (fork + exec) on
// 127.0.0.1 with port 0, serving gort::debug on another port 0. Throws
// std::runtime_error if it does not print both addresses within 10 s.
class server_process {
 public:
  server_process(const std::string& exe, unsigned workers);
  ~server_process();  // kills it if still running
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& address() const { return address_; }
  const std::string& debug_address() const { return debug_address_; }  // /debug/gort/...
  // True while it runs; once it exited, `why` says how.
  bool alive(std::string* why);

 private:
  pid_t pid_ = -1;
  int out_ = -1;  // its stdout, kept open so that a late write cannot SIGPIPE it
  std::string address_, debug_address_;
  bool reaped_ = false;
  int status_ = 0;
};

struct http_response {
  int status = 0;
  std::string body;
};

// One keep-alive HTTP/1.1 connection of a fiber.
class http_client {
 public:
  explicit http_client(std::string address) : address_(std::move(address)) {}
  // GET `path` within `timeout` (connecting first if needed). Throws on any
  // failure (connection, timeout, malformed response), after which the next
  // call reconnects.
  http_response get(const std::string& path, std::chrono::milliseconds timeout);
  void reconnect() { conn_ = gort::net::conn(); }
  std::uint64_t connections() const { return connections_; }

 private:
  std::size_t read_more();

  std::string address_;
  gort::net::conn conn_;
  std::string in_;  // bytes read and not yet parsed
  std::uint64_t connections_ = 0;
};

}  // namespace soak
