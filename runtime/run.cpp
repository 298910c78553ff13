// run(): from gort::run's call to the end of the runtime (the shutdown
// protocol at the top of runtime/core.hpp), and the runtime's construction.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

#include "runtime/core.hpp"
#include "runtime/fatal.hpp"
#include "gort/detail/scope_exit.hpp"
#include "runtime/park.hpp"

namespace gort::detail {

std::shared_mutex g_runtime_lock;
std::atomic<runtime*> g_runtime{nullptr};

namespace {

constexpr unsigned k_max_workers = 1024;
constexpr std::size_t k_default_stack = 256 * 1024;
constexpr std::size_t k_min_stack = 16 * 1024;
constexpr std::size_t k_max_stack = std::size_t(1) << 30;

unsigned resolve_workers(unsigned requested, const settings& env) {
  if (requested > k_max_workers)
    throw std::invalid_argument("gort::run: config::workers = " + std::to_string(requested) +
                                " is out of range (1.." + std::to_string(k_max_workers) + ")");
  if (requested > 0) return requested;
  if (env.maxprocs > 0) return env.maxprocs;
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : std::min(hw, k_max_workers);
}

std::size_t resolve_stack(std::size_t requested) {
  if (requested == 0) return k_default_stack;
  if (requested < k_min_stack || requested > k_max_stack)
    throw std::invalid_argument("gort::run: config::stack_size = " + std::to_string(requested) +
                                " is out of range (" + std::to_string(k_min_stack) + ".." +
                                std::to_string(k_max_stack) + " bytes)");
  return requested;
}

unsigned resolve_max_threads(unsigned requested, const settings& env, unsigned workers) {
  constexpr unsigned k_default_max_threads = 10000;  // Go's default
  unsigned n = requested > 0 ? requested : env.maxthreads > 0 ? env.maxthreads : k_default_max_threads;
  if (n < workers)
    throw std::invalid_argument("gort::run: max_threads = " + std::to_string(n) + " is less than the " +
                                std::to_string(workers) + " workers");
  return n;
}

}  // namespace

runtime::runtime(const run_config& cfg)
    : cfg_(cfg),
      sched_(cfg.workers, *this),
      stacks_(cfg.stack_size),
      heaps_(cfg.workers),
      started_ns_(now_ns()) {
  workers_.reserve(cfg.workers);
  for (unsigned i = 0; i < cfg.workers; ++i) {
    workers_.push_back(std::make_unique<worker>(*this, stacks_, table_, i));
    sched_.set_timer_hint(i, &heaps_[i].earliest_word());
  }
  if (cfg.env.sched_seed && cfg.workers == 1) sched_.set_random_schedule(*cfg.env.sched_seed);
  netpoll_.set_on_first([] {
    if (runtime* rt = g_runtime.load(std::memory_order_acquire)) rt->wake_poller();
  });
}

runtime::~runtime() = default;

run_outcome runtime::run(main_fn& fn) {
  install_overflow_handler();
  install_sigquit_handler();
  install_terminate_handler();
  // The main fiber: id 1, queued for worker 0.
  worker& w0 = *workers_[0];
  fiber* main = table_.allocate_chunk(1);
  main->sched_next = nullptr;
  main->id_ = 1;
  main->is_main_ = true;
  main->created_at_ = fn.where;  // run()'s caller
  main->fn_ = &fn;
  w0.spawned.add(1);
  main->state_.store(fiber_state::runnable, std::memory_order_relaxed);
  main->race_edge_.publish();  // TSan: what the caller did before run() happens before main

  trace_.init(workers_, cfg_.env.trace_path, started_ns_);
  // Machine 0 is this thread, owning worker 0; the others get threads.
  count_os_thread(cfg_.max_threads);
  machines_.push_back(std::make_unique<machine>(*this, sched_, 0));
  machine& m0 = *machines_[0];
  m0.bind_thread();
  m0.give_worker(&w0);
  w0.owner_.store(&m0, std::memory_order_release);
  for (unsigned i = 1; i < workers_.size(); ++i) new_machine(workers_[i].get());
  start_monitor();
  sched_.push_global(main);  // once every machine is counted and started
  for (;;) {
    if (!m0.p() && !wait_as_spare(m0)) break;
    m0.run_worker();
    if (m0.p()) break;  // the scheduler stopped
  }
  stop_monitor();
  join_machines();  // shutdown step 2
  // Every other machine is gone: worker 0 is machine 0's for the rest.
  for (auto& w : workers_) {
    w->owner_.store(&m0, std::memory_order_relaxed);
    w->drain_stacks();
  }
  m0.give_worker(&w0);
  if (cfg_.env.leakcheck) report_leaks();
  for (auto& h : heaps_) h.clear();  // step 3
  unwind_leftovers(m0);              // step 4
  m0.unbind_thread();
  uncount_os_thread();
  trace_.write_at_exit();
  race_acquire(race_exits());  // TSan: every fiber's life happens before run() returns
  return std::move(outcome_);
}

// Shutdown step 4, on machine 0 (owning worker 0) with every other machine
// joined.
void runtime::unwind_leftovers(machine& m0) {
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
        m0.execute(f);  // park() throws fiber_unwind inside; the fiber exits
      } else {
        discard_unstarted(*m0.p(), *f);
      }
    }
  }
  m0.p()->drain_stacks();
  // Abandoned fibers (blocked in a destructor during unwinding) keep their
  // stacks until the allocator is destroyed; nothing else references them.
}

int run_main(main_fn& fn, const config& cfg) {
  if (machine_of_thread()) throw std::logic_error("gort::run: called from inside a fiber");
  run_config rc;
  rc.env = read_settings();  // every GORT_* variable, checked before anything starts
  rc.workers = resolve_workers(cfg.workers, rc.env);
  rc.stack_size = resolve_stack(cfg.stack_size);
  rc.on_deadlock = cfg.on_deadlock;
  rc.max_threads = resolve_max_threads(cfg.max_threads, rc.env, rc.workers);
  const long stall_ms = cfg.stall_report.count() > 0 ? long(cfg.stall_report.count()) : rc.env.stallreport_ms;
  if (cfg.stall_report.count() < 0)
    throw std::invalid_argument("gort::run: config::stall_report = " + std::to_string(cfg.stall_report.count()) +
                                " ms is negative");
  rc.stall_report_ns = std::int64_t(stall_ms) * 1'000'000;
  std::unique_ptr<runtime> rt;
  {
    std::unique_lock g(g_runtime_lock);
    if (g_runtime.load(std::memory_order_relaxed))
      throw std::logic_error("gort::run: another run() is already active");
    rt = std::make_unique<runtime>(rc);
    g_runtime.store(rt.get(), std::memory_order_release);
  }
  set_chaos_seed(rc.env.sched_seed);
  const bool was_counted = thread_enters_run();
  run_outcome out = rt->run(fn);
  thread_leaves_run(was_counted);
  set_chaos_seed(std::nullopt);
  {
    std::unique_lock g(g_runtime_lock);
    g_runtime.store(nullptr, std::memory_order_release);
  }
  rt.reset();
  if (!out.deadlock_report.empty()) throw deadlock_error(out.deadlock_report);
  if (out.error) std::rethrow_exception(out.error);
  return fn.result;
}

}  // namespace gort::detail
