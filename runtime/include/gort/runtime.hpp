// gort runtime: run, go, spawn, yield, sleep, and the fiber-aware thread.
// Reference: docs/api.md, "Runtime".
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>

#include "gort/detail/fiber_start.hpp"
#include "gort/detail/scope_exit.hpp"
#include "gort/location.hpp"

namespace gort {

// What run() does when every fiber is blocked forever.
enum class deadlock_policy {
  abort,  // print the report to stderr and exit with status 2 (as Go does)
  raise,  // run() throws deadlock_error carrying the report
};

struct config {
  unsigned workers = 0;        // 0: $GORT_MAXPROCS if set, else std::thread::hardware_concurrency()
  std::size_t stack_size = 0;  // 0: the default (256 KiB reserved per fiber, pages committed on touch)
  deadlock_policy on_deadlock = deadlock_policy::abort;
  // OS threads that run or may run fibers or blocking calls (workers, threads
  // held by stuck fibers, spares, gort::blocking helpers): needing more is a
  // fatal error, as Go's SetMaxThreads. 0: $GORT_MAXTHREADS if set, else 10000.
  unsigned max_threads = 0;
  // Report each fiber that holds its thread longer than this (stderr, once
  // per stall). 0: $GORT_STALLREPORT (ms) if set, else no stall reports.
  std::chrono::milliseconds stall_report{0};
};

// Thrown by run() under deadlock_policy::raise; what() is the full report.
class deadlock_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
// The main fiber's callable: invokes the user's function and keeps its result.
struct main_fn : fiber_fn {
  int result = 0;
  location where = {};  // run()'s caller: the main fiber's creation site
};
template <class F>
struct main_closure final : main_fn {
  explicit main_closure(F& fn) : main_fn{{&run, &drop}}, f(fn) {}
  static void run(fiber_fn* p) {
    auto* c = static_cast<main_closure*>(p);
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
      std::invoke(c->f);
    } else {
      c->result = static_cast<int>(std::invoke(c->f));
    }
  }
  static void drop(fiber_fn*) noexcept {}
  F& f;
};
// Runs the runtime with `fn` as the main fiber; returns fn->result or rethrows.
int run_main(main_fn& fn, const config& cfg);
}  // namespace detail

// Starts the workers, runs `main_fn` as fiber 1 and returns its result (0 for
// void) once it returns; leftover fibers are unwound and the workers joined.
// Unwinding runs their destructors after main_fn returned, newest fiber
// first: a channel, mutex or wait_group that leftover fibers are blocked on
// must outlive run() (not live on main_fn's stack).
// Throws std::logic_error when called from a fiber or while another run() is
// active, std::invalid_argument for a bad worker count, deadlock_error (raise
// policy), or whatever main_fn threw. `where` (the caller) names the main
// fiber in traces and dumps.
template <class F>
int run(F&& main_fn, config cfg = {}, location where = location::current()) {
  detail::main_closure<std::remove_reference_t<F>> c(main_fn);
  c.where = where;
  return detail::run_main(c, cfg);
}

template <class R>
class task;

namespace detail {
// The arguments after the callable for which go() and spawn() record the
// caller's location; beyond, the creation site reads "(unknown ...)".
inline constexpr std::size_t k_located_args = 16;
inline constexpr location k_unlocated{"(unknown: more than 16 arguments after the function)", 0};

// Whether go/spawn can decay-copy the callable and every argument, and call
// the copies (as rvalues, the way the fiber calls them).
template <class F, class... A>
inline constexpr bool fiber_args_copyable = std::is_constructible_v<std::decay_t<F>, F&&> &&
                                            (std::is_constructible_v<std::decay_t<A>, A&&> && ...);
template <class F, class... A>
inline constexpr bool fiber_invocable = std::is_invocable_v<std::decay_t<F>, std::decay_t<A>...>;

template <class F, class... A>
void go_at(const location& where, F&& f, A&&... a) {
  static_assert(
      fiber_args_copyable<F, A...>,
      "gort::go: arguments are copied into the new fiber (as by std::thread), and this one can be neither "
      "copied nor moved: pass &wg or std::ref(wg)");
  static_assert(
      !fiber_args_copyable<F, A...> || fiber_invocable<F, A...>,
      "gort::go: the function is not invocable with these arguments (the fiber calls it with rvalue "
      "copies of them: a T& parameter needs std::ref(x))");
  if constexpr (fiber_args_copyable<F, A...> && fiber_invocable<F, A...>)
    launch<closure<std::decay_t<F>, std::decay_t<A>...>>(where, std::forward<F>(f), std::forward<A>(a)...);
}

template <class G, class... A>
auto spawn_at(const location& where, G&& g, A&&... a);
}  // namespace detail

