#include "scheduler/random.hpp"

#include "scheduler/clock.hpp"

namespace gort::detail {

[[gnu::noinline]] std::uint64_t thread_rand() noexcept {
  thread_local fast_rand r(std::uint64_t(now_ns()) ^ reinterpret_cast<std::uintptr_t>(&r));
  return r.next();
}

}  // namespace gort::detail
