// gort::signal (Go's os/signal): one async-signal-safe handler, a self-pipe,
// and a service fiber per run() that delivers through the netpoller.
//
//   handler (any thread, any moment):  pending |= bit; write(pipe, 1 byte)
//   forwarder fiber (one per run()):   drain the pipe; take `pending`;
//                                      for each signal, try_send to every
//                                      channel registered for it (or cancel
//                                      the context); park in IO wait on the pipe
//
// The handler only touches an atomic word and write(2), both
// async-signal-safe; identical signals that arrive before the forwarder
// runs coalesce into one, as in Go. The forwarder drains the pipe before it
// takes the pending word, so a signal that sets its bit after the take has
// also written a byte after the drain, and the forwarder wakes again.
//
// Invariants (signal_state):
//   - regs, saved, taken, forwarder and waking are guarded by mu; delivery
//     happens under mu too, so stop() returning means no more sends.
//   - A signal has gort's handler installed exactly while some registration
//     wants it (taken); saved[sig] is the program's disposition from before,
//     restored when the last registration for it goes.
//   - Registrations belong to the run() they were made in: the forwarder is
//     started by the first registration of a run and, when the run unwinds
//     it at exit, drops every registration (restoring the handlers). So a
//     signal outside any run() gets the program's own disposition.
//   - waking is true (and one external_wakers_add(+1) outstanding) exactly
//     while regs is not empty.
//   - The pipe is made once per process, before the first handler is
//     installed, and never closed; each run registers its read end with its
//     own netpoller (a poll_desc may not outlive its run).
#include "gort/signal.hpp"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "context/node.hpp"
#include "gort/runtime.hpp"
#include "runtime/netpoll.hpp"
#include "runtime/park.hpp"

namespace gort::detail {

namespace {

constexpr int k_max_signal = 64;  // Linux: signals 1..64

// ---- the handler's side (async-signal-safe) --------------------------------

std::atomic<std::uint64_t> g_pending{0};  // bit sig-1: arrived, not yet delivered
std::atomic<int> g_pipe_read{-1};         // set once, before any handler is installed
std::atomic<int> g_pipe_write{-1};

std::uint64_t bit(int sig) noexcept { return std::uint64_t(1) << (sig - 1); }

void on_signal(int sig) {
  const int saved_errno = errno;
  // Release: pairs with the forwarder's acquire exchange.
  g_pending.fetch_or(bit(sig), std::memory_order_release);
  char b = 0;
  // Full pipe: a wake-up is pending anyway.
  [[maybe_unused]] ssize_t r = ::write(g_pipe_write.load(std::memory_order_relaxed), &b, 1);
  errno = saved_errno;
}

// ---- registrations ---------------------------------------------------------

struct registration {
  send_chan<int> ch;           // the nil channel for a context registration
  cancel_node* ctx = nullptr;  // counted; null for a channel registration
  std::uint64_t signals = 0;

