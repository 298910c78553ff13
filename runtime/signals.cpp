// SIGQUIT: print every fiber with its call stack and exit 2, as Go does
// (Ctrl-\ or `kill -QUIT` on a hung program shows where everything is).
//
// A signal handler may not allocate or take locks, and symbolizing does
// both. So the handler asks the monitor thread (which never takes SIGQUIT:
// it blocks it) to write the dump and exit, and waits. If the monitor does
// not finish within k_quit_wait_ns (it may need a lock the interrupted
// thread holds) or there is none, the handler writes a dump without stacks
// itself: stack buffers only, the fiber table walked without its lock (its
// chunks are only ever prepended, and never freed while run() is active).
// That dump is best effort, like Go's crash dumps.
//
// Go installs its handler whatever the disposition it inherited; so does
// gort, unless the program installed a handler of its own: a program started
// in the background by a shell (`./server &`, nohup) inherits SIGQUIT as
// ignored and still dumps.
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>

#include "runtime/core.hpp"
#include "runtime/fatal.hpp"
#include "runtime/trace.hpp"

namespace gort::detail {

namespace {

constexpr std::int64_t k_quit_wait_ns = 10'000'000'000;

std::atomic<bool> g_quit_taken{false};  // the first SIGQUIT handles it; others wait for its exit
parker g_quit_wait;                      // the first handler's timed wait (nobody notifies it)

// `st`: f's state as the caller loaded it (acquire).
void write_block_raw(const fiber& f, fiber_state st) {
  char buf[1024];
  const char* state = st == fiber_state::running ? "running"
                      : st == fiber_state::runnable
                          ? "runnable"
                          : wait_reason_text(f.reason_.load(std::memory_order_relaxed)).data();
  int n = std::snprintf(buf, sizeof buf, "goroutine %llu [%s%s]:\n", (unsigned long long)f.id_, state,
                        f.system_ ? ", system" : "");
  auto room = [&] { return n > 0 && std::size_t(n) < sizeof buf; };
  if (room() && st == fiber_state::waiting)
    n += std::snprintf(buf + n, sizeof buf - std::size_t(n), "\t%s:%u\n", f.blocked_at_.file_name(),
                       unsigned(f.blocked_at_.line()));
  if (std::uint64_t holder = room() && st == fiber_state::waiting ? wait_holder_of(f) : 0)
    n += std::snprintf(buf + n, sizeof buf - std::size_t(n), "\theld by goroutine %llu\n",
                       (unsigned long long)holder);
  if (room() && !f.is_main_)
    n += std::snprintf(buf + n, sizeof buf - std::size_t(n), "created by goroutine %llu at %s:%u\n",
                       (unsigned long long)f.creator_id_, f.created_at_.file_name(),
                       unsigned(f.created_at_.line()));
  if (n > 0) write_stderr(std::string_view(buf, std::min(std::size_t(n), sizeof buf - 1)));
  write_stderr("\n");
}

// Every live fiber, by id (main first), without stacks: a selection by
// repeated scans, since a handler cannot allocate to sort.
void write_raw_dump(const runtime& rt) {
  std::uint64_t last = 0;
  for (;;) {
    const fiber* next = nullptr;
    fiber_state next_state{};
    rt.for_each_fiber_unlocked([&](const fiber& f) {
      // Acquire: pairs with the release store of `waiting` in
      // machine::parked(), so a parked fiber's reason and location are
      // complete. (A running fiber's are a racy snapshot, as in Go's dumps.)
      const fiber_state st = f.state_.load(std::memory_order_acquire);
      if (st != fiber_state::runnable && st != fiber_state::running && st != fiber_state::waiting) return;
      if (f.id_ > last && (!next || f.id_ < next->id_)) {
        next = &f;
        next_state = st;
      }
    });
    if (!next) return;
    write_block_raw(*next, next_state);
    last = next->id_;
  }
}

void on_sigquit(int, siginfo_t*, void* uc) {
  // This thread's fiber, if any, is sampled from the context SIGQUIT
  // interrupted (runtime/sampler.cpp) while the monitor dumps.
#if GORT_TSAN
  // TSan runs handlers late, from its own frames, with a stale context:
  // take the registers here, on the interrupted fiber's stack (TSan calls
  // the handler there, not on the signal stack).
  ucontext_t here;
  if (getcontext(&here) == 0) uc = &here;
#endif
  if (machine* m = machine_of_thread()) m->set_quit_context(uc);
  if (g_quit_taken.exchange(true, std::memory_order_acq_rel)) {
    for (;;) pause();  // another thread's handler dumps and exits
  }
  runtime* rt = g_runtime.load(std::memory_order_acquire);
  if (rt && rt->request_quit_dump()) {
    g_quit_wait.wait(now_ns() + k_quit_wait_ns);  // the monitor exits the process before it ends
    write_stderr("gort: the SIGQUIT dump with call stacks did not finish; without them:\n");
  }
  write_stderr("SIGQUIT: quit\n\n");
  if (rt) write_raw_dump(*rt);
  write_trace_on_crash();  // GORT_TRACE's flight recorder (async-signal-safe)
  exit_now(2);
}

}  // namespace

void install_sigquit_handler() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    sigaction(SIGQUIT, nullptr, &old);
    const bool custom = (old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != nullptr
                                                    : old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN;
    if (custom) return;  // the program handles SIGQUIT itself
    struct sigaction sa {};
    sa.sa_sigaction = &on_sigquit;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGQUIT, &sa, nullptr);
  });
}

}  // namespace gort::detail
