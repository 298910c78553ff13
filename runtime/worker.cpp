#include "runtime/worker.hpp"

#include <cxxabi.h>
#include <algorithm>

#include <boost/context/detail/fcontext.hpp>

#include "runtime/core.hpp"
#include "runtime/fatal.hpp"
#include "runtime/sanitizer.hpp"
#include "runtime/trace.hpp"

namespace bctx = boost::context::detail;

namespace gort::detail {

namespace {
thread_local worker* t_worker = nullptr;

// The C++ runtime's per-thread exception state (libstdc++ and libc++abi
// share this prefix of __cxa_eh_globals).
struct eh_globals {
  void* caught;
  unsigned int uncaught;
};

constexpr std::size_t k_fiber_cache_max = 256;  // free fiber objects kept per worker
constexpr std::size_t k_fiber_batch = 64;       // moved to/from the shared free list at once
constexpr std::uint64_t k_id_batch = 64;        // ids reserved per refill (Go: goidcache)
}  // namespace

// Opaque on purpose: a fiber may resume on another thread, and the compiler
// must not reuse a thread_local address computed before a switch.
__attribute__((noinline)) worker* worker_of_thread() noexcept {
  asm volatile("");
  return t_worker;
}

void set_thread_worker(worker* w) noexcept { t_worker = w; }

worker::worker(runtime& rt, unsigned index) : rt_(rt), index_(index) {}

// This worker's thread.
void worker::loop() {
  t_worker = this;
  eh_globals_ = abi::__cxa_get_globals();
  tsan_g0_ = tsan_current_fiber();
  enter_signal_stack();
  while (sched_node* n = rt_.sched_.find_runnable(index_)) {
    fiber* f = static_cast<fiber*>(n);
    if (worker_trace* t = trace()) [[unlikely]] {
      t->note_steals(rt_.sched_.steals(index_), f->id_, now_ns());
      execute<true>(f);
    } else {
      execute<false>(f);
    }
  }
  stacks_.drain(rt_.stacks_);
  leave_signal_stack();
  t_worker = nullptr;
}

namespace {
// Runs the fiber's callable and disposes of it. Its locals (the exception)
// must be destroyed before the fiber's final jump, which never returns.
void run_fiber_body(fiber* f) {
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
    if (!f->is_main_) panic(*f, error);
    worker_of_thread()->rt().main_error_ = std::move(error);
  }
}
}  // namespace

// The entry point of every fiber's stack. Never returns: the fiber's last act
// is a jump to g0 asking to be finished.
void fiber_entry_(void* from_ctx, void* data) {
  auto* w = static_cast<worker*>(data);
  fiber* self = w->current_;
  worker::arrived(self, bctx::transfer_t{from_ctx, data});
  run_fiber_body(self);
  worker::exit_current();
}

namespace {
void fiber_entry(bctx::transfer_t t) { fiber_entry_(t.fctx, t.data); }
}  // namespace

// This worker only, before `f`'s first switch: gives it a stack and a start
// context. The start is coloured: offset by a multiple of 64 bytes that
// varies with the fiber id, so that the hot top frames of many fibers do not
// all land in the same cache sets (stack tops are page-aligned and a constant
// stride apart; a 1000-fiber sieve otherwise thrashes a handful of L1 sets).
void worker::prepare_first_run(fiber* f) {
  // At most 2 KiB (half a page: half the L1 sets) and a sixteenth of the stack.
  constexpr std::size_t k_line = 64;
  f->stack_ = stacks_.get(rt_.stacks_);
  f->last_worker_ = std::uint16_t(index_);  // a first run is no migration
  const std::size_t span = std::min<std::size_t>(2048, f->stack_.size / 16);
  const std::size_t colour = (f->id_ * k_line) % span;
  f->ctx_ = bctx::make_fcontext(f->stack_.top() - colour, f->stack_.size - colour, &fiber_entry);
  f->tsan_fiber_ = tsan_create_fiber();
}

