// The executor: one fiber per program fiber, each doing its operations in
// order and logging them (see executor.hpp and model.hpp).
//
// Invariants: every object a fiber touches lives in a `world` built before
// gort::run and destroyed after it, so fibers unwound at a deadlock still
// find them. Each fiber writes only its own log slot; the main fiber and
// execute() read the logs after the fibers are done (wait_group) or after
// run() returned (its threads joined). The logical clock is a relaxed
// fetch_add: relaxed read-modify-writes still form one total order that is
// consistent with happens-before, which is all the checker's real-time
// reasoning needs, and they add no synchronisation that could hide a race
// from ThreadSanitizer.
#include "executor.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <utility>

#include "gort/gort.hpp"

namespace gort_model {

namespace {

using value_chan = gort::chan<std::int32_t>;

struct world {
  std::vector<value_chan> chans;
  std::deque<gort::mutex> mutexes;
  std::deque<gort::semaphore> semas;
  gort::wait_group wg;
  // Mutual exclusion as the fibers see it: a mutex held by two fibers at
  // once shows as a set `held` flag or a repeated acquisition number.
  std::atomic<bool> held[k_max_mutexes] = {};
  std::atomic<std::uint32_t> acquisitions[k_max_mutexes] = {};
  std::atomic<std::uint64_t> clock{1};
  std::mutex error_lock;  // never held across a gort call
  std::string error;

  void fail(const std::string& what) {
    std::lock_guard g(error_lock);
    if (error.empty()) error = what;
  }
};

// GORT_SCHED_SEED for one run, restored afterwards.
class scoped_sched_seed {
 public:
  explicit scoped_sched_seed(const std::optional<std::uint64_t>& seed) {
    if (const char* old = std::getenv("GORT_SCHED_SEED")) old_ = old;
    if (seed) {
      setenv("GORT_SCHED_SEED", std::to_string(*seed).c_str(), 1);
    } else {
      unsetenv("GORT_SCHED_SEED");
    }
  }
  ~scoped_sched_seed() {
    if (old_) {
      setenv("GORT_SCHED_SEED", old_->c_str(), 1);
    } else {
      unsetenv("GORT_SCHED_SEED");
    }
  }
  scoped_sched_seed(const scoped_sched_seed&) = delete;
  scoped_sched_seed& operator=(const scoped_sched_seed&) = delete;

