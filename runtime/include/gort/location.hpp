// gort::location: a position in the source (file, line, function), as the
// blocking calls, go and spawn record it for reports, dumps and traces.
// Reference: docs/api.md, "Runtime".
//
// gort's own type rather than std::source_location, whose layout is the
// compiler's: GCC's is one pointer to a static record, and clang 14 with
// libstdc++ 12 has no std::source_location at all. This one is three plain
// fields filled from builtins that GCC and clang both have, so a program
// built by either compiler can link a library built by the other.
#pragma once

#include <cstdint>
#include <version>

#if defined(__cpp_lib_source_location)
#include <source_location>
#endif

namespace gort {

class location {
 public:
  // The caller's position, as a default argument: `location where =
  // location::current()` records the line that called the function.
  static constexpr location current(const char* file = __builtin_FILE(),
                                    std::uint_least32_t line = __builtin_LINE(),
                                    const char* function = __builtin_FUNCTION()) noexcept {
    return location(file, line, function);
  }

  // An unknown position: file and function "", line 0.
  constexpr location() noexcept = default;
  // `file` and `function` must outlive every use (string literals do).
  constexpr location(const char* file, std::uint_least32_t line, const char* function = "") noexcept
      : file_(file ? file : ""), function_(function ? function : ""), line_(line) {}
#if defined(__cpp_lib_source_location)
  // Forwards a std::source_location (one a wrapper of gort's calls took).
  constexpr location(const std::source_location& l) noexcept  // NOLINT(google-explicit-constructor)
      : location(l.file_name(), l.line(), l.function_name()) {}
#endif

  constexpr const char* file_name() const noexcept { return file_; }
  constexpr std::uint_least32_t line() const noexcept { return line_; }
  constexpr const char* function_name() const noexcept { return function_; }

 private:
  const char* file_ = "";
  const char* function_ = "";
  std::uint_least32_t line_ = 0;
};

}  // namespace gort
