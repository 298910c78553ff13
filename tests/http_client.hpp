// A small keep-alive HTTP/1.1 client on gort::net for the gort::debug tests:
// sends raw bytes, reads responses framed by Content-Length.
#pragma once

#include <chrono>
#include <cstdlib>
#include <string>

#include "gort/gort.hpp"

namespace gort_test {

struct http_response {
  int status = 0;  // 0: the server closed before a whole response
  std::string headers, body;

  // The value of header `name` (case as sent), or "".
  std::string header(const std::string& name) const {
    const std::string key = "\r\n" + name + ": ";
    auto at = headers.find(key);
    if (at == std::string::npos) return "";
    at += key.size();
    return headers.substr(at, headers.find("\r\n", at) - at);
  }
};

class http_client {
 public:
  explicit http_client(const std::string& addr) : c_(gort::net::dial(addr)) {}

  void send(const std::string& raw) { c_.write(raw); }
  http_response get(const std::string& target, const std::string& method = "GET") {
    send(method + " " + target + " HTTP/1.1\r\nHost: test\r\n\r\n");
    return receive(method == "HEAD");
  }
  // One response (without a body after a HEAD request).
  http_response receive(bool head = false) {
    http_response r;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return r;
    r.headers = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    r.status = std::atoi(r.headers.c_str() + 9);
    const std::string cl = r.header("Content-Length");
    const std::size_t len = head || cl.empty() ? 0 : std::stoul(cl);
    while (buf_.size() < len)
      if (!fill()) return {};
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }
  // Reads until the server closes the connection (end of stream, or a
  // reset): true if it did within `within`.
  bool closed_by_server(std::chrono::milliseconds within = std::chrono::seconds(15)) {
    c_.set_deadline(std::chrono::steady_clock::now() + within);
    try {
      while (fill()) {}
    } catch (const gort::net::timeout_error&) {
      return false;
    } catch (const std::system_error&) {}
    return true;
  }
  gort::net::conn& conn() { return c_; }

 private:
  bool fill() {
    char tmp[16384];
    const std::size_t n = c_.read(std::span<char>(tmp));
    buf_.append(tmp, n);
    return n > 0;
  }
  gort::net::conn c_;
  std::string buf_;
};

}  // namespace gort_test
