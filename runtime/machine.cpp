// machine: the switch path and runtime sections (see machine.hpp).
#include "runtime/machine.hpp"

#include <cxxabi.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <algorithm>
#include <exception>

#include "runtime/core.hpp"
#include "runtime/fatal.hpp"
#include "runtime/fcontext_switch.hpp"
#include "runtime/sanitizer.hpp"
#include "runtime/trace.hpp"
#include "scheduler/barrier.hpp"
#include "scheduler/scheduler.hpp"

namespace bctx = boost::context::detail;

// The machine bound to this thread (see machine_of_thread()).
extern "C" {
thread_local gort::detail::machine* gort_machine_tls __attribute__((tls_model("initial-exec"))) = nullptr;
}

namespace gort::detail {

namespace {

// The C++ runtime's per-thread exception state (libstdc++ and libc++abi
// share this prefix of __cxa_eh_globals).
struct eh_globals {
  void* caught;
  unsigned int uncaught;
};
}  // namespace

#ifndef GORT_MACHINE_TLS_INLINE
// Opaque on purpose: a fiber may resume on another thread, and the compiler
// must not reuse a thread_local address computed before a switch.
__attribute__((noinline)) machine* machine_of_thread() noexcept {
  asm volatile("");
  return gort_machine_tls;
}
#endif

machine::machine(runtime& rt, scheduler& sched, unsigned id) : rt_(rt), sched_(sched), id_(id) {}

void machine::bind_thread() {
  gort_machine_tls = this;
  depth_.store(1, std::memory_order_relaxed);  // g0 is inside a runtime section
  race_ignore_begin();
  eh_globals_ = abi::__cxa_get_globals();
  tsan_g0_ = tsan_current_fiber();
  has_cpu_clock_ = pthread_getcpuclockid(pthread_self(), &cpu_clock_) == 0;
  tid_ = int(gettid());
  note_base_priority();
  identified_.store(true, std::memory_order_release);
  enter_signal_stack();
}

void machine::unbind_thread() noexcept {
  leave_signal_stack();
  gort_machine_tls = nullptr;
  race_ignore_end();
}

std::int64_t machine::cpu_time_ns() const noexcept {
  timespec ts;
  if (!identified_.load(std::memory_order_acquire) || !has_cpu_clock_ || clock_gettime(cpu_clock_, &ts) != 0)
    return -1;
  return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

bool machine::sleeping_in_kernel() const noexcept {
  if (!identified_.load(std::memory_order_acquire)) return false;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid_);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[512];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  // "tid (comm) S ...": the state follows the last ')' (comm may hold any byte).
  const char* close = std::strrchr(buf, ')');
  if (!close || close[1] != ' ') return false;
  return close[2] == 'S' || close[2] == 'D';
}

// A section's entry found retake_ set: the monitor is deciding (wait for
// it: one barrier and a look), gave the worker back (retake_ cleared after
// owner_ was restored), or took it (then this machine has none from now on).
worker* machine::retake_seen() noexcept {
  worker* p = p_;
  for (;;) {
    if (!retake_.load(std::memory_order_acquire)) return p;  // given back
    machine* o = p->owner_.load(std::memory_order_acquire);
    if (o != worker::k_retaking && o != this) break;  // handed to another machine
    cpu_relax();
  }
  p_ = nullptr;
  retake_.store(false, std::memory_order_relaxed);  // the monitor is done with this machine
  return nullptr;
}

bool machine::retake_refused(worker& p) noexcept {
  // seq_cst, then the heavy barrier: the slow side of the handshake.
  retake_.store(true, std::memory_order_seq_cst);
  heavy_barrier();
  // Acquire: pairs with leave_runtime()'s release, so the worker comes with
  // every write this machine made to it.
  if (depth_.load(std::memory_order_acquire) == 0) return false;
  p.owner_.store(this, std::memory_order_release);  // busy in gort: not stuck
  retake_.store(false, std::memory_order_release);  // pairs with retake_seen()'s acquire
  return true;
}

void machine::run_worker() {
  worker* p = p_;
  const unsigned w = p->index();
  while (sched_node* n = sched_.find_runnable(w)) {
    fiber* f = static_cast<fiber*>(n);
    if (worker_trace* tr = p->trace()) [[unlikely]] {
      tr->note_steals(sched_.steals(w), f->id_, now_ns());
      execute<true>(f);
    } else {
      execute<false>(f);
    }
    if (!p_) return;  // the monitor handed the worker to another machine
  }
}

namespace {
// Runs the fiber's callable and disposes of it. Its locals (the exception)
// must be destroyed before the fiber's final jump, which never returns.
void run_fiber_body(fiber* f) {
  if (!f->is_main_ && panics_at_throw()) {
    // Nothing on this stack catches what escapes a go() fiber but the
    // shutdown's unwind: __cxa_throw then calls std::terminate with the
    // throw site still on the stack, and its handler panics (fatal.cpp).
    try {
      f->fn_->invoke(f->fn_);
    } catch (const fiber_unwind&) {
      // Shutdown unwound this fiber: nothing to report.
    }
    f->fn_->destroy(f->fn_);
    return;
  }
  std::exception_ptr error;
  try {
    f->fn_->invoke(f->fn_);
  } catch (const fiber_unwind&) {
    // Shutdown unwound this fiber: nothing to report.
  } catch (...) {
    error = std::current_exception();
  }
  f->fn_->destroy(f->fn_);
  if (error) {
    // The main fiber's exception leaves run(); another's is a panic (here
    // only when the program replaced std::terminate's handler: no stack).
    if (!f->is_main_) panic(*f, error, false);
    machine_of_thread()->rt().set_main_error(std::move(error));
  }
}
}  // namespace

// The entry point of every fiber's stack. Never returns: the fiber's last act
// is a jump to g0 asking to be finished.
void fiber_entry_(void* from_ctx, void* data) {
  race_ignore_begin();  // TSan: a new context, inside the section that leave_runtime() closes
  auto* m = static_cast<machine*>(data);
  fiber* self = m->current();
  m = machine::arrived(self, bctx::transfer_t{from_ctx, data});
  m->leave_runtime();  // from here on the fiber's own code runs
  m->race_switched_in();
  self->race_edge_.take();  // TSan: go() happens before the fiber starts (fiber_start)
  run_fiber_body(self);
  // TSan: the fiber's life happens before run() returns (and before the
  // fibers that run() unwinds at exit resume).
  race_release(machine_of_thread()->rt().race_exits());
  machine::exit_current();
}

namespace {
void fiber_entry(bctx::transfer_t t) { fiber_entry_(t.fctx, t.data); }
}  // namespace

// On g0 or in a section, owning a worker, before `f`'s first switch: gives it
// a stack and a start context. The start is coloured: offset by a multiple
// of 64 bytes that varies with the fiber id, so that the hot top frames of
// many fibers do not all land in the same cache sets (stack tops are
// page-aligned and a constant stride apart; a 1000-fiber sieve otherwise
// thrashes a handful of L1 sets).
void machine::prepare_first_run(fiber* f) {
  // At most 2 KiB (half a page: half the L1 sets) and a sixteenth of the stack.
  constexpr std::size_t k_line = 64;
  f->stack_ = p_->get_stack();
  f->stack_.forget_last_use();  // TSan: this fiber is not ordered after the stack's last user
  f->check_canary_ = !f->stack_.guarded;
  f->last_worker_ = std::uint16_t(p_->index());  // a first run is no migration
  const std::size_t span = std::min<std::size_t>(2048, f->stack_.size / 16);
  const std::size_t colour = (f->id_ * k_line) % span;
  f->ctx_ = bctx::make_fcontext(f->stack_.top() - colour, f->stack_.size - colour, &fiber_entry);
  f->tsan_fiber_ = tsan_create_fiber();
}

// Owning a worker, just before switching to `n` (from g0 or from another
// fiber whose exception state was saved): `n` becomes the running fiber and
// its exception state the thread's.
inline void machine::enter(fiber* n) {
  if (!n->ctx_) prepare_first_run(n);
  current_ = n;
  running_.store(n, std::memory_order_release);
  worker* p = p_;
  if (n->last_worker_ != p->index()) {
    p->migrations.add();
    n->last_worker_ = std::uint16_t(p->index());
  }
  n->state_.store(fiber_state::running, std::memory_order_relaxed);
  auto* eh = static_cast<eh_globals*>(eh_globals_);
  eh->caught = n->eh_caught_;
  eh->uncaught = n->eh_uncaught_;
  p->switches.add();
}

// As `f` switches out: keeps the thread's exception state with `f` (so it
// may block inside a catch block and migrate).
inline void machine::save_eh(fiber* f) noexcept {
  auto* eh = static_cast<eh_globals*>(eh_globals_);
  f->eh_caught_ = eh->caught;
  f->eh_uncaught_ = std::uint16_t(eh->uncaught);
}

// `f` has switched out with request `r` and its registers are in `ctx`;
// carries the request out (on g0, or on the fiber it handed the machine to).
// Without a worker (the monitor took it) only on g0.
[[gnu::always_inline]] inline void machine::switched_out(fiber* f, void* ctx, request r) noexcept {
  f->ctx_ = ctx;
  check_canary(f);
  switch (r) {
    case request::park: parked(f); break;
    case request::yield: yielded(f); break;
    case request::exit: finish(f); break;
    case request::none: fatal("gort: a fiber switched out without a request");
  }
}

// Traced: recording a trace (runtime/trace.hpp). Two instances, so that the
// untraced one carries no trace test: run_worker() tests once per switch
// through g0, handoff() once per handoff, and switch_out() not at all.
template <bool Traced>
void machine::execute(fiber* f) {
  worker* p = p_;
  p->handoffs_in_row_ = 0;  // this switch comes from g0
  // The fiber's exception state replaces g0's for the duration (run() may
  // have been called inside a catch block).
  auto* eh = static_cast<eh_globals*>(eh_globals_);
  eh_globals g0_eh = *eh;
  enter(f);

  // Loaded once: recording may stop meanwhile, but the ring stays valid.
  worker_trace* tr = nullptr;
  if constexpr (Traced) {
    tr = p->trace();
    if (tr) tr->run_begin(*f, now_ns());
  }
  asan_start_switch(&asan_fake_stack_, f->stack_.base, f->stack_.size);
  tsan_switch_to(f->tsan_fiber_);
  bctx::transfer_t t = bctx::jump_fcontext(f->ctx_, this);
  asan_finish_switch(asan_fake_stack_, nullptr, nullptr);
  // Whoever switched back: `f`, or a fiber `f` handed the machine to (whose
  // slice a traced handoff opened). The worker may be gone (p_ null): the
  // monitor handed it to another machine, which now writes its ring.
  f = current();
  if (Traced && tr && p_) {
    std::int64_t now = now_ns();
    tr->run_end(now);
    if (request_ == request::park) tr->park(*f, f->reason_.load(std::memory_order_relaxed), now);
  }

  // Back on g0. `f` has switched out (or exited) and its registers are in t.
  save_eh(f);
  *eh = g0_eh;
  current_ = nullptr;
  running_.store(nullptr, std::memory_order_relaxed);
  switched_out(f, t.fctx, std::exchange(request_, request::none));
  if (!p_) rt_.worker_lost(*this);  // this machine's stuck fiber is off it now
}

// `f` has switched out to park and its context is saved (on g0, or on the
// fiber it handed the machine to). State first, then the unlock step: after
// it a waker may run `f` anywhere, and we must not touch `f` again.
[[gnu::always_inline]] inline void machine::parked(fiber* f) noexcept {
  if (p_) p_->parks.add();
  // Release: publishes where and why it parked to reports, dumps and the
  // partial-deadlock monitor, which load the state with acquire.
  f->state_.store(fiber_state::waiting, std::memory_order_release);
  // TSan: this runs ignored (g0, or the next fiber inside its runtime
  // section): a parker states the edges of its unlock step itself, before it
  // switches out (condition_variable::wait_ns). From here on `f` may run
  // elsewhere, its TSan context included.
  if (unlock_fn_) unlock_fn_(unlock_arg_);
}

// `f` has switched out to yield and its context is saved: it goes to the
// tail of the local queue (and may be stolen from there at once), or to the
// global queue from a machine without a worker.
[[gnu::always_inline]] inline void machine::yielded(fiber* f) noexcept {
  // Release (a plain store on x86): the saved context above is seen with it
  // by a stack reader (runtime/unwind.cpp), which loads the state with acquire.
  f->state_.store(fiber_state::runnable, std::memory_order_release);
  if (p_)
    sched_.push_local(p_->index(), f, place::tail);
  else
    sched_.push_global(f);
}

[[gnu::always_inline]] inline void machine::check_canary(fiber* f) noexcept {
  if (f->check_canary_ && !f->stack_.canary_intact()) stack_overflow(*f);
}

template void machine::execute<true>(fiber*);
template void machine::execute<false>(fiber*);

// On g0: the fiber's stack is no longer in use; recycle it and the object.
void machine::finish(fiber* f) noexcept {
  tsan_destroy_fiber(std::exchange(f->tsan_fiber_, nullptr));
  asan_unpoison_stack(f->stack_.base, f->stack_.size);
  stack_mem s = std::exchange(f->stack_, {});
  if (p_)
    p_->put_stack(s);
  else
    rt_.release_stack(s);
  f->ctx_ = nullptr;
  // Its first jump (arrived() in fiber_entry_) hands this to ASan: the next
  // fiber made from this object must not inherit the freed fake stack.
  f->asan_fake_stack_ = nullptr;
  rt_.fiber_exited(p_, *f);
}

// The parking or yielding fiber `f` (request `r`) hands machine `m` straight
// to `n` (taken from m's worker's queue): one jump instead of two, and no
// trip through find_runnable. The side that arrives finishes f's park or
// yield (see arrived()). Returns the machine that later resumes `f`. A fiber
// that already ran is resumed by switch_fcontext (it most often stopped
// where `f` stops now), a new one by jump_fcontext.
[[gnu::always_inline]] inline machine* machine::handoff(machine* m, fiber* f, fiber* n, request r) {
  if (worker_trace* tr = m->p_->trace()) [[unlikely]]
    tr->handoff(*f, *n, r == request::park, now_ns());
  m->save_eh(f);
  const bool first_run = n->ctx_ == nullptr;
  m->enter(n);
  m->handoff_from_ = f;
  m->request_ = r;
  asan_start_switch(&f->asan_fake_stack_, n->stack_.base, n->stack_.size);
  tsan_switch_to(n->tsan_fiber_);
  bctx::transfer_t t = first_run ? bctx::jump_fcontext(n->ctx_, m) : switch_fcontext(n->ctx_, m);
  return arrived(f, t);
}

void machine::switch_in_section() noexcept {
  fatal("gort: a fiber switched out on the runtime's side of a switch (inside a runtime section)");
}

// `self` has just been resumed by the jump that returned `t`: from g0, or
// from a fiber that parked and handed the machine over. In the second case
// the previous fiber's context is in `t` and its park is finished here.
[[gnu::always_inline]] inline machine* machine::arrived(fiber* self, bctx::transfer_t t) noexcept {
  auto* now = static_cast<machine*>(t.data);
  if (fiber* prev = std::exchange(now->handoff_from_, nullptr)) {
    asan_finish_switch(self->asan_fake_stack_, nullptr, nullptr);
    now->switched_out(prev, t.fctx, std::exchange(now->request_, request::none));
  } else {
    now->g0_ctx_ = t.fctx;
    asan_finish_switch(self->asan_fake_stack_, &now->g0_stack_bottom_, &now->g0_stack_size_);
  }
  return now;
}

// The fiber that switch_out() switched out is back on machine `back`, whose
// runtime section it closes.
[[gnu::always_inline]] inline machine* machine::resumed(machine* back) noexcept {
  back->leave_runtime();
  if constexpr (race_enabled) {
    back->race_switched_in();
    // TSan: resumed to unwind at exit, it runs after every fiber that exited.
    if (back->rt_.unwinding()) race_acquire(back->rt_.race_exits());
  }
  return back;
}

// The running fiber of machine `m`: opens a runtime section (closed by
// whichever fiber next returns to its own code on the machine that resumes
// it), then switches out.
[[gnu::always_inline]] inline machine* machine::switch_out(machine* m, request r) {
  fiber* f = m->current();
  worker* p = m->enter_runtime_to_switch();
  if (p && r != request::exit) {
    // Hand over to the next local fiber (a park: the one in runnext, usually
    // just woken; a yield: the next in the local queue) when the scheduler
    // agrees (it keeps its fairness rules), and at most k_max_handoffs times
    // in a row: then a switch goes through g0, whose find_runnable runs due
    // timers.
    if (p->handoffs_in_row_ < k_max_handoffs) {
      if (sched_node* n = m->sched_.take_for_handoff(p->index(), /*whole_queue=*/r == request::yield)) {
        ++p->handoffs_in_row_;
        return resumed(handoff(m, f, static_cast<fiber*>(n), r));
      }
    }
    // Nothing else could run here: a yield would switch out and back for nothing.
    if (r == request::yield && !m->sched_.yield_useful(p->index())) {
      m->leave_runtime();
      return m;
    }
  }
  m->request_ = r;
  asan_start_switch(r == request::exit ? nullptr : &f->asan_fake_stack_, m->g0_stack_bottom_,
                    m->g0_stack_size_);
  tsan_switch_to(m->tsan_g0_);
  bctx::transfer_t t = bctx::jump_fcontext(m->g0_ctx_, nullptr);
  // Resumed, possibly by another machine: it passed itself in the jump.
  return resumed(arrived(f, t));
}

// TSan: a fiber was just switched in on this machine's thread, in its own
// context (see tsan_forget_tls()).
void machine::race_switched_in() noexcept {
  if constexpr (race_enabled) tsan_forget_tls();
}


namespace {
// The running fiber `f`, about to switch out (park or yield): its saved
// context gets a new generation, which tells a report copying its stack that
// the copy raced with a switch (see fiber::switch_gen_). Only f's thread
// writes it: a relaxed load and store, no locked instruction.
[[gnu::always_inline]] inline void next_context_generation(fiber& f) noexcept {
  f.switch_gen_.store(f.switch_gen_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}
}  // namespace

// One frame for the whole park: switch_out is inlined here.
void machine::park_current(machine* m, fiber* f, void (*unlock)(void*), void* arg, wait_reason why,
                           const location& where) {
  if (m->rt().unwinding()) {
    if (std::uncaught_exceptions() == 0) {
      if (unlock) unlock(arg);
      throw_unwind(*f, why, &where);
    }
    // Blocking inside a destructor while unwinding at exit: it can neither
    // throw nor ever be woken. Leave it parked; run() abandons it.
    f->abandoned_ = true;
  }
  f->reason_.store(why, std::memory_order_relaxed);
  f->blocked_at_ = where;
  m->unlock_fn_ = unlock;
  m->unlock_arg_ = arg;
  // For reports: since when (one load of a clock the monitor keeps).
  f->blocked_since_.store(g_coarse_now_s.load(std::memory_order_relaxed), std::memory_order_relaxed);
  next_context_generation(*f);
  m = switch_out(m, request::park);
  f->race_edge_.take();  // TSan: from whoever readied us (see ready())
  f->reason_.store(wait_reason::none, std::memory_order_relaxed);
  if (m->rt().unwinding()) throw_unwind(*f, why, &where);
}
machine* machine::switch_out_yield(machine* self) {
  fiber* f = self->current();
  next_context_generation(*f);
  return switch_out(self, request::yield);
}

void machine::yield_current(machine* m, fiber* f) {
  if (m->rt().unwinding() && std::uncaught_exceptions() == 0) throw_unwind(*f, wait_reason::none, nullptr);
  next_context_generation(*f);
  m = switch_out(m, request::yield);  // returns at once when nothing else could run
  if (m->rt().unwinding() && std::uncaught_exceptions() == 0) throw_unwind(*f, wait_reason::none, nullptr);
}

void machine::exit_current() {
  switch_out(machine_of_thread(), request::exit);
  __builtin_unreachable();
}

}  // namespace gort::detail
