// scope_exit: runs a function when the scope ends, however it ends (the
// library fundamentals' std::experimental::scope_exit, which libstdc++ 12
// does not ship). gort's one way to write cleanup that must happen.
#pragma once

#include <utility>

namespace gort::detail {

template <class F>
class [[nodiscard]] scope_exit {
 public:
  explicit scope_exit(F f) noexcept : f_(std::move(f)) {}
  scope_exit(const scope_exit&) = delete;
  scope_exit& operator=(const scope_exit&) = delete;
  ~scope_exit() {
    if (active_) f_();
  }
  // The function will not run.
  void release() noexcept { active_ = false; }

 private:
  F f_;
  bool active_ = true;
};

}  // namespace gort::detail