// This worker, just before switching to `n` (from g0 or from another fiber
// whose exception state was saved): `n` becomes the running fiber and its
// exception state the thread's.
inline void worker::enter(fiber* n) {
  if (!n->ctx_) prepare_first_run(n);
  current_ = n;
  if (n->last_worker_ != index_) {
    migrations.store(migrations.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    n->last_worker_ = std::uint16_t(index_);
  }
  n->state_.store(fiber_state::running, std::memory_order_relaxed);
  auto* eh = static_cast<eh_globals*>(eh_globals_);
  eh->caught = n->eh_caught_;
  eh->uncaught = n->eh_uncaught_;
  switches.store(switches.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// This worker, as `f` switches out: keeps the thread's exception state with
// `f` (so it may block inside a catch block and migrate).
inline void worker::save_eh(fiber* f) noexcept {
  auto* eh = static_cast<eh_globals*>(eh_globals_);
  f->eh_caught_ = eh->caught;
  f->eh_uncaught_ = eh->uncaught;
}

// `f` has switched out with request `r` and its registers are in `ctx`;
// carries the request out (on g0, or on the fiber it handed the worker to).
inline void worker::switched_out(fiber* f, void* ctx, request r) noexcept {
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
// untraced one carries no trace test: loop() tests once per switch through
// g0, handoff() once per handoff, and switch_out() not at all.
template <bool Traced>
void worker::execute(fiber* f) {
  handoffs_ = 0;  // this switch comes from g0
  // The fiber's exception state replaces g0's for the duration (run() may
  // have been called inside a catch block).
  auto* eh = static_cast<eh_globals*>(eh_globals_);
  eh_globals g0_eh = *eh;
  enter(f);

  // Loaded once: recording may stop meanwhile, but the ring stays valid.
  worker_trace* tr = nullptr;
  if constexpr (Traced) {
    tr = trace();
    if (tr) tr->run_begin(*f, now_ns());
  }
  asan_start_switch(&asan_fake_stack_, f->stack_.base, f->stack_.size);
  tsan_switch_to(f->tsan_fiber_);
  bctx::transfer_t t = bctx::jump_fcontext(f->ctx_, this);
  asan_finish_switch(asan_fake_stack_, nullptr, nullptr);
  // Whoever switched back: `f`, or a fiber `f` handed the worker to (whose
  // slice a traced handoff opened).
  f = current_;
  if (Traced && tr) {
    std::int64_t now = now_ns();
    tr->run_end(now);
    if (request_ == request::park) tr->park(*f, f->reason_.load(std::memory_order_relaxed), now);
  }

  // Back on g0. `f` has switched out (or exited) and its registers are in t.
  save_eh(f);
  *eh = g0_eh;
  current_ = nullptr;
  switched_out(f, t.fctx, std::exchange(request_, request::none));
}

// `f` has switched out to park and its context is saved (on g0, or on the
// fiber it handed the worker to). State first, then the unlock step: after
// it a waker may run `f` anywhere, and we must not touch `f` again.
void worker::parked(fiber* f) noexcept {
  parks.store(parks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // Release: publishes where and why it parked to reports, dumps and the
  // partial-deadlock monitor, which load the state with acquire.
  f->state_.store(fiber_state::waiting, std::memory_order_release);
  if (f->unlock_fn_) f->unlock_fn_(f->unlock_arg_);
}

// `f` has switched out to yield and its context is saved: it goes to the
// tail of the local queue (and may be stolen from there at once).
void worker::yielded(fiber* f) noexcept {
  f->state_.store(fiber_state::runnable, std::memory_order_relaxed);
  rt_.sched_.push_local(index_, f, place::tail);
}

void worker::check_canary(fiber* f) noexcept {
  if (!f->stack_.guarded && !f->stack_.canary_intact()) stack_overflow(*f);
}

template void worker::execute<true>(fiber*);
template void worker::execute<false>(fiber*);

// On g0: the fiber's stack is no longer in use; recycle it and the object.
void worker::finish(fiber* f) noexcept {
  tsan_destroy_fiber(std::exchange(f->tsan_fiber_, nullptr));
  asan_unpoison_stack(f->stack_.base, f->stack_.size);
  stacks_.put(rt_.stacks_, f->stack_);
  f->stack_ = {};
  f->ctx_ = nullptr;
  // Its first jump (arrived() in fiber_entry_) hands this to ASan: the next
  // fiber made from this object must not inherit the freed fake stack.
  f->asan_fake_stack_ = nullptr;
  rt_.fiber_exited(*this, *f);
}

// The parking or yielding fiber `f` (request `r`) hands worker `w` straight
// to `n` (taken from w's queue): one jump instead of two, and no trip through
// find_runnable. The side that arrives finishes f's park or yield (see
// arrived()). Returns the worker that later resumes `f`.
worker* worker::handoff(worker* w, fiber* f, fiber* n, request r) {
  if (worker_trace* t = w->trace()) [[unlikely]]
    t->handoff(*f, *n, r == request::park, now_ns());
  w->save_eh(f);
  w->enter(n);
  w->handoff_from_ = f;
  w->request_ = r;
  asan_start_switch(&f->asan_fake_stack_, n->stack_.base, n->stack_.size);
  tsan_switch_to(n->tsan_fiber_);
  bctx::transfer_t t = bctx::jump_fcontext(n->ctx_, w);
  return arrived(f, t);
}

// `self` has just been resumed by the jump that returned `t`: from g0, or
// from a fiber that parked and handed the worker over. In the second case the
// previous fiber's context is in `t` and its park is finished here.
worker* worker::arrived(fiber* self, bctx::transfer_t t) noexcept {
  auto* now = static_cast<worker*>(t.data);
  if (fiber* prev = std::exchange(now->handoff_from_, nullptr)) {
    asan_finish_switch(self->asan_fake_stack_, nullptr, nullptr);
    now->switched_out(prev, t.fctx, std::exchange(now->request_, request::none));
  } else {
    now->g0_ctx_ = t.fctx;
    asan_finish_switch(self->asan_fake_stack_, &now->g0_stack_bottom_, &now->g0_stack_size_);
  }
  return now;
}

worker* worker::switch_out(worker* w, request r) {
  fiber* f = w->current_;
  if (r != request::exit) {
    // Hand over to the next local fiber (a park: the one in runnext, usually
    // just woken; a yield: the next in the local queue) when the scheduler
    // agrees (it keeps its fairness rules), and at most k_max_handoffs times
    // in a row: then a switch goes through g0, whose find_runnable runs due
    // timers.
    scheduler& s = w->rt_.sched_;
    if (w->handoffs_ < k_max_handoffs) {
      if (sched_node* n = s.take_for_handoff(w->index_, /*whole_queue=*/r == request::yield)) {
        ++w->handoffs_;
        return handoff(w, f, static_cast<fiber*>(n), r);
      }
    }
    // Nothing else could run here: a yield would switch out and back for nothing.
    if (r == request::yield && !s.yield_useful(w->index_)) return w;
  }
  w->request_ = r;
  asan_start_switch(r == request::exit ? nullptr : &f->asan_fake_stack_, w->g0_stack_bottom_,
                    w->g0_stack_size_);
  tsan_switch_to(w->tsan_g0_);
  bctx::transfer_t t = bctx::jump_fcontext(w->g0_ctx_, nullptr);
  // Resumed, possibly by another worker: it passed itself in the jump.
  return arrived(f, t);
}

worker* worker::switch_out_park(worker* self) { return switch_out(self, request::park); }
worker* worker::switch_out_yield(worker* self) { return switch_out(self, request::yield); }

void worker::exit_current() {
  switch_out(worker_of_thread(), request::exit);
  __builtin_unreachable();
}

std::uint64_t worker::next_fiber_id() noexcept {
  if (id_next_ == id_end_) {
    id_next_ = rt_.next_id_.fetch_add(k_id_batch, std::memory_order_relaxed);
    id_end_ = id_next_ + k_id_batch;
  }
  return id_next_++;
}

fiber* worker::alloc_fiber() {
  if (!free_fibers_) {
    std::size_t got = 0;
    free_fibers_ = rt_.table_.take_free(k_fiber_batch, got);
    n_free_fibers_ = got;
    if (!free_fibers_) {
      free_fibers_ = rt_.table_.allocate_chunk(k_fiber_batch);
      n_free_fibers_ = k_fiber_batch;
    }
  }
  fiber* f = free_fibers_;
  free_fibers_ = static_cast<fiber*>(f->sched_next);
  f->sched_next = nullptr;
  --n_free_fibers_;
  return f;
}

void worker::free_fiber(fiber* f) noexcept {
  f->sched_next = free_fibers_;
  free_fibers_ = f;
  if (++n_free_fibers_ < k_fiber_cache_max) return;
  // Give a batch back so that fibers created here and exiting elsewhere do
  // not pile up on one worker.
  fiber* head = free_fibers_;
  fiber* tail = head;
  for (std::size_t i = 1; i < k_fiber_batch; ++i) tail = static_cast<fiber*>(tail->sched_next);
  free_fibers_ = static_cast<fiber*>(tail->sched_next);
  tail->sched_next = nullptr;
  n_free_fibers_ -= k_fiber_batch;
  rt_.table_.put_free(head, tail, k_fiber_batch);
}

}  // namespace gort::detail
