// trace_writer: the JSON text of a trace, formatted into a caller's buffer and
// handed to a flush function whenever it fills. It allocates nothing and
// calls nothing but the flush function, so it is async-signal-safe whenever
// that is (a write(2) to a file is; appending to a std::string is not).
// One writer per trace being written; not shared between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace gort::detail {

class trace_writer {
 public:
  // Returns false when the bytes could not be stored; later output is dropped.
  using flush_fn = bool (*)(void* ctx, const char* data, std::size_t n) noexcept;

  trace_writer(char* buf, std::size_t cap, flush_fn flush, void* ctx) noexcept
      : buf_(buf), cap_(cap), flush_(flush), ctx_(ctx) {}
  trace_writer(const trace_writer&) = delete;
  trace_writer& operator=(const trace_writer&) = delete;

  void put(std::string_view s) noexcept {
    for (char c : s) put(c);
  }
  void put(char c) noexcept {
    if (len_ == cap_) drain();
    buf_[len_++] = c;
  }
  void put_uint(std::uint64_t v) noexcept {
    char digits[20];
    int n = 0;
    do {
      digits[n++] = char('0' + v % 10);
      v /= 10;
    } while (v);
    while (n) put(digits[--n]);
  }
  // A duration or timestamp in ns, written in µs with three decimals (the
  // unit of Chrome's trace format); negative values are written as 0.
  void put_us(std::int64_t ns) noexcept {
    if (ns < 0) ns = 0;
    put_uint(std::uint64_t(ns) / 1000);
    const auto frac = unsigned(std::uint64_t(ns) % 1000);
    put('.');
    put(char('0' + frac / 100));
    put(char('0' + frac / 10 % 10));
    put(char('0' + frac % 10));
  }
  // The contents of a JSON string (without the quotes).
  void put_escaped(const char* s) noexcept {
    static constexpr char k_hex[] = "0123456789abcdef";
    for (; s && *s; ++s) {
      const auto c = static_cast<unsigned char>(*s);
      if (c == '"' || c == '\\') {
        put('\\');
        put(char(c));
      } else if (c < 0x20) {
        put("\\u00");
        put(k_hex[c >> 4]);
        put(k_hex[c & 15]);
      } else {
        put(char(c));
      }
    }
  }
  // Flushes what is buffered; false if any flush failed.
  bool finish() noexcept {
    drain();
    return ok_;
  }

 private:
  void drain() noexcept {
    if (ok_ && len_) ok_ = flush_(ctx_, buf_, len_);
    len_ = 0;
  }

  char* buf_;
  std::size_t cap_;
  std::size_t len_ = 0;
  flush_fn flush_;
  void* ctx_;
  bool ok_ = true;
};

}  // namespace gort::detail
