// libFuzzer target `http`: gort::debug's HTTP layer (debug/http.hpp), fed the
// fuzz input as the bytes one client sends, without sockets and without a
// run (the endpoints that need one answer 503, so nothing blocks). The input
// goes in twice: whole, then in pieces of a size taken from its first byte.
// Both must give the same bytes back and the same decision to close (how
// reads split a stream must not change the answers), and whatever is
// written must be HTTP/1.1 responses. Crashes, sanitizer reports, leaks and
// hangs are libFuzzer's to catch.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "debug/http.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using gort::debug::detail::handle_bytes;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto whole = handle_bytes(in);
  const auto pieces = handle_bytes(in, size ? 1 + data[0] % 16 : 0);
  if (whole.written != pieces.written || whole.closed_early != pieces.closed_early) {
    std::fprintf(stderr, "http_fuzz: the answer depends on how the input was split (pieces of %d)\n",
                 size ? 1 + data[0] % 16 : 0);
    std::abort();
  }
  if (!whole.written.empty() && whole.written.rfind("HTTP/1.1 ", 0) != 0) {
    std::fprintf(stderr, "http_fuzz: not an HTTP/1.1 response: %.80s\n", whole.written.c_str());
    std::abort();
  }
  return 0;
}
