#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "runtime/core.hpp"
#include "runtime/fatal.hpp"
#include "runtime/park.hpp"

// A place for debuggers to stop at a deadlock, with every fiber still parked
// (tools/gdb/gort.py; `break gort_debug_deadlock`).
extern "C" __attribute__((noinline, used)) void gort_debug_deadlock() { asm volatile(""); }

namespace gort::detail {

std::shared_mutex g_runtime_lock;
std::atomic<runtime*> g_runtime{nullptr};
std::atomic<long> g_threads_alive{0};
std::atomic<long> g_foreign_blocked{0};
std::atomic<long> g_blocking_inflight{0};
std::atomic<bool> g_sched_chaos{false};

namespace {
std::atomic<std::uint64_t> g_chaos_state{0};  // splitmix64 counter, seeded per run

// GORT_SCHED_SEED=N: the seed, or nullopt when unset; bad values throw.
std::optional<std::uint64_t> sched_seed() {
  const char* env = std::getenv("GORT_SCHED_SEED");
  if (!env || !*env) return std::nullopt;
  std::string_view s(env);
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size())
    throw std::invalid_argument("gort::run: GORT_SCHED_SEED=\"" + std::string(s) + "\" is not a number");
  return v;
}
}  // namespace

// A fiber at a synchronisation point under GORT_SCHED_SEED: yields half of
// the time, decided by the seeded sequence (reproducible with one worker).
void chaos_yield() {
  if (!in_fiber()) return;
  std::uint64_t z = g_chaos_state.fetch_add(0x9E3779B97F4A7C15ull, std::memory_order_relaxed);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  if ((z ^ (z >> 31)) & 1) gort::yield();
}

namespace {
constexpr unsigned k_max_workers = 1024;
constexpr std::size_t k_default_stack = 256 * 1024;
constexpr std::size_t k_min_stack = 16 * 1024;
constexpr std::size_t k_max_stack = std::size_t(1) << 30;

unsigned resolve_workers(unsigned requested) {
  if (requested > k_max_workers)
    throw std::invalid_argument("gort::run: config::workers = " + std::to_string(requested) +
                                " is out of range (1.." + std::to_string(k_max_workers) + ")");
  if (requested > 0) return requested;
  if (const char* env = std::getenv("GORT_MAXPROCS")) {
    std::string_view s(env);
    unsigned n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size() || n == 0 || n > k_max_workers)
      throw std::invalid_argument("gort::run: GORT_MAXPROCS=\"" + std::string(s) +
                                  "\" is not a positive number up to " + std::to_string(k_max_workers));
    return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : std::min(hw, k_max_workers);
}

}  // namespace

// GORT_SCHEDTRACE=MS: the period, 0 when unset. Bad values are rejected.
long schedtrace_period() {
  const char* env = std::getenv("GORT_SCHEDTRACE");
  if (!env || !*env) return 0;
  std::string_view s(env);
  long ms = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), ms);
  if (ec != std::errc() || end != s.data() + s.size() || ms <= 0)
    throw std::invalid_argument("gort::run: GORT_SCHEDTRACE=\"" + std::string(s) +
                                "\" is not a positive number of milliseconds");
  return ms;
}

namespace {
std::size_t resolve_stack(std::size_t requested) {
  if (requested == 0) return k_default_stack;
  if (requested < k_min_stack || requested > k_max_stack)
    throw std::invalid_argument("gort::run: config::stack_size = " + std::to_string(requested) +
                                " is out of range (" + std::to_string(k_min_stack) + ".." +
                                std::to_string(k_max_stack) + " bytes)");
  return requested;
}
}  // namespace

// ---- fiber_table -----------------------------------------------------------

fiber_table::~fiber_table() {
  while (chunk* c = chunks_) {
    chunks_ = c->next;
    delete[] c->items;
    delete c;
  }
}

fiber* fiber_table::allocate_chunk(std::size_t n) {
  auto items = std::make_unique<fiber[]>(n);
  for (std::size_t i = 0; i + 1 < n; ++i) items[i].sched_next = &items[i + 1];
  auto* c = new chunk{nullptr, n, items.release()};
  std::lock_guard g(lock_);
  c->next = chunks_;
  chunks_ = c;
  return c->items;
}

void fiber_table::put_free(fiber* head, fiber* tail, std::size_t) noexcept {
  std::lock_guard g(lock_);
  tail->sched_next = free_;
  free_ = head;
}

