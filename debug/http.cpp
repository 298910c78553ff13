#include "debug/http.hpp"

#include <http_parser.h>

#include <exception>

#include "debug/routes.hpp"

namespace gort::debug::detail {

namespace {
std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

response error_response(int status, std::string_view text) {
  response r;
  r.status = status;
  r.body = std::to_string(status) + " " + std::string(text) + "\n";
  return r;
}
}  // namespace

void append_response(std::string& out, const response& r, bool head, bool close) {
  out.append("HTTP/1.1 ").append(std::to_string(r.status)).append(" ").append(reason_phrase(r.status));
  out.append("\r\nContent-Type: ").append(r.content_type);
  out.append("\r\nContent-Length: ").append(std::to_string(r.body.size()));
  out.append("\r\nX-Content-Type-Options: nosniff");
  for (const auto& [name, value] : r.headers) out.append("\r\n").append(name).append(": ").append(value);
  if (close) out.append("\r\nConnection: close");
  out.append("\r\n\r\n");
  if (!head) out.append(r.body);
}

// ---- the parser's state and callbacks (the connection's fiber) -------------

struct http_connection::impl {
  http_parser parser;
  handler answer;
  limits lim;
  request req;  // the one being parsed
  std::size_t header_bytes = 0, body_bytes = 0;
  bool in_message = false;
  bool complete = false;  // req is whole; the parser is paused until it is answered
  bool keep_alive = true;
  int too_large = 0;  // 431 or 413 once a limit was passed
  bool closed = false;

  static impl& of(http_parser* p) { return *static_cast<impl*>(p->data); }

  int count_header(std::size_t n) {
    header_bytes += n;
    if (header_bytes <= lim.max_header_bytes) return 0;
    too_large = 431;
    return 1;  // stops the parser (HPE_CB_*)
  }

  static int on_message_begin(http_parser* p) {
    impl& s = of(p);
    s.req = {};
    s.header_bytes = s.body_bytes = 0;
    s.in_message = true;
    return 0;
  }
  static int on_url(http_parser* p, const char* at, std::size_t n) {
    impl& s = of(p);
    if (s.count_header(n)) return 1;
    s.req.target.append(at, n);
    return 0;
  }
  static int on_header_part(http_parser* p, const char*, std::size_t n) { return of(p).count_header(n); }
  static int on_headers_complete(http_parser* p) {
    of(p).req.method = http_method_str(static_cast<http_method>(p->method));
    return 0;
  }
  static int on_body(http_parser* p, const char*, std::size_t n) {
    impl& s = of(p);
    s.body_bytes += n;
    if (s.body_bytes <= s.lim.max_body_bytes) return 0;
    s.too_large = 413;
    return 1;
  }
  static int on_message_complete(http_parser* p) {
    impl& s = of(p);
    s.in_message = false;
    s.complete = true;
    s.keep_alive = http_should_keep_alive(p) != 0 && !p->upgrade;
    http_parser_pause(p, 1);  // answered before anything pipelined after it is parsed
    return 0;
  }

  static const http_parser_settings& settings() {
    static const http_parser_settings st = [] {
      http_parser_settings x;
      http_parser_settings_init(&x);
      x.on_message_begin = on_message_begin;
      x.on_url = on_url;
      x.on_header_field = on_header_part;
      x.on_header_value = on_header_part;
      x.on_headers_complete = on_headers_complete;
      x.on_body = on_body;
      x.on_message_complete = on_message_complete;
      return x;
    }();
    return st;
  }

  // Answers req; false if the connection closes after the answer.
  bool answer_request(std::string& out) {
    complete = false;
    response r;
    try {
      r = answer(req);
    } catch (const std::exception& e) {
      r = error_response(500, std::string("internal server error: ") + e.what());
    }
    append_response(out, r, req.method == "HEAD", !keep_alive);
    if (!keep_alive) return false;
    http_parser_pause(&parser, 0);
    return true;
  }
};

http_connection::http_connection(handler h, limits l) : p_(std::make_unique<impl>()) {
  p_->answer = std::move(h);
  p_->lim = l;
  http_parser_init(&p_->parser, HTTP_REQUEST);
  p_->parser.data = p_.get();
}

http_connection::~http_connection() = default;

bool http_connection::mid_request() const noexcept { return p_->in_message; }

bool http_connection::feed(std::string_view data) {
  impl& s = *p_;
  if (s.closed) return false;
  if (data.empty()) {  // the client is done sending: nothing more to answer
    s.closed = true;
    return false;
  }
  while (!data.empty()) {
    const std::size_t used = http_parser_execute(&s.parser, &impl::settings(), data.data(), data.size());
    data.remove_prefix(std::min(used, data.size()));
    if (s.complete) {
      if (s.answer_request(out_)) continue;
      s.closed = true;
      return false;
    }
    if (HTTP_PARSER_ERRNO(&s.parser) == HPE_OK && used > 0) continue;
    s.closed = true;
    if (s.too_large == 431) {
      append_response(out_, error_response(431, "request header fields too large"), false, true);
    } else if (s.too_large == 413) {
      append_response(out_, error_response(413, "content too large"), false, true);
    } else {
      append_response(out_, error_response(400, "bad request"), false, true);
    }
    return false;
  }
  return true;
}

exchange handle_bytes(std::string_view input, std::size_t chunk) {
  exchange x;
  http_connection c(&route);
  if (chunk == 0) chunk = input.size();
  bool open = true;
  while (open && !input.empty()) {
    const std::string_view piece = input.substr(0, chunk);
    input.remove_prefix(piece.size());
    open = c.feed(piece);
  }
  x.closed_early = !open;
  if (open) c.feed({});
  x.written = std::move(c.output());
  return x;
}

}  // namespace gort::debug::detail
