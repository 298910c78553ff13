// /proc sampling, the server child process and the HTTP client (probe.hpp).
#include "probe.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>

namespace soak {

namespace {

std::int64_t status_field(const std::string& status, const char* name) {
  const std::size_t at = status.find(name);
  if (at == std::string::npos) return -1;
  return std::strtoll(status.c_str() + at + std::strlen(name), nullptr, 10);
}

std::int64_t count_entries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return -1;
  std::int64_t n = 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n;
}

}  // namespace

proc_sample sample_process(pid_t pid) {
  const std::string base = pid ? "/proc/" + std::to_string(pid) : std::string("/proc/self");
  proc_sample s;
  std::ifstream f(base + "/status");
  if (!f) return s;
  const std::string status((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  s.rss_kb = status_field(status, "VmRSS:");
  s.threads = status_field(status, "Threads:");
  s.fds = count_entries(base + "/fd");
  return s;
}

server_process::server_process(const std::string& exe, unsigned workers) {
  int pipefd[2];
  if (pipe(pipefd) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const std::string w = std::to_string(workers);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    dup2(pipefd[1], STDOUT_FILENO);
    close(pipefd[0]);
    close(pipefd[1]);
    execl(exe.c_str(), exe.c_str(), "--addr", "127.0.0.1:0", "--workers", w.c_str(), "--debug-addr",
          "127.0.0.1:0", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(pipefd[1]);
  out_ = pipefd[0];
  // "listening on 127.0.0.1:PORT\ndebug on http://127.0.0.1:PORT/debug/gort/\n"
  std::string line;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::count(line.begin(), line.end(), '\n') < 2) {
    pollfd p{out_, POLLIN, 0};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
    char buf[256];
    ssize_t n = 0;
    if (left.count() <= 0 || poll(&p, 1, int(left.count())) <= 0 || (n = read(out_, buf, sizeof buf)) <= 0)
      throw std::runtime_error("soak: " + exe + " did not print its address (got \"" + line + "\")");
    line.append(buf, std::size_t(n));
  }
  const std::string prefix = "listening on ";
  if (line.rfind(prefix, 0) != 0)
    throw std::runtime_error("soak: unexpected first line from the server: " + line);
  address_ = line.substr(prefix.size(), line.find('\n') - prefix.size());
  const std::string debug = "\ndebug on http://";
  const std::size_t at = line.find(debug);
  if (at == std::string::npos) throw std::runtime_error("soak: no debug address from the server: " + line);
  debug_address_ = line.substr(at + debug.size(), line.find('/', at + debug.size()) - at - debug.size());
}

server_process::~server_process() {
  std::string why;
  if (pid_ > 0 && alive(&why)) {
    kill(pid_, SIGTERM);
    waitpid(pid_, &status_, 0);
  }
  if (out_ >= 0) close(out_);
}

bool server_process::alive(std::string* why) {
  if (!reaped_) {
    const pid_t r = waitpid(pid_, &status_, WNOHANG);
    if (r == 0) return true;
    reaped_ = true;
  }
  if (why) {
    *why = WIFEXITED(status_) ? "exited with status " + std::to_string(WEXITSTATUS(status_))
                              : "killed by signal " + std::to_string(WTERMSIG(status_));
  }
  return false;
}

std::size_t http_client::read_more() {
  char buf[4096];
  const std::size_t n = conn_.read(std::span<char>(buf, sizeof buf));
  if (n == 0) throw std::runtime_error("connection closed by the server");
  in_.append(buf, n);
  return n;
}

http_response http_client::get(const std::string& path, std::chrono::milliseconds timeout) {
  try {
    if (!conn_) {
      conn_ = gort::net::dial(address_);
      in_.clear();
      ++connections_;
    }
    conn_.set_deadline(std::chrono::steady_clock::now() + timeout);
    conn_.write("GET " + path + " HTTP/1.1\r\nHost: soak\r\n\r\n");
    std::size_t head_end;
    while ((head_end = in_.find("\r\n\r\n")) == std::string::npos) read_more();
    const std::string head = in_.substr(0, head_end);
    http_response r;
    if (head.rfind("HTTP/1.1 ", 0) != 0)
      throw std::runtime_error("malformed status line: " + head.substr(0, 40));
    r.status = std::atoi(head.c_str() + 9);
    const std::size_t cl = head.find("Content-Length: ");
    if (cl == std::string::npos) throw std::runtime_error("no Content-Length");
    const std::size_t length = std::size_t(std::strtoull(head.c_str() + cl + 16, nullptr, 10));
    while (in_.size() < head_end + 4 + length) read_more();
    r.body = in_.substr(head_end + 4, length);
    in_.erase(0, head_end + 4 + length);
    return r;
  } catch (...) {
    reconnect();
    throw;
  }
}

}  // namespace soak