fiber* fiber_table::take_free(std::size_t max, std::size_t& got) noexcept {
  std::lock_guard g(lock_);
  got = 0;
  fiber* head = free_;
  fiber* tail = nullptr;
  for (fiber* f = free_; f && got < max; f = static_cast<fiber*>(f->sched_next)) {
    tail = f;
    ++got;
  }
  if (!tail) return nullptr;
  free_ = static_cast<fiber*>(tail->sched_next);
  tail->sched_next = nullptr;
  return head;
}

// ---- runtime ---------------------------------------------------------------

runtime::runtime(unsigned workers, std::size_t stack_size, deadlock_policy policy)
    : sched_(workers, *this), stacks_(stack_size), heaps_(workers), started_ns_(now_ns()), policy_(policy) {
  workers_.reserve(workers);
  for (unsigned i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<worker>(*this, i));
    sched_.set_timer_hint(i, &heaps_[i].earliest_word());
  }
  netpoll_.set_on_first([] {
    if (runtime* rt = g_runtime.load(std::memory_order_acquire)) rt->sched_.wake_poller();
  });
}

runtime::~runtime() = default;

fiber* runtime::create_fiber(worker* w, std::size_t size, std::size_t align, void** storage,
                             const std::source_location& where) {
  fiber* f;
  std::uint64_t id;
  if (w) {
    f = w->alloc_fiber();
    id = w->next_fiber_id();
  } else {
    std::size_t got = 0;
    f = table_.take_free(1, got);
    if (!f) {
      f = table_.allocate_chunk(8);
      if (f->sched_next) {
        fiber* rest = static_cast<fiber*>(f->sched_next);
        fiber* tail = rest;
        while (tail->sched_next) tail = static_cast<fiber*>(tail->sched_next);
        table_.put_free(rest, tail, 7);
      }
    }
    f->sched_next = nullptr;
    id = next_id_.fetch_add(1, std::memory_order_relaxed);
  }
  if (size <= fiber::k_inline_fn && align <= alignof(std::max_align_t)) {
    *storage = f->inline_fn_;
  } else {
    f->heap_fn_ = ::operator new(size, std::align_val_t(std::max(align, alignof(std::max_align_t))));
    *storage = f->heap_fn_;
  }
  fiber* creator = w ? w->current() : nullptr;
  f->id_ = id;
  f->creator_id_ = creator ? creator->id_ : 0;
  f->created_at_ = where;
  f->blocked_at_ = where;
  f->is_main_ = false;
  f->abandoned_ = false;
  f->system_ = false;
  f->reason_.store(wait_reason::none, std::memory_order_relaxed);
  return f;
}

namespace {
void free_heap_fn(fiber& f) noexcept {
  if (f.heap_fn_) {
    ::operator delete(f.heap_fn_, std::align_val_t(alignof(std::max_align_t)));
    f.heap_fn_ = nullptr;
  }
}
}  // namespace

void runtime::discard_fiber(worker* w, fiber* f) noexcept {
  free_heap_fn(*f);
  f->state_.store(fiber_state::free, std::memory_order_relaxed);
  if (w) {
    w->free_fiber(f);
  } else {
    table_.put_free(f, f, 1);
  }
}