 private:
  std::optional<std::string> old_;
};

void enter(world& w, std::size_t m, event& e, std::size_t f) {
  if (w.held[m].exchange(true, std::memory_order_relaxed))
    w.fail("fiber " + std::to_string(f) + " got m" + std::to_string(m) + " while another fiber held it");
  e.witness = w.acquisitions[m].load(std::memory_order_relaxed) + 1;
  w.acquisitions[m].store(e.witness, std::memory_order_relaxed);
}

// One select slot: the case's channel in the direction it has and the nil
// channel in the other, so that every select has one shape per case count.
struct slot {
  value_chan send_ch = nullptr, recv_ch = nullptr;
  std::int32_t value = 0;
  std::optional<std::int32_t> got;
};

// gort::select over n slots: the send cases (indices 0..n-1), the receive
// cases (n..2n-1) and, with a default, the default (2n). Returns that index.
template <std::size_t... I>
std::size_t select_over(slot* s, bool with_default, std::index_sequence<I...>) {
  if (with_default)
    return gort::select(
        gort::send_case(s[I].send_ch, s[I].value)...,
        gort::recv_case(s[I].recv_ch, [&g = s[I].got](std::optional<std::int32_t> v) { g = v; })...,
        gort::default_case());
  return gort::select(
      gort::send_case(s[I].send_ch, s[I].value)...,
      gort::recv_case(s[I].recv_ch, [&g = s[I].got](std::optional<std::int32_t> v) { g = v; })...);
}

void do_select(world& w, const op& o, event& e) {
  slot s[k_max_cases];
  const std::size_t n = o.cases.size();
  for (std::size_t i = 0; i < n; ++i) {
    const select_case& c = o.cases[i];
    (c.is_send ? s[i].send_ch : s[i].recv_ch) = w.chans[c.chan];
    s[i].value = c.value;
  }
  std::size_t r = 0;
  switch (n) {
    case 1: r = select_over(s, o.has_default, std::make_index_sequence<1>()); break;
    case 2: r = select_over(s, o.has_default, std::make_index_sequence<2>()); break;
    case 3: r = select_over(s, o.has_default, std::make_index_sequence<3>()); break;
    default: r = select_over(s, o.has_default, std::make_index_sequence<4>()); break;
  }
  if (r == 2 * n) {
    e.index = std::int32_t(n);  // the default
  } else if (r < n) {
    e.index = std::int32_t(r);
  } else {
    e.index = std::int32_t(r - n);
    e.res = s[r - n].got ? result::value : result::none;
    e.value = s[r - n].got.value_or(0);
  }
}

void set_received(event& e, const std::optional<std::int32_t>& v) {
  e.res = v ? result::value : result::none;
  e.value = v.value_or(0);
}

// Fiber f: performs `o`, filling e.res (ok unless set here), e.value,
// e.index and e.witness. Exceptions are the caller's to classify.
void perform(world& w, std::size_t f, const op& o, event& e, bool* holds) {
  switch (o.kind) {
    case op_kind::send: w.chans[o.obj].send(o.arg); break;
    case op_kind::recv: set_received(e, w.chans[o.obj].recv()); break;
    case op_kind::try_send:
      if (!w.chans[o.obj].try_send(std::int32_t(o.arg))) e.res = result::none;
      break;
    case op_kind::try_recv: set_received(e, w.chans[o.obj].try_recv()); break;
    case op_kind::close: w.chans[o.obj].close(); break;
    case op_kind::select: do_select(w, o, e); break;
    case op_kind::lock:
      w.mutexes[o.obj].lock();
      enter(w, o.obj, e, f);
      holds[o.obj] = true;
      break;
    case op_kind::try_lock:
      if (!w.mutexes[o.obj].try_lock()) {
        e.res = result::none;
        break;
      }
      enter(w, o.obj, e, f);
      holds[o.obj] = true;
      break;
    case op_kind::unlock:
      if (!holds[o.obj]) {
        e.res = result::skipped;
        break;
      }
      holds[o.obj] = false;
      w.held[o.obj].store(false, std::memory_order_relaxed);
      w.mutexes[o.obj].unlock();
      break;
    case op_kind::acquire: w.semas[o.obj].acquire(o.arg); break;
    case op_kind::try_acquire:
      if (!w.semas[o.obj].try_acquire(o.arg)) e.res = result::none;
      break;
    case op_kind::release: w.semas[o.obj].release(o.arg); break;
    case op_kind::wg_add: w.wg.add(o.arg); break;
    case op_kind::wg_done: w.wg.done(); break;
    case op_kind::wg_wait: w.wg.wait(); break;
    case op_kind::yield: gort::yield(); break;
  }
}

result classify(const std::exception& x, world& w, std::size_t f) {
  const std::string what = x.what();
  if (dynamic_cast<const gort::closed_channel_error*>(&x)) {
    if (what == "send on closed channel") return result::send_closed;
    if (what == "close of closed channel") return result::close_closed;
    if (what == "close of nil channel") return result::close_nil;
  } else if (dynamic_cast<const std::logic_error*>(&x) && what == "sync: negative WaitGroup counter") {
    return result::wg_negative;
  }
  w.fail("fiber " + std::to_string(f) + ": unexpected exception: " + what);
  return result::unexpected;
}

// A small number naming the calling OS thread (for event::thread). Not
// inlined: a fiber may resume on another thread, and a caller must not keep
// the thread_local's address across a switch.
[[gnu::noinline]] std::uint32_t thread_number() {
  static std::atomic<std::uint32_t> next{1};
  thread_local const std::uint32_t mine = next.fetch_add(1, std::memory_order_relaxed);
  return mine;
}

// Fiber f's body. A fiber unwound at a deadlock leaves `pending` set to the
// start of the call it never returned from.
void run_fiber(world& w, std::size_t f, const std::vector<op>& ops, std::vector<event>& log,
               std::uint64_t& pending, std::uint32_t& pending_thread) {
  bool holds[k_max_mutexes] = {};
  for (const op& o : ops) {
    event e;
    e.thread = pending_thread = thread_number();
    e.start = w.clock.fetch_add(1, std::memory_order_relaxed);
    pending = e.start;
    try {
      perform(w, f, o, e, holds);
    } catch (const std::exception& x) {
      e.res = classify(x, w, f);
    }
    e.end = w.clock.fetch_add(1, std::memory_order_relaxed);
    e.end_thread = thread_number();
    pending = 0;
    log.push_back(e);
  }
}

// The main fiber, after every program fiber finished: the final state.
void read_final_state(world& w, trace& t) {
  for (value_chan& ch : w.chans) {
    std::vector<std::int32_t> left;
    while (auto v = ch.try_recv()) left.push_back(*v);
    t.residue.push_back(std::move(left));
    // Drained and nobody blocked: a receive case is ready only if closed.
    t.closed.push_back(gort::select(gort::recv_case(ch), gort::default_case()) == 0);
  }
  for (gort::mutex& m : w.mutexes) {
    const bool free = m.try_lock();
    if (free) m.unlock();
    t.locked.push_back(!free);
  }
  for (gort::semaphore& s : w.semas) t.units.push_back(s.available());
}

}  // namespace

std::string to_string(const run_config& c) {
  std::string s = "workers=" + std::to_string(c.workers);
  if (c.sched_seed) s += " GORT_SCHED_SEED=" + std::to_string(*c.sched_seed);
  return s;
}

trace execute(const program& p, const run_config& c) {
  const std::size_t nf = p.fibers.size();
  trace t;
  t.fibers.resize(nf);
  t.pending_start.assign(nf, 0);
  t.pending_thread.assign(nf, 0);
  t.sched_seeded = c.sched_seed.has_value();
  for (std::size_t f = 0; f < nf; ++f) t.fibers[f].reserve(p.fibers[f].size());
  world w;
  for (int cap : p.chans) w.chans.push_back(cap < 0 ? value_chan(nullptr) : value_chan(cap));
  w.mutexes.resize(p.mutexes);
  for (int units : p.semas) w.semas.emplace_back(units);
  if (p.wg_initial > 0) w.wg.add(p.wg_initial);

  scoped_sched_seed seed(c.sched_seed);
  gort::config cfg;
  cfg.workers = c.workers;
  cfg.on_deadlock = gort::deadlock_policy::raise;
  try {
    gort::run(
        [&] {
          gort::wait_group all;
          all.add(std::ptrdiff_t(nf));
          for (std::size_t f = 0; f < nf; ++f) {
            gort::go([&, f] {
              run_fiber(w, f, p.fibers[f], t.fibers[f], t.pending_start[f], t.pending_thread[f]);
              all.done();
            });
          }
          all.wait();
          read_final_state(w, t);
        },
        cfg);
  } catch (const gort::deadlock_error&) {
    t.deadlock = true;
  } catch (const std::exception& x) {
    w.fail(std::string("gort::run threw: ") + x.what());
  }
  t.error = w.error;
  return t;
}

}  // namespace gort_model
