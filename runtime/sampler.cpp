// sampler: running fibers' stacks, taken on their own threads (see
// runtime/sampler.hpp for the slot protocol, runtime/traceback.hpp for the
// rest).
//
// The signal is SIGURG, as Go's preemption uses: its default action is to
// ignore it, the C library and debuggers leave it alone, and a program
// rarely handles it. The handler is installed on the first sample (never
// for a program that reports nothing), and not at all where the program
// installed its own. SA_RESTART: a system call the stuck code is blocked in
// resumes after the handler, except those Linux never restarts after a
// handler (poll, epoll_wait, select, nanosleep and clock_nanosleep, sem
// and msg waits, socket calls with a timeout...: signal(7)), which fail once
// with EINTR, as under Go since its preemption signals. Each stall report
// or dump sends one signal per running fiber; nothing else does.
#include "runtime/sampler.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

#include "runtime/fiber.hpp"
#include "runtime/machine.hpp"
#include "runtime/sanitizer.hpp"

namespace gort::detail {

namespace {

constexpr int k_signal = SIGURG;
constexpr std::size_t k_red_zone = 128;           // below the stack pointer, the leaf's (x86-64 ABI)
constexpr std::int64_t k_answer_ns = 200'000'000;  // a signalled thread that takes longer is left out

bool g_sampler_installed = false;  // written once, under the call_once

// The handler's part of the slot protocol, on machine m's thread.
void serve(machine& m, void* uc) noexcept {
  stack_sample& s = m.sample_slot();
  std::uint32_t expect = stack_sample::k_requested;
  if (!s.state.compare_exchange_strong(expect, stack_sample::k_taking, std::memory_order_acquire)) return;
  const fiber* f = s.f;
  s.missing = nullptr;
  s.len = 0;
  if (m.current() != f) {
    s.missing = "call stack not taken: the fiber switched out while it was sampled";
  } else {
    // Nested in this thread's SIGQUIT handler: the fiber's own context is
    // the one SIGQUIT interrupted.
    void* ctx = m.quit_context() ? m.quit_context() : uc;
#if GORT_TSAN
    // TSan runs handlers late, from its own frames, with a stale context:
    // take the registers here, on the fiber's stack (no sigaltstack under it).
    ucontext_t here;
    if (!m.quit_context()) {
      getcontext(&here);
      ctx = &here;
    }
#endif
    regs_from_ucontext(ctx, s.regs);
    const auto base = reinterpret_cast<std::uintptr_t>(f->stack_.base);
    const std::uintptr_t top = base + f->stack_.size;
    const std::uintptr_t sp = s.regs.r[stack_regs::k_sp];
    if (sp <= base || sp >= top) {
      s.missing = "call stack not taken: the fiber was switching stacks";
    } else {
      s.lo = std::max(base, sp - k_red_zone);
      s.len = std::min<std::size_t>(top - s.lo, s.cap);
      copy_stack_bytes(s.buf, s.lo, s.len);
    }
  }
  s.state.store(stack_sample::k_done, std::memory_order_release);  // pairs with the requester's acquire
  s.waker.notify();
}

void on_sample_signal(int, siginfo_t*, void* uc) {
  const int saved_errno = errno;
  if (machine* m = machine_of_thread()) serve(*m, uc);
  errno = saved_errno;
}

bool install_sampler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (sigaction(k_signal, nullptr, &old) != 0) return;
    const bool custom = (old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != nullptr
                                                    : old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN;
    if (custom) return;  // the program's own: leave it
    struct sigaction sa {};
    sa.sa_sigaction = &on_sample_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    g_sampler_installed = sigaction(k_signal, &sa, nullptr) == 0;
  });
  return g_sampler_installed;
}

// Copies a stack, from the registers in `c` (the calling thread's, or a
// thread's held in its SIGQUIT handler), up to `top`.
void copy_own_stack(stack_copy& c, std::uintptr_t base, std::uintptr_t top) {
  const std::uintptr_t sp = c.regs.r[stack_regs::k_sp];
  c.lo = std::max(base, sp - k_red_zone);
  c.mem.resize(top - c.lo);
  copy_stack_bytes(c.mem.data(), c.lo, c.mem.size());
}

}  // namespace