// A new fiber goes to the spawner's runnext and, unlike a woken one, wakes
// an idle worker even alone there (`go f(); compute();` runs f in parallel).
void runtime::start_fiber(worker* w, fiber* f, fiber_fn* fn) noexcept {
  f->fn_ = fn;
  f->state_.store(fiber_state::runnable, std::memory_order_relaxed);
  if (w) {
    w->spawned.store(w->spawned.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    sched_.push_local(w->index(), f, place::next, /*wake_alone=*/true);
  } else {
    foreign_spawned_.fetch_add(1, std::memory_order_relaxed);
    sched_.push_global(f);
  }
}

// Cache affinity of wake-ups: a fiber that last ran on this worker goes to
// runnext, as in Go. One that last ran on another worker takes
// runnext only if it is free: it does not displace a fiber woken here, whose
// stack is in this core's cache, while its own stack is in another's. Without
// this rule two workers running one pipeline fall into lockstep, each waking
// and running the stages the other just ran, so that almost every switch
// pulled a stack across cores (sieve at 2 workers: 40-80 % of switches were
// such migrations; now ~1 %, median time per prime 36 -> 31 us, and single
// runs no longer reach 60). docs/architecture.md has the measurements.
void runtime::ready(fiber* f, worker* w) noexcept {
  f->state_.store(fiber_state::runnable, std::memory_order_relaxed);
  if (!w) {
    sched_.push_global(f);
    return;
  }
  const unsigned here = w->index();  // only this runtime's workers exist while it runs
  sched_.push_local(here, f, f->last_worker_ == here ? place::next : place::next_if_free);
}

void runtime::fiber_exited(worker& w, fiber& f) noexcept {
  free_heap_fn(f);
  f.fn_ = nullptr;
  w.exited.store(w.exited.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  bool main = f.is_main_;
  f.is_main_ = false;
  if (std::exchange(f.system_, false)) system_live_.fetch_sub(1, std::memory_order_relaxed);
  f.state_.store(fiber_state::free, std::memory_order_relaxed);
  w.free_fiber(&f);
  if (main) sched_.stop();  // shutdown step 1
}

std::size_t runtime::live_fibers() const noexcept {
  std::uint64_t spawned = foreign_spawned_.load(std::memory_order_relaxed), exited = 0;
  for (const auto& w : workers_) {
    spawned += w->spawned.load(std::memory_order_relaxed);
    exited += w->exited.load(std::memory_order_relaxed);
  }
  exited += system_live_.load(std::memory_order_relaxed);  // service fibers do not count
  return spawned > exited ? std::size_t(spawned - exited) : 0;
}

void runtime::mark_system(fiber& f) noexcept {
  if (f.system_) return;
  f.system_ = true;
  system_live_.fetch_add(1, std::memory_order_relaxed);
}

void runtime::run(main_fn& fn) {
  install_overflow_handler();
  install_sigquit_handler();
  // The main fiber: id 1, queued on worker 0 (this thread).
  worker& w0 = *workers_[0];
  fiber* m = table_.allocate_chunk(1);
  m->sched_next = nullptr;
  m->id_ = 1;
  m->is_main_ = true;
  m->created_at_ = std::source_location::current();
  m->fn_ = &fn;
  w0.spawned.store(1, std::memory_order_relaxed);
  m->state_.store(fiber_state::runnable, std::memory_order_relaxed);
  sched_.push_global(m);

  trace_.init(workers_, std::getenv("GORT_TRACE"), started_ns_);
  schedtrace_ms_ = schedtrace_period();
  const char* dl = std::getenv("GORT_DEADLOCK");
  partial_check_ = dl && std::string_view(dl) == "partial";
  if (schedtrace_ms_ > 0 || partial_check_) start_monitor();

  for (unsigned i = 1; i < workers_.size(); ++i) threads_.emplace_back([this, i] { workers_[i]->loop(); });
  w0.loop();
  for (auto& t : threads_) t.join();  // shutdown step 2
  stop_monitor();
  if (const char* leak = std::getenv("GORT_LEAKCHECK"); leak && std::string_view(leak) == "1") report_leaks();
  for (auto& h : heaps_) h.clear();  // step 3
  unwind_leftovers(w0);              // step 4
  trace_.write_at_exit();
}

// ---- GORT_SCHEDTRACE -------------------------------------------------------

// The monitor thread: GORT_SCHEDTRACE lines and GORT_DEADLOCK=partial
// checks. It exists only when one of them is asked for.
void runtime::start_monitor() {
  constexpr long k_partial_period_ms = 50;
  long period = schedtrace_ms_ > 0 ? schedtrace_ms_ : k_partial_period_ms;
  if (partial_check_) period = std::min(period, k_partial_period_ms);
  monitor_ = std::thread([this, period] {
    std::int64_t next_trace = started_ns_ + schedtrace_ms_ * 1'000'000;
    std::unique_lock g(monitor_mu_);
    for (;;) {
      if (monitor_cv_.wait_for(g, std::chrono::milliseconds(period), [this] { return monitor_stop_; }))
        return;
      std::int64_t now = now_ns();
      if (schedtrace_ms_ > 0 && now >= next_trace) {
        schedtrace_line(now);
        next_trace += schedtrace_ms_ * 1'000'000;
      }
      if (partial_check_) check_partial_deadlock();
    }
  });
}

void runtime::stop_monitor() {
  if (!monitor_.joinable()) return;
  {
    std::lock_guard g(monitor_mu_);
    monitor_stop_ = true;
  }
  monitor_cv_.notify_all();
  monitor_.join();
}

// One line in the manner of Go's schedtrace.
void runtime::schedtrace_line(std::int64_t now) {
  sched_stats s = snapshot();
  std::string line = "SCHED " + std::to_string((now - started_ns_) / 1'000'000) +
                     "ms: workers=" + std::to_string(s.workers) +
                     " idle=" + std::to_string(sched_.idle_count()) +
                     " spinning=" + std::to_string(sched_.spinning_count()) +
                     " live=" + std::to_string(s.live) + " runnable=" + std::to_string(s.runnable) +
                     " global=" + std::to_string(s.global_queue) + " runqueues=[";
  for (unsigned i = 0; i < s.workers; ++i) {
    if (i) line += ' ';
    line += std::to_string(s.per_worker[i].run_queue);
  }
  line += "] switches=" + std::to_string(s.switches) + " steals=" + std::to_string(s.steals) + "\n";
  write_stderr(line);
}

// Shutdown step 4, on worker 0 with every other worker joined.
void runtime::unwind_leftovers(worker& w0) {
  unwinding_.store(true, std::memory_order_release);
  for (;;) {
    std::vector<fiber*> left;
    table_.for_each([&](fiber& f) {
      fiber_state s = f.state_.load(std::memory_order_relaxed);
      if ((s == fiber_state::runnable || s == fiber_state::waiting) && !f.abandoned_) left.push_back(&f);
    });
    if (left.empty()) break;
    // Newest first: children usually refer to objects on their creators'
    // stacks (a wait_group, a channel), so creators must unwind after them.
    std::sort(left.begin(), left.end(), [](const fiber* a, const fiber* b) { return a->id_ > b->id_; });
    for (fiber* f : left) {
      if (f->ctx_) {
        struct current_worker {
          worker& w;
          explicit current_worker(worker& x) : w(x) { set_thread_worker(&w); }
          ~current_worker() { set_thread_worker(nullptr); }
        } cw(w0);
        w0.execute(f);  // park() throws fiber_unwind inside; the fiber exits
      } else {
        f->fn_->destroy(f->fn_);  // never started
        free_heap_fn(*f);
        f->fn_ = nullptr;
        f->state_.store(fiber_state::free, std::memory_order_relaxed);
        w0.exited.store(w0.exited.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      }
    }
  }
  // Abandoned fibers (blocked in a destructor during unwinding) keep their
  // stacks until the allocator is destroyed; nothing else references them.
}

std::int64_t runtime::next_timer_deadline() {
  std::int64_t best = INT64_MAX;
  for (auto& h : heaps_) best = std::min(best, h.earliest());
  return best == INT64_MAX ? -1 : best;
}

void runtime::run_timers(unsigned, unsigned victim) {
  timer_heap& h = heaps_[victim];
  std::int64_t when = h.earliest();
  if (when == INT64_MAX) return;
  std::int64_t now = now_ns();
  if (when > now) return;
  h.run_due(now);
}

// Idle lock held; every worker idle and every queue empty. Go's checkdead.
void runtime::all_idle(unsigned) {
  if (sched_.stopping()) return;
  for (const auto& h : heaps_)  // a sleeper or timer will wake someone (service fibers' do not count)
    if (h.user_pending() > 0) return;
  if (g_threads_alive.load(std::memory_order_acquire) > 0) return;
  if (g_foreign_blocked.load(std::memory_order_acquire) > 0) return;
  if (g_blocking_inflight.load(std::memory_order_acquire) > 0) return;
  if (netpoll_.waiters() > 0) return;  // a socket may still become ready
  if (live_fibers() == 0) return;
  std::string report = deadlock_report();
  gort_debug_deadlock();
  if (policy_ == deadlock_policy::abort) {
    std::fflush(stdout);
    write_stderr(report);
    trace_.write_on_crash();
    _exit(2);
  }
  deadlock_report_ = std::move(report);
  sched_.stop();
}

// GORT_LEAKCHECK=1: after the main fiber returned and the workers stopped,
// list the fibers still blocked (they are about to be unwound).
void runtime::report_leaks() {
  std::vector<const fiber*> blocked;
  table_.for_each([&](fiber& f) {
    if (f.state_.load(std::memory_order_acquire) == fiber_state::waiting) blocked.push_back(&f);
  });
  if (blocked.empty()) return;
  std::sort(blocked.begin(), blocked.end(), [](const fiber* a, const fiber* b) { return a->id_ < b->id_; });
  std::string out = "gort: " + std::to_string(blocked.size()) + " fibers still blocked at exit\n";
  for (const fiber* f : blocked) {
    out += '\n';
    append_fiber_block(out, *f);
  }
  std::fflush(stdout);
  write_stderr(out);
}

// GORT_DEADLOCK=partial, on the monitor thread: finds a cycle of fibers each
// waiting for a mutex held by the next (a deadlock Go never reports while
// other fibers still run). A cycle must be seen on two consecutive checks,
// unchanged, before it is reported: a snapshot may catch a chain in motion.
void runtime::check_partial_deadlock() {
  std::map<std::uint64_t, const fiber*> waiting;
  std::map<std::uint64_t, std::uint64_t> waits_for;
  table_.for_each([&](fiber& f) {
    if (std::uint64_t holder = wait_holder_of(f)) {
      waiting[f.id_] = &f;
      waits_for[f.id_] = holder;
    }
  });
  std::vector<std::uint64_t> cycle;
  for (const auto& [start, unused] : waits_for) {
    std::vector<std::uint64_t> path{start};
    for (std::uint64_t cur = start;;) {
      auto it = waits_for.find(cur);
      if (it == waits_for.end()) break;
      cur = it->second;
      if (cur == start) {
        cycle = path;
        break;
      }
      if (path.size() > waits_for.size() || std::find(path.begin(), path.end(), cur) != path.end()) break;
      path.push_back(cur);
    }
    if (!cycle.empty()) break;
  }
  if (cycle.empty() || cycle != last_cycle_) {
    last_cycle_ = cycle;
    return;
  }
  std::string out = "fatal error: deadlock cycle: ";
  for (std::uint64_t id : cycle) out += "goroutine " + std::to_string(id) + " -> ";
  out += "goroutine " + std::to_string(cycle.front()) + "\n";
  std::vector<std::uint64_t> sorted = cycle;
  std::sort(sorted.begin(), sorted.end());
  for (std::uint64_t id : sorted) {
    out += '\n';
    append_fiber_block(out, *waiting[id]);
  }
  std::fflush(stdout);
  write_stderr(out);
  trace_.write_on_crash();
  _exit(2);
}

std::string runtime::deadlock_report() {
  std::vector<const fiber*> blocked;
  table_.for_each([&](fiber& f) {
    fiber_state s = f.state_.load(std::memory_order_acquire);
    if (s == fiber_state::waiting || s == fiber_state::runnable || s == fiber_state::running)
      blocked.push_back(&f);
  });
  std::sort(blocked.begin(), blocked.end(), [](const fiber* a, const fiber* b) { return a->id_ < b->id_; });
  std::string out = "fatal error: all goroutines are asleep - deadlock!\n";
  for (const fiber* f : blocked) {
    out += '\n';
    append_fiber_block(out, *f);
  }
  return out;
}

// ---- run() -----------------------------------------------------------------

int run_main(main_fn& fn, const config& cfg) {
  if (worker_of_thread()) throw std::logic_error("gort::run: called from inside a fiber");
  unsigned n = resolve_workers(cfg.workers);
  std::size_t stack = resolve_stack(cfg.stack_size);
  (void)schedtrace_period();  // reject a bad value before anything starts
  const std::optional<std::uint64_t> seed = sched_seed();
  std::unique_ptr<runtime> rt;
  {
    std::unique_lock g(g_runtime_lock);
    if (g_runtime.load(std::memory_order_relaxed))
      throw std::logic_error("gort::run: another run() is already active");
    rt = std::make_unique<runtime>(n, stack, cfg.on_deadlock);
    g_runtime.store(rt.get(), std::memory_order_release);
  }
  if (seed) {
    if (n == 1) rt->sched_.set_random_schedule(*seed);
    g_chaos_state.store(*seed, std::memory_order_relaxed);
    g_sched_chaos.store(true, std::memory_order_relaxed);
  }
  const bool was_counted = thread_enters_run();
  rt->run(fn);
  thread_leaves_run(was_counted);
  g_sched_chaos.store(false, std::memory_order_relaxed);
  {
    std::unique_lock g(g_runtime_lock);
    g_runtime.store(nullptr, std::memory_order_release);
  }
  std::exception_ptr error = rt->main_error_;
  std::string report = std::move(rt->deadlock_report_);
  rt.reset();
  if (!report.empty()) throw deadlock_error(report);
  if (error) std::rethrow_exception(error);
  return fn.result;
}

}  // namespace gort::detail