// A handle on a spawn()ed fiber's result. Move-only; destroying it without
// join() detaches the fiber.
template <class R>
class task {
 public:
  task() = default;
  task(task&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      if (state_) state_->release();
      state_ = std::exchange(o.state_, nullptr);
    }
    return *this;
  }
  ~task() {
    if (state_) state_->release();
  }

  // Parks until the fiber returned (wait reason "task join"); returns its
  // result or rethrows its exception. Throws std::logic_error if !joinable().
  R join(location where = location::current()) {
    if (!state_) throw std::logic_error("gort::task::join: task is not joinable");
    detail::task_state<R>* s = std::exchange(state_, nullptr);
    detail::scope_exit release([s] { s->release(); });
    s->wait(where);
    if constexpr (!std::is_void_v<R>) return std::move(*s->value_);
  }
  bool joinable() const noexcept { return state_ != nullptr; }

 private:
  template <class G, class... A>
  friend auto detail::spawn_at(const location&, G&&, A&&...);
  explicit task(detail::task_state<R>* s) noexcept : state_(s) {}
  detail::task_state<R>* state_ = nullptr;
};

namespace detail {
template <class G, class... A>
auto spawn_at(const location& where, G&& g, A&&... a) {
  static_assert(
      fiber_args_copyable<G, A...>,
      "gort::spawn: arguments are copied into the new fiber (as by std::thread), and this one can be "
      "neither copied nor moved: pass &wg or std::ref(wg)");
  static_assert(
      !fiber_args_copyable<G, A...> || fiber_invocable<G, A...>,
      "gort::spawn: the function is not invocable with these arguments (the fiber calls it with rvalue "
      "copies of them: a T& parameter needs std::ref(x))");
  if constexpr (fiber_args_copyable<G, A...> && fiber_invocable<G, A...>) {
    using R = std::invoke_result_t<std::decay_t<G>, std::decay_t<A>...>;
    auto* s = new task_state<R>();
    task<R> handle(s);  // owns one reference; the fiber's closure the other
    try {
      launch<task_closure<R, std::decay_t<G>, std::decay_t<A>...>>(where, s, std::forward<G>(g),
                                                                   std::forward<A>(a)...);
    } catch (...) {
      s->release();  // the fiber's reference: it never started
      throw;
    }
    return handle;
  } else {
    return task<void>();
  }
}
}  // namespace detail

