// gort::blocking's helper pool: plain threads that run blocking calls for
// parked fibers (Go's runtime does this with extra Ms in entersyscall; we do
// it explicitly, as Tokio's spawn_blocking does).
//
// Invariants:
//   - pool::mu_ guards queue_, threads_, retired_, idle_ and stopping_.
//   - Every thread in threads_ is a helper that has not yet decided to exit;
//     a helper that exits moves its own std::thread to retired_ (under mu_),
//     and whoever next takes mu_ to start a thread, or the destructor, joins
//     it. So every helper is joined exactly once.
//   - A job is started at most once and queued jobs are never dropped: a
//     helper exits only when the queue is empty.
//   - call::lock guards call::done and call::waiter. The helper that ran the
//     job sets done; if a fiber waits (waiter set) it readies it exactly once,
//     after releasing the lock, and never touches the call afterwards: the
//     call lives on the fiber's stack.
//   - g_blocking_inflight counts calls whose fiber has not been readied yet:
//     +1 before the job is queued, -1 by the helper after ready().
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "gort/blocking.hpp"
#include "gort/detail/scope_exit.hpp"
#include "runtime/core.hpp"
#include "runtime/park.hpp"

namespace gort::detail {

namespace {

constexpr unsigned k_max_helpers = 64;
constexpr auto k_idle_retire = std::chrono::seconds(10);

// One blocking call of a fiber; lives on that fiber's stack.
struct call {
  blocking_job* job = nullptr;
  // TSan: the fiber's acts before the call happen before the job, and the
  // job before the fiber's acts after it (also when it never parked).
  race_edge edge;
  spinlock lock;
  bool done GORT_GUARDED_BY(lock) = false;
  fiber* waiter GORT_GUARDED_BY(lock) = nullptr;  // the parked fiber, if any
};

class pool {
 public:
  ~pool();
  // Any thread: queues `c` and makes sure a helper will run it. Throws
  // std::system_error if no helper exists and none can be started. A new
  // helper counts against `max_threads` (fatal past it, as in Go).
  void submit(call* c, unsigned max_threads);

 private:
  void helper_main();
  void join_retired(std::unique_lock<std::mutex>& l);

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<call*> queue_;
  std::unordered_map<std::thread::id, std::thread> threads_;
  std::vector<std::thread> retired_;
  unsigned idle_ = 0;  // helpers waiting in cv_
  bool stopping_ = false;
};

// Any thread: the process-wide pool (constructed on first use, destroyed at
// exit after every run() has returned).
pool& the_pool() {
  static pool p;
  return p;
}

// A helper thread: runs the job, then wakes its fiber.
void finish(call* c) noexcept {
  c->edge.take();
  c->job->invoke(c->job);
  c->edge.publish();
  fiber* w;
  {
    locked g(c->lock);
    c->done = true;
    w = std::exchange(c->waiter, nullptr);
  }
  // `c` may be gone from here on.
  if (w) ready(w);
  // Release: pairs with the acquire load in runtime::all_idle, which must see
  // the fiber runnable or the call still in flight.
  g_blocking_inflight.fetch_sub(1, std::memory_order_acq_rel);
}

pool::~pool() {
  std::unique_lock l(mu_);
  stopping_ = true;
  cv_.notify_all();
  while (!threads_.empty() || !retired_.empty()) {
    join_retired(l);
    if (!threads_.empty()) cv_.wait_for(l, std::chrono::milliseconds(10));
  }
}

// mu_ held via `l`: joins helpers that exited (they no longer need mu_).
void pool::join_retired(std::unique_lock<std::mutex>& l) {
  std::vector<std::thread> done = std::move(retired_);
  retired_.clear();
  l.unlock();
  for (auto& t : done) t.join();
  l.lock();
}

void pool::submit(call* c, unsigned max_threads) {
  std::unique_lock l(mu_);
  if (!retired_.empty()) join_retired(l);
  queue_.push_back(c);
  if (idle_ >= queue_.size() || threads_.size() >= k_max_helpers) {
    cv_.notify_one();
    return;
  }
  count_os_thread(max_threads);
  try {
    std::thread t([this, nice = thread_start_nice()] {
      thread_enter_nice(nice);
      helper_main();
    });
    auto id = t.get_id();
    threads_.emplace(id, std::move(t));
  } catch (...) {
    uncount_os_thread();
    if (!threads_.empty()) return;  // an existing helper will get to it
    queue_.pop_back();
    throw;
  }
}

// Helper threads only. TSan: the pool's lock and condition variable order
// nothing (they would order every fiber that ever made a blocking call);
// only finish() acts for a fiber.
void pool::helper_main() {
  race_ignore_begin();
  scope_exit ignored_to_the_end([] { race_ignore_end(); });
  std::unique_lock l(mu_);
  for (;;) {
    if (queue_.empty()) {
      ++idle_;
      bool woke = cv_.wait_for(l, k_idle_retire, [this] { return stopping_ || !queue_.empty(); });
      --idle_;
      if (!woke || queue_.empty()) break;  // idle too long, or the pool is stopping
    }
    call* c = queue_.front();
    queue_.pop_front();
    l.unlock();
    race_ignore_end();
    finish(c);
    race_ignore_begin();
    l.lock();
  }
  auto it = threads_.find(std::this_thread::get_id());
  retired_.push_back(std::move(it->second));
  threads_.erase(it);
  uncount_os_thread();
  if (stopping_) cv_.notify_all();
}

// The calling fiber, at exit while run() unwinds it: park() threw. `f` may
// still use the fiber's stack, so wait (blocking this worker thread; nothing
// else runs now) until the helper is done with the call.
void wait_unwound(call& c) noexcept {
  for (;;) {
    {
      locked g(c.lock);
      if (c.done) {
        c.edge.take();
        return;
      }
      c.waiter = nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

// Any thread (see gort/blocking.hpp).
void run_blocking(blocking_job& job, const location& where) {
  machine* m = machine_of_thread();
  if (!m || !m->current() || m->rt().unwinding()) {
    job.invoke(&job);
    return;
  }
  call c;
  c.job = &job;
  c.edge.publish();
  g_blocking_inflight.fetch_add(1, std::memory_order_acq_rel);
  try {
    race_ignored internal;  // TSan: the pool's lock orders nothing (see helper_main)
    the_pool().submit(&c, m->rt().config().max_threads);
  } catch (...) {
    g_blocking_inflight.fetch_sub(1, std::memory_order_acq_rel);
    throw;
  }
  c.lock.lock();
  if (c.done) {
    c.lock.unlock();
    c.edge.take();
    return;
  }
  c.waiter = self();
  // park() throws fiber_unwind when run() unwinds us at exit.
  scope_exit unwound([&c, before = std::uncaught_exceptions()] {
    if (std::uncaught_exceptions() > before) wait_unwound(c);
  });
  park(c.lock, wait_reason::blocking_call, where);
}

}  // namespace gort::detail