  registration() = default;
  registration(registration&& o) noexcept
      : ch(std::move(o.ch)), ctx(std::exchange(o.ctx, nullptr)), signals(o.signals) {}
  registration& operator=(registration&& o) noexcept {
    std::swap(ch, o.ch);
    std::swap(ctx, o.ctx);
    signals = o.signals;
    return *this;
  }
  ~registration() { ctx_release(ctx); }
};

struct signal_state {
  std::mutex mu;
  std::vector<registration> regs;
  struct sigaction saved[k_max_signal + 1] = {};
  std::uint64_t taken = 0;
  bool forwarder = false;
  bool waking = false;
};

signal_state& state() {
  static signal_state s;
  return s;
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return std::to_string(sig) + (abbrev ? std::string(" (SIG") + abbrev + ")" : std::string());
}

// Why `sig` may not be notified, or null.
const char* refusal(int sig) noexcept {
  switch (sig) {
    case SIGSEGV: return "it reports faults (and the runtime's stack overflows)";
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP: return "it reports faults";
    case SIGKILL:
    case SIGSTOP: return "it cannot be caught";
    default: return nullptr;
  }
}

// glibc keeps 32 and 33 for itself (SIGRTMIN is above them).
bool is_signal(int sig) noexcept { return sig >= 1 && sig <= k_max_signal && (sig < 32 || sig >= SIGRTMIN); }

// The signals of `list` (every notifiable one when empty); throws
// std::invalid_argument naming the first bad one.
std::uint64_t mask_of(std::initializer_list<int> list, const char* what) {
  std::uint64_t m = 0;
  if (list.size() == 0) {
    for (int s = 1; s <= k_max_signal; ++s)
      if (is_signal(s) && !refusal(s)) m |= bit(s);
    return m;
  }
  for (int s : list) {
    if (!is_signal(s))
      throw std::invalid_argument(std::string(what) + ": " + std::to_string(s) + " is not a signal number");
    if (const char* why = refusal(s))
      throw std::invalid_argument(std::string(what) + ": signal " + signal_name(s) +
                                  " cannot be notified: " + why);
    m |= bit(s);
  }
  return m;
}

// mu held. The self-pipe, made once per process.
void ensure_pipe() {
  if (g_pipe_read.load(std::memory_order_relaxed) >= 0) return;
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "gort::signal: pipe2");
  g_pipe_read.store(fds[0], std::memory_order_relaxed);
  g_pipe_write.store(fds[1], std::memory_order_relaxed);
}

std::uint64_t wanted_locked(const signal_state& s) noexcept {
  std::uint64_t m = 0;
  for (const registration& r : s.regs) m |= r.signals;
  return m;
}

// mu held. Installs gort's handler for the signals in `add` and gives the
// others that nobody wants any more their saved disposition back. On failure
// undoes what it installed and throws.
void retake_locked(signal_state& s, std::uint64_t want) {
  const std::uint64_t add = want & ~s.taken, drop = s.taken & ~want;
  std::uint64_t done = 0;
  for (int sig = 1; sig <= k_max_signal; ++sig) {
    if (!(add & bit(sig))) continue;
    struct sigaction sa {};
    sa.sa_handler = &on_signal;
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    sigfillset(&sa.sa_mask);
    if (sigaction(sig, &sa, &s.saved[sig]) != 0) {
      int e = errno;
      for (int u = 1; u <= k_max_signal; ++u)
        if (done & bit(u)) sigaction(u, &s.saved[u], nullptr);
      throw std::system_error(e, std::generic_category(),
                              "gort::signal: sigaction(" + signal_name(sig) + ")");
    }
    done |= bit(sig);
  }
  for (int sig = 1; sig <= k_max_signal; ++sig)
    if (drop & bit(sig)) sigaction(sig, &s.saved[sig], nullptr);
  s.taken = want;
  const bool any = !s.regs.empty();
  if (any != s.waking) {
    external_wakers_add(any ? 1 : -1);
    s.waking = any;
  }
}

// Any fiber or thread: drops the registrations `pred` selects.
template <class P>
void unregister(P pred) {
  signal_state& s = state();
  std::vector<registration> dropped;  // released outside the lock (a context may be destroyed)
  std::lock_guard g(s.mu);
  for (auto it = s.regs.begin(); it != s.regs.end();) {
    if (pred(*it)) {
      dropped.push_back(std::move(*it));
      it = s.regs.erase(it);
    } else {
      ++it;
    }
  }
  if (!dropped.empty()) retake_locked(s, wanted_locked(s));  // only drops: cannot throw
}

// ---- the forwarder ---------------------------------------------------------

// The forwarder fiber: sends `sig` to every registration that wants it.
void deliver(int sig) {
  signal_state& s = state();
  std::vector<cancel_node*> to_cancel;
  {
    std::lock_guard g(s.mu);
    for (registration& r : s.regs) {
      if (!(r.signals & bit(sig))) continue;
      if (r.ctx) {
        ctx_retain(r.ctx);
        to_cancel.push_back(r.ctx);
        continue;
      }
      try {
        r.ch.try_send(int(sig));  // full: dropped, as Go does
      } catch (const closed_channel_error&) {
        // Go panics here; a closed channel just gets nothing.
      }
    }
  }
  for (cancel_node* n : to_cancel) {  // may run stop callbacks: no lock held
    ctx_cancel(n, context_errc::canceled, true);
    ctx_release(n);
  }
}

void drain_pipe(int fd) noexcept {
  char buf[256];
  while (::read(fd, buf, sizeof buf) > 0) {}
}

// The end of a run() (the forwarder unwound, or never started): every
// registration goes, the program's dispositions come back.
void run_ended() noexcept {
  signal_state& s = state();
  std::vector<registration> dropped;
  std::lock_guard g(s.mu);
  dropped.swap(s.regs);
  retake_locked(s, 0);
  s.forwarder = false;
  g_pending.store(0, std::memory_order_relaxed);
  if (int fd = g_pipe_read.load(std::memory_order_relaxed); fd >= 0) drain_pipe(fd);
}

// Owned by the forwarder's closure: its destruction is the end of the run.
struct run_end_guard {
  bool armed = true;
  run_end_guard() = default;
  run_end_guard(run_end_guard&& o) noexcept : armed(std::exchange(o.armed, false)) {}
  run_end_guard& operator=(run_end_guard&&) = delete;
  ~run_end_guard() {
    if (armed) run_ended();
  }
};

// The forwarder fiber's body: only the runtime's unwinding at exit ends it.
void forward() {
  mark_system_fiber();
  const int fd = g_pipe_read.load(std::memory_order_relaxed);
  poll_desc* pd = io_register(fd);
  struct unregister_pd {
    poll_desc* pd;
    ~unregister_pd() { io_unregister(pd); }
  } guard{pd};
  for (;;) {
    drain_pipe(fd);
    // Acquire: pairs with the handler's release fetch_or.
    std::uint64_t m = g_pending.exchange(0, std::memory_order_acquire);
    while (m) {
      deliver(__builtin_ctzll(m) + 1);
      m &= m - 1;
    }
    io_wait(pd, io_mode::read, -1);
  }
}

// Any fiber or thread while run() is active: adds `r` (merged with an
// earlier registration of the same channel) and starts this run's forwarder
// if it is the first.
void add_registration(registration r) {
  signal_state& s = state();
  bool start;
  {
    std::lock_guard g(s.mu);
    ensure_pipe();
    retake_locked(s, wanted_locked(s) | r.signals);
    registration* same = nullptr;
    if (r.ch)
      for (registration& o : s.regs)
        if (o.ch == r.ch) same = &o;
    if (same) {
      same->signals |= r.signals;
    } else {
      s.regs.push_back(std::move(r));
      if (!s.waking) {
        external_wakers_add(1);
        s.waking = true;
      }
    }
    start = !std::exchange(s.forwarder, true);
  }
  if (!start) return;
  // Outside the lock: go() may yield.
  try {
    gort::go([g = run_end_guard()] { forward(); });
  } catch (...) {
    run_ended();  // nothing can deliver this run's registrations
    throw;
  }
}

}  // namespace

}  // namespace gort::detail