// go(f, args...): runs std::invoke(f, args...) in a new fiber. The callable
// and the arguments are decay-copied (as std::thread does; pass std::ref(x)
// or &x to share one), and the copies are passed as rvalues. From a fiber,
// or from any thread while run() is active; throws std::logic_error outside
// run(). An exception escaping f is a panic: the message and the fiber are
// printed and the process exits with status 2.
//
// spawn(f, args...): go() with a handle; join() returns the result or
// rethrows the exception.
//
// Both record the caller's location, as a defaulted parameter after the
// arguments: since none can follow a parameter pack, each arity up to
// k_located_args is its own overload (a class template with a deduction
// guide could take a pack, but would turn `gort::go(f);` into the
// declaration of a variable f). A wrapper may pass its own caller's location
// as that last argument.
#define GORT_DETAIL_TPARAM(i) , class A##i
#define GORT_DETAIL_PARAM(i) , A##i&& a##i
#define GORT_DETAIL_FORWARD(i) , std::forward<A##i>(a##i)
#define GORT_DETAIL_REP0(M)
#define GORT_DETAIL_REP1(M) M(1)
#define GORT_DETAIL_REP2(M) GORT_DETAIL_REP1(M) M(2)
#define GORT_DETAIL_REP3(M) GORT_DETAIL_REP2(M) M(3)
#define GORT_DETAIL_REP4(M) GORT_DETAIL_REP3(M) M(4)
#define GORT_DETAIL_REP5(M) GORT_DETAIL_REP4(M) M(5)
#define GORT_DETAIL_REP6(M) GORT_DETAIL_REP5(M) M(6)
#define GORT_DETAIL_REP7(M) GORT_DETAIL_REP6(M) M(7)
#define GORT_DETAIL_REP8(M) GORT_DETAIL_REP7(M) M(8)
#define GORT_DETAIL_REP9(M) GORT_DETAIL_REP8(M) M(9)
#define GORT_DETAIL_REP10(M) GORT_DETAIL_REP9(M) M(10)
#define GORT_DETAIL_REP11(M) GORT_DETAIL_REP10(M) M(11)
#define GORT_DETAIL_REP12(M) GORT_DETAIL_REP11(M) M(12)
#define GORT_DETAIL_REP13(M) GORT_DETAIL_REP12(M) M(13)
#define GORT_DETAIL_REP14(M) GORT_DETAIL_REP13(M) M(14)
#define GORT_DETAIL_REP15(M) GORT_DETAIL_REP14(M) M(15)
#define GORT_DETAIL_REP16(M) GORT_DETAIL_REP15(M) M(16)
#define GORT_DETAIL_GO_SPAWN(n)                                                                   \
  template <class F GORT_DETAIL_REP##n(GORT_DETAIL_TPARAM)>                                       \
  void go(F&& f GORT_DETAIL_REP##n(GORT_DETAIL_PARAM), location where = location::current()) {    \
    detail::go_at(where, std::forward<F>(f) GORT_DETAIL_REP##n(GORT_DETAIL_FORWARD));             \
  }                                                                                               \
  template <class F GORT_DETAIL_REP##n(GORT_DETAIL_TPARAM)>                                       \
  auto spawn(F&& f GORT_DETAIL_REP##n(GORT_DETAIL_PARAM), location where = location::current()) { \
    return detail::spawn_at(where, std::forward<F>(f) GORT_DETAIL_REP##n(GORT_DETAIL_FORWARD));   \
  }
GORT_DETAIL_GO_SPAWN(0)
GORT_DETAIL_GO_SPAWN(1)
GORT_DETAIL_GO_SPAWN(2)
GORT_DETAIL_GO_SPAWN(3)
GORT_DETAIL_GO_SPAWN(4)
GORT_DETAIL_GO_SPAWN(5)
GORT_DETAIL_GO_SPAWN(6)
GORT_DETAIL_GO_SPAWN(7)
GORT_DETAIL_GO_SPAWN(8)
GORT_DETAIL_GO_SPAWN(9)
GORT_DETAIL_GO_SPAWN(10)
GORT_DETAIL_GO_SPAWN(11)
GORT_DETAIL_GO_SPAWN(12)
GORT_DETAIL_GO_SPAWN(13)
GORT_DETAIL_GO_SPAWN(14)
GORT_DETAIL_GO_SPAWN(15)
GORT_DETAIL_GO_SPAWN(16)
#undef GORT_DETAIL_GO_SPAWN
#undef GORT_DETAIL_REP16
#undef GORT_DETAIL_REP15
#undef GORT_DETAIL_REP14
#undef GORT_DETAIL_REP13
#undef GORT_DETAIL_REP12
#undef GORT_DETAIL_REP11
#undef GORT_DETAIL_REP10
#undef GORT_DETAIL_REP9
#undef GORT_DETAIL_REP8
#undef GORT_DETAIL_REP7
#undef GORT_DETAIL_REP6
#undef GORT_DETAIL_REP5
#undef GORT_DETAIL_REP4
#undef GORT_DETAIL_REP3
#undef GORT_DETAIL_REP2
#undef GORT_DETAIL_REP1
#undef GORT_DETAIL_REP0
#undef GORT_DETAIL_FORWARD
#undef GORT_DETAIL_PARAM
#undef GORT_DETAIL_TPARAM

// More arguments than that: the same, without the caller's location.
template <class F, class... A>
requires(sizeof...(A) > detail::k_located_args) void go(F&& f, A&&... a) {
  detail::go_at(detail::k_unlocated, std::forward<F>(f), std::forward<A>(a)...);
}
template <class F, class... A>
requires(sizeof...(A) > detail::k_located_args) auto spawn(F&& f, A&&... a) {
  return detail::spawn_at(detail::k_unlocated, std::forward<F>(f), std::forward<A>(a)...);
}

// runtime.Gosched: lets other runnable fibers run. On a plain thread,
// std::this_thread::yield().
void yield();

namespace detail {
void sleep_until_ns(std::int64_t steady_ns, const location& where);
std::int64_t steady_now_ns() noexcept;

// The steady-clock ns `d` from now (rounded up; a non-positive `d`: now),
// saturating at INT64_MAX: the one deadline computation of sleep_for,
// timed waits, after() and tickers.
template <class Rep, class Period>
std::int64_t deadline_after(std::chrono::duration<Rep, Period> d) noexcept {
  std::int64_t now = steady_now_ns();
  if (d <= d.zero()) return now;
  auto ns = std::chrono::ceil<std::chrono::nanoseconds>(d).count();
  return ns > INT64_MAX - now ? INT64_MAX : now + std::int64_t(ns);
}
}  // namespace detail

// Parks the calling fiber for `d` (wait reason "sleep"); a zero or negative
// duration just yields. On a plain thread, sleeps the thread.
template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> d, location where = location::current()) {
  if (d <= d.zero()) {
    yield();
    return;
  }
  detail::sleep_until_ns(detail::deadline_after(d), where);
}
template <class Clock, class Dur>
void sleep_until(std::chrono::time_point<Clock, Dur> t, location where = location::current()) {
  sleep_for(t - Clock::now(), where);
}

std::uint64_t fiber_id() noexcept;  // main fiber 1; ids grow and are never reused; 0 outside any fiber
std::size_t num_fibers() noexcept;  // live fibers, the main one included (runtime.NumGoroutine)
unsigned num_workers() noexcept;    // worker threads of the running runtime (GOMAXPROCS); 0 outside run

namespace detail {
void thread_started() noexcept;   // a gort::thread registered
void thread_finished() noexcept;  // ... and ended
// A thread gort starts from the calling thread: the priority it should run
// at, which thread_enter_nice() applies first thing on the new thread (a
// thread inherits its creator's nice, lowered while a fiber computes there).
int thread_start_nice() noexcept;
void thread_enter_nice(int nice) noexcept;
void require_running(const char* what);
void wait_thread_done(task_state_base& s, const location& where);
}  // namespace detail

// A std::jthread the runtime knows about: while one is alive, fibers waiting
// for it are not a deadlock. Construct it only while run() is active
// (std::logic_error otherwise). The thread is registered before the
// constructor returns. join() (and the destructor, which requests stop and
// joins) parks a calling fiber instead of blocking its worker.
class thread {
 public:
  using id = std::jthread::id;
  using native_handle_type = std::jthread::native_handle_type;

  thread() noexcept = default;
  template <class F, class... Args>
  requires(!std::is_same_v<std::remove_cvref_t<F>, thread>) explicit thread(F&& f, Args&&... args) {
    detail::require_running("gort::thread");
    done_ = new detail::task_state<void>();  // one reference for us, one for the thread
    detail::thread_started();
    try {
      t_ = std::jthread(
          [](std::stop_token st, int nice, detail::task_state<void>* done, std::decay_t<F> fn,
             std::decay_t<Args>... as) {
            detail::thread_enter_nice(nice);
            // Wake a joiner before unregistering, so there is no moment when
            // it is blocked and the thread is not counted.
            detail::scope_exit finish([done] {
              done->complete();
              done->release();
              detail::thread_finished();
            });
            if constexpr (std::is_invocable_v<std::decay_t<F>, std::stop_token, std::decay_t<Args>...>) {
              std::invoke(std::move(fn), std::move(st), std::move(as)...);
            } else {
              std::invoke(std::move(fn), std::move(as)...);
            }
          },
          detail::thread_start_nice(), done_, std::forward<F>(f), std::forward<Args>(args)...);
    } catch (...) {
      detail::thread_finished();
      done_->release();
      done_->release();
      done_ = nullptr;
      throw;
    }
  }
  thread(thread&& o) noexcept : t_(std::move(o.t_)), done_(std::exchange(o.done_, nullptr)) {}
  thread& operator=(thread&& o) noexcept {
    if (this != &o) {
      reset();
      t_ = std::move(o.t_);
      done_ = std::exchange(o.done_, nullptr);
    }
    return *this;
  }
  ~thread() { reset(); }

  bool joinable() const noexcept { return t_.joinable(); }
  // Waits for the thread to finish (a fiber parks: "thread join").
  void join(location where = location::current()) {
    if (!t_.joinable())
      throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                              "gort::thread::join: not joinable");
    if (done_) detail::wait_thread_done(*done_, where);
    t_.join();
    drop_state();
  }
  void detach() {
    t_.detach();
    drop_state();
  }
  id get_id() const noexcept { return t_.get_id(); }
  native_handle_type native_handle() { return t_.native_handle(); }
  std::stop_source get_stop_source() noexcept { return t_.get_stop_source(); }
  std::stop_token get_stop_token() const noexcept { return t_.get_stop_token(); }
  bool request_stop() noexcept { return t_.request_stop(); }
  void swap(thread& o) noexcept {
    t_.swap(o.t_);
    std::swap(done_, o.done_);
  }
  static unsigned hardware_concurrency() noexcept { return std::jthread::hardware_concurrency(); }

 private:
  void reset() {
    if (t_.joinable()) {
      t_.request_stop();
      join();
    }
    drop_state();
  }
  void drop_state() noexcept {
    if (done_) std::exchange(done_, nullptr)->release();
  }

  std::jthread t_;
  detail::task_state<void>* done_ = nullptr;
};

}  // namespace gort
