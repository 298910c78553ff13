#include "runtime/fatal.hpp"
#include "runtime/sanitizer.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "runtime/core.hpp"
#include "runtime/fiber.hpp"
#include "runtime/machine.hpp"
#include "runtime/trace.hpp"
#include "runtime/traceback.hpp"

namespace gort::detail {

void write_stderr(std::string_view s) noexcept {
  while (!s.empty()) {
    ssize_t n = ::write(STDERR_FILENO, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    s.remove_prefix(std::size_t(n));
  }
}

void exit_now(int code) noexcept {
  tsan_switch_to(tsan_create_fiber());
  _exit(code);
}

void fatal(std::string_view msg) noexcept {
  std::fflush(stdout);
  std::string out = "fatal error: ";
  out.append(msg);
  out.push_back('\n');
  write_stderr(out);
  write_trace_on_crash();
  exit_now(2);
}

void fatal_errno(const char* what) noexcept {
  int e = errno;
  std::string msg = what;
  msg += ": ";
  msg += std::strerror(e);
  fatal(msg);
}

std::uint64_t wait_holder_of(const fiber& f) noexcept {
  // Acquire: pairs with the release store in set_wait_target(), so the
  // holder function written before it is seen.
  const void* obj = f.wait_obj_.load(std::memory_order_acquire);
  if (!obj || f.state_.load(std::memory_order_acquire) != fiber_state::waiting) return 0;
  auto* holder = f.wait_holder_.load(std::memory_order_relaxed);
  // The fiber may have moved on to another wait (another kind of lock) in
  // between: the holder function is only good for `obj` if obj is unchanged
  // after it was read (a seqlock-style re-check; the same object means the
  // same kind of lock, so the same function).
  std::atomic_thread_fence(std::memory_order_acquire);
  if (!holder || f.wait_obj_.load(std::memory_order_relaxed) != obj) return 0;
  return holder(obj);
}

std::string duration_text(std::int64_t ns) {
  const std::int64_t ms = ns / 1'000'000;
  if (ms < 10'000) return std::to_string(ms) + " ms";
  if (ms < 60'000) return std::to_string(ms / 1000) + " s";
  const std::int64_t minutes = ms / 60'000;
  return std::to_string(minutes) + (minutes == 1 ? " minute" : " minutes");
}

void panic(const fiber& f, std::exception_ptr e, bool at_throw) noexcept {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what = ex.what();
  } catch (...) {}
  std::fflush(stdout);
  std::string out = "panic: " + what + "\n\n";
  {
    traceback_session ts;
    block_info b;
    b.f = &f;
    b.state = "running";
    if (at_throw) b.stack = ts.here(f);
    machine* m = machine_of_thread();
    append_block(out, b, ts, m && m->rt().config().env.traceback_system);
  }
  write_stderr(out);
  write_trace_on_crash();
  exit_now(2);
}

namespace {
std::terminate_handler g_previous_terminate = nullptr;

// std::terminate's handler. An exception that escapes a go() fiber finds no
// handler on that fiber's stack (run_fiber_body catches only fiber_unwind),
// so __cxa_throw calls std::terminate before unwinding anything: the stack
// here still holds the throw site, which panic() prints. (A noexcept
// boundary would not do: the C++ runtime unwinds up to it first.) Anything
// else goes to the handler that was there before.
[[noreturn]] void on_terminate() {
  machine* m = machine_of_thread();
  fiber* f = m ? m->current() : nullptr;
  if (f && !f->is_main_) {
    if (std::exception_ptr e = std::current_exception()) panic(*f, e, true);
  }
  if (g_previous_terminate) g_previous_terminate();
  std::abort();
}
}  // namespace

void install_terminate_handler() noexcept {
  static std::once_flag once;
  std::call_once(once, [] { g_previous_terminate = std::set_terminate(&on_terminate); });
}

bool panics_at_throw() noexcept { return std::get_terminate() == &on_terminate; }

void stack_overflow(const fiber& f) noexcept {
  // Called from a signal handler: no allocation.
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, "fatal error: stack overflow in goroutine %llu (created at %s:%u)\n",
                        static_cast<unsigned long long>(f.id_), f.created_at_.file_name(),
                        unsigned(f.created_at_.line()));
  if (n > 0)
    write_stderr(std::string_view(buf, std::size_t(n) < sizeof buf ? std::size_t(n) : sizeof buf - 1));
  write_trace_on_crash();  // async-signal-safe
  exit_now(2);
}

#if GORT_ASAN || GORT_TSAN
void install_overflow_handler() noexcept {}
void enter_signal_stack() noexcept {}
void leave_signal_stack() noexcept {}
#else
namespace {
struct sigaction g_previous;
constexpr std::size_t k_altstack = 64 * 1024;
thread_local void* t_altstack = nullptr;

void on_segv(int sig, siginfo_t* info, void* uctx) {
  machine* m = machine_of_thread();
  fiber* f = m ? m->current() : nullptr;
  if (f && stack_allocator::in_guard(f->stack_, info->si_addr)) stack_overflow(*f);
  // Not ours: fall back to what was there before, and let the fault recur.
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) {
      g_previous.sa_sigaction(sig, info, uctx);
      return;
    }
  }
  sigaction(SIGSEGV, &g_previous, nullptr);
}
}  // namespace

void install_overflow_handler() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = &on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_previous);
  });
}

void enter_signal_stack() noexcept {
  if (t_altstack) return;
  void* p = mmap(nullptr, k_altstack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  stack_t ss{};
  ss.ss_sp = p;
  ss.ss_size = k_altstack;
  if (sigaltstack(&ss, nullptr) == 0) {
    t_altstack = p;
  } else {
    munmap(p, k_altstack);
  }
}

void leave_signal_stack() noexcept {
  if (!t_altstack) return;
  stack_t ss{};
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  munmap(t_altstack, k_altstack);
  t_altstack = nullptr;
}
#endif

}  // namespace gort::detail