namespace gort::signal {

void notify(send_chan<int> ch, std::initializer_list<int> signals) {
  detail::require_running("gort::signal::notify");
  if (!ch) throw std::invalid_argument("gort::signal::notify: nil channel");
  detail::registration r;
  r.signals = detail::mask_of(signals, "gort::signal::notify");
  r.ch = std::move(ch);
  detail::add_registration(std::move(r));
}

void stop(send_chan<int> ch) {
  if (!ch) return;
  detail::unregister([&ch](const detail::registration& r) { return r.ch == ch; });
}

std::pair<context, cancel_func> notify_context(const context& parent, std::initializer_list<int> signals) {
  detail::require_running("gort::signal::notify_context");
  const std::uint64_t mask = detail::mask_of(signals, "gort::signal::notify_context");
  auto out = with_cancel(parent);
  detail::cancel_node* n = detail::ctx_access::node(out.first)->canceller;
  // Not shared yet: the cancel_func will also unregister (Go's stop).
  n->on_cancel_func = [](detail::cancel_node* self) {
    detail::unregister([self](const detail::registration& r) { return r.ctx == self; });
  };
  detail::registration r;
  r.signals = mask;
  r.ctx = n;
  detail::ctx_retain(n);
  detail::add_registration(std::move(r));
  return out;
}

}  // namespace gort::signal
