#include "debug/routes.hpp"

#include <http_parser.h>

#include <chrono>
#include <sstream>

#include "gort/gort.hpp"
#include "runtime/trace_capture.hpp"

namespace gort::debug::detail {

namespace {

response text(int status, std::string body) {
  response r;
  r.status = status;
  r.body = std::move(body);
  if (r.body.empty() || r.body.back() != '\n') r.body += '\n';
  return r;
}

response no_store(response r) {
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A query component with %XX and '+' decoded; nullopt if an escape is malformed.
std::optional<std::string> unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += char(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

response dashboard() {
  response r;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::string(dashboard_page());
  // Everything the page needs is in it; this also keeps it from loading
  // anything from another host.
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                         "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'");
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

response stats_json() {
  if (gort::num_workers() == 0) return text(503, "503 service unavailable: no gort::run() is active");
  response r;
  r.content_type = "application/json";
  r.body = gort::stats().to_json();
  return no_store(std::move(r));
}

response fiber_dump() {
  if (gort::num_workers() == 0) return text(503, "503 service unavailable: no gort::run() is active");
  std::ostringstream os;
  gort::dump_fibers(os);
  return no_store(text(200, os.str()));
}

response trace(std::string_view query) {
  const std::optional<int> seconds = trace_seconds(query);
  if (!seconds)
    return text(400, "400 bad request: want /debug/gort/trace?seconds=N with N from 1 to 60, not \"" +
                         std::string(query) + "\"");
  std::string json;
  using status = gort::detail::capture_status;
  switch (gort::detail::capture_trace(std::chrono::seconds(*seconds), json)) {
    case status::ok: break;
    case status::busy:
      return text(409, "409 conflict: another trace is being recorded; try again when it has finished");
    case status::failed: return text(503, "503 service unavailable: cannot record a trace now");
  }
  response r;
  r.content_type = "application/json";
  r.body = std::move(json);
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"gort-trace.json\"");
  return no_store(std::move(r));
}

}  // namespace

std::optional<int> trace_seconds(std::string_view query) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    const auto key = unescape(pair.substr(0, eq));
    if (!key || *key != "seconds") continue;
    if (eq == std::string_view::npos) return std::nullopt;
    const auto value = unescape(pair.substr(eq + 1));
    if (!value || value->empty() || value->size() > 2) return std::nullopt;
    int n = 0;
    for (char c : *value) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + (c - '0');
    }
    if (n < 1 || n > 60) return std::nullopt;
    return n;
  }
  return std::nullopt;
}

response route(const request& req) {
  http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(req.target.data(), req.target.size(), 0, &u) != 0)
    return text(400, "400 bad request: malformed request target");
  auto field = [&](int f) -> std::string_view {
    if (!(u.field_set & (1 << f))) return {};
    return std::string_view(req.target).substr(u.field_data[f].off, u.field_data[f].len);
  };
  const std::string_view path = field(UF_PATH), query = field(UF_QUERY);
  enum { dash, stats, fibers, trc, none } page = none;
  if (path == "/debug/gort/") page = dash;
  if (path == "/debug/gort/stats") page = stats;
  if (path == "/debug/gort/fibers") page = fibers;
  if (path == "/debug/gort/trace") page = trc;
  if (page == none) return text(404, "404 page not found");
  if (req.method != "GET" && req.method != "HEAD") {
    response r = text(405, "405 method not allowed: " + req.method);
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  switch (page) {
    case dash: return dashboard();
    case stats: return stats_json();
    case fibers: return fiber_dump();
    case trc: return trace(query);
    case none: break;
  }
  return text(404, "404 page not found");
}

}  // namespace gort::debug::detail