void regs_from_ucontext(const void* uc, stack_regs& out) noexcept {
#if defined(__x86_64__)
  const greg_t* g = static_cast<const ucontext_t*>(uc)->uc_mcontext.gregs;
  static constexpr int k_map[stack_regs::k_count] = {REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI,
                                                     REG_RBP, REG_RSP, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                                     REG_R12, REG_R13, REG_R14, REG_R15, REG_RIP};
  for (int i = 0; i < stack_regs::k_count; ++i) out.r[i] = std::uint64_t(g[k_map[i]]);
  out.all = true;
#else
  (void)uc;
  out = {};
#endif
}

call_stack traceback_session::running(machine& m, const fiber& f, std::size_t stack_size) {
  call_stack cs;
  if (const void* uc = m.quit_context()) {
    // Its thread waits in its SIGQUIT handler for this dump, and never
    // returns from there: the context SIGQUIT interrupted stays as it is.
    stack_copy c;
    regs_from_ucontext(uc, c.regs);
    const auto base = reinterpret_cast<std::uintptr_t>(f.stack_.base);
    const std::uintptr_t sp = c.regs.r[stack_regs::k_sp];
    if (m.current() != &f || sp <= base || sp >= base + f.stack_.size) {
      cs.missing = "call stack not taken: SIGQUIT did not interrupt the fiber on its stack";
      return cs;
    }
    copy_own_stack(c, base, base + f.stack_.size);
    unwind_copy(c, cs);
    return cs;
  }
  if (m.awaiting_traceback()) {
    cs.missing = "call stack not taken: it waits for another report to finish";
    return cs;
  }
  if (!install_sampler()) {
    cs.missing = "call stack not taken: the program handles SIGURG itself";
    return cs;
  }
  const int tid = m.tid();
  stack_sample& s = m.sample_slot();
  stack_copy c;
  c.mem.resize(stack_size + k_red_zone);
  s.f = &f;
  s.buf = c.mem.data();
  s.cap = c.mem.size();
  s.waker.try_consume();  // a notification left over from an abandoned request
  s.state.store(stack_sample::k_requested, std::memory_order_release);  // pairs with serve()'s acquire
  const std::int64_t deadline = now_ns() + k_answer_ns;
  if (tid == 0 || syscall(SYS_tgkill, getpid(), tid, k_signal) != 0) {
    s.state.store(stack_sample::k_idle, std::memory_order_relaxed);
    cs.missing = "call stack not taken: its thread could not be signalled";
    return cs;
  }
  for (;;) {
    std::uint32_t st = s.state.load(std::memory_order_acquire);  // pairs with serve()'s release of done
    if (st == stack_sample::k_done) break;
    if (st == stack_sample::k_requested && now_ns() >= deadline &&
        s.state.compare_exchange_strong(st, stack_sample::k_idle, std::memory_order_relaxed)) {
      cs.missing = "call stack not taken: its thread did not answer the signal in time";
      return cs;
    }
    s.waker.wait(st == stack_sample::k_taking ? -1 : deadline);
  }
  c.regs = s.regs;
  c.lo = s.lo;
  c.mem.resize(s.len);
  const char* missing = s.missing;
  s.state.store(stack_sample::k_idle, std::memory_order_relaxed);
  if (missing) {
    cs.missing = missing;
    return cs;
  }
  unwind_copy(c, cs);
  return cs;
}

__attribute__((noinline)) call_stack traceback_session::here(const fiber& f) {
  call_stack cs;
  ucontext_t uc;
  if (getcontext(&uc) != 0) {
    cs.missing = "call stack not taken: getcontext failed";
    return cs;
  }
  stack_copy c;
  regs_from_ucontext(&uc, c.regs);
  const auto base = reinterpret_cast<std::uintptr_t>(f.stack_.base);
  const std::uintptr_t sp = c.regs.r[stack_regs::k_sp];
  if (sp <= base || sp >= base + f.stack_.size) {
    cs.missing = "call stack not taken: not on the fiber's stack";
    return cs;
  }
  copy_own_stack(c, base, base + f.stack_.size);
  unwind_copy(c, cs);
  return cs;
}

}  // namespace gort::detail
