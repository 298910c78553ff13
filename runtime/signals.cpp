// SIGQUIT: print every fiber and exit 2, as Go does (Ctrl-\ on a hung
// program shows where everything is blocked).
//
// The handler cannot allocate or take locks safely: it formats into a stack
// buffer and walks the fiber table's chunk list without its lock (chunks are
// only ever prepended, and never freed while run() is active). The dump is
// best effort, like Go's crash dumps.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>

#include "runtime/core.hpp"
#include "runtime/fatal.hpp"
#include "runtime/trace.hpp"

namespace gort::detail {

namespace {

// `st`: f's state as the caller loaded it (acquire).
void write_block_raw(const fiber& f, fiber_state st) {
  char buf[1024];
  const char* state = st == fiber_state::running ? "running"
                      : st == fiber_state::runnable
                          ? "runnable"
                          : wait_reason_text(f.reason_.load(std::memory_order_relaxed)).data();
  int n = std::snprintf(buf, sizeof buf, "goroutine %llu [%s%s]:\n\t%s:%u\n", (unsigned long long)f.id_, state,
                        f.system_ ? ", system" : "", f.blocked_at_.file_name(), unsigned(f.blocked_at_.line()));
  if (n > 0 && !f.is_main_ && std::size_t(n) < sizeof buf) {
    n += std::snprintf(buf + n, sizeof buf - std::size_t(n), "created by goroutine %llu at %s:%u\n",
                       (unsigned long long)f.creator_id_, f.created_at_.file_name(),
                       unsigned(f.created_at_.line()));
  }
  if (n > 0) write_stderr(std::string_view(buf, std::min(std::size_t(n), sizeof buf - 1)));
  write_stderr("\n");
}

void on_sigquit(int) {
  write_stderr("SIGQUIT: quit\n\n");
  if (runtime* rt = g_runtime.load(std::memory_order_acquire))
    rt->for_each_fiber_unlocked([](const fiber& f) {
      // Acquire: pairs with the release store of `waiting` in
      // worker::parked(), so a parked fiber's reason and location are
      // complete. (A running fiber's are a racy snapshot, as in Go's dumps.)
      fiber_state st = f.state_.load(std::memory_order_acquire);
      if (st == fiber_state::runnable || st == fiber_state::running || st == fiber_state::waiting)
        write_block_raw(f, st);
    });
  write_trace_on_crash();  // GORT_TRACE's flight recorder (async-signal-safe)
  exit_now(2);
}

}  // namespace

void install_sigquit_handler() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    sigaction(SIGQUIT, nullptr, &old);
    if (old.sa_handler != SIG_DFL) return;  // the program handles SIGQUIT itself
    struct sigaction sa {};
    sa.sa_handler = &on_sigquit;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGQUIT, &sa, nullptr);
  });
}

}  // namespace gort::detail
