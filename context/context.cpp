// gort::context (Go's context.go): nodes, propagation, cancellation,
// deadlines, values and the std::stop_token bridges. Layout and invariants:
// context/node.hpp.
#include <chrono>
#include <mutex>
#include <new>
#include <string>

#include "context/node.hpp"
#include "gort/detail/chan_core.hpp"
#include "gort/detail/race.hpp"
#include "gort/runtime.hpp"
#include "runtime/park.hpp"

namespace gort {

namespace {
class context_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "context"; }
  std::string message(int e) const override {
    switch (context_errc(e)) {
      case context_errc::canceled: return "context canceled";
      case context_errc::deadline_exceeded: return "context deadline exceeded";
    }
    return "unknown context error " + std::to_string(e);
  }
};
}  // namespace

const std::error_category& context_category() noexcept {
  static const context_category_impl c;
  return c;
}

std::error_code make_error_code(context_errc e) noexcept { return {int(e), context_category()}; }

}  // namespace gort

namespace gort::detail {

namespace {

// The done() channel of every context cancelled before anyone asked for it:
// one shared, closed channel (Go's closedchan). Lives as long as the process.
chan_core* closed_done() {
  static chan_core* const c = [] {
    chan_core* ch = chan_make(&elem_ops_of<std::monostate>::value, 0);
    chan_close(ch);
    return ch;
  }();
  return c;
}

// Steady-clock ns, the timers' clock (steady_clock counts ns here).
std::int64_t to_ns(std::chrono::steady_clock::time_point t) noexcept {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return ns < 0 ? 0 : ns;
}

// p = c->registered_with, its mu held: `c` leaves p's list.
void unlink_locked(cancel_node* p, cancel_node* c) noexcept GORT_REQUIRES(p->mu) {
  (c->prev ? c->prev->next : p->children) = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = nullptr;
  c->linked = false;
  --p->child_count;
}

// Any thread: `c` leaves its parent's list, unless someone took it out.
void unlink(cancel_node* c) noexcept {
  cancel_node* p = c->registered_with;
  if (!p) return;
  locked g(p->mu);
  if (c->linked) unlink_locked(p, c);
}

// The creator, before `c` is shared: links it under `parent` (Go's
// propagateCancel). `own_deadline` < 0: none. A parent already done cancels
// it at once.
void attach(cancel_node* c, ctx_node* parent, std::int64_t own_deadline) noexcept {
  c->parent = parent;
  ctx_retain(parent);
  cancel_node* anc = parent ? parent->canceller : nullptr;
  std::int64_t inherited = anc ? anc->deadline_ns : -1;
  c->deadline_ns = inherited < 0      ? own_deadline
                   : own_deadline < 0 ? inherited
                                      : std::min(inherited, own_deadline);
  if (!anc) return;
  c->registered_with = anc;
  std::uint8_t why;
  {
    locked g(anc->mu);
    why = anc->err.load(std::memory_order_relaxed);
    if (!why) {
      c->next = anc->children;
      if (c->next) c->next->prev = c;
      anc->children = c;
      c->linked = true;
      ++anc->child_count;
    }
  }
  if (why) ctx_cancel(c, context_errc(why), false);
}

// A reference held by a fiber's closure (released when the fiber is done
// with it, or when a fiber that never ran is destroyed at exit).
struct node_ref {
  explicit node_ref(cancel_node* n) noexcept : n(n) {}
  node_ref(node_ref&& o) noexcept : n(std::exchange(o.n, nullptr)) {}
  node_ref& operator=(node_ref&&) = delete;
  ~node_ref() { ctx_release(n); }
  cancel_node* n;
};

// A worker, on its scheduler stack: a deadline passed. See node.hpp: the
// cancellation itself runs in a fiber of its own (Go's time.AfterFunc).
void deadline_fired(timer* t) {
  timer_node* n = static_cast<timer_node::deadline_timer*>(t)->owner;
  if (!ctx_try_retain(n)) return;  // being destroyed: its destructor waits for us
  gort::go([ref = node_ref(n), armed = &n->t]() mutable {
    mark_system_fiber();
    // TSan: started by the runtime, this fiber acts for the context's
    // creator (Go's timer: released when armed, acquired when it fires).
    race_acquire(armed);
    ctx_cancel(ref.n, context_errc::deadline_exceeded, true);
  });
}

// The last reference is gone: frees `n` (not its parent).
void destroy(ctx_node* n) noexcept {
  if (n->kind == ctx_kind::value) {
    auto* v = static_cast<value_node*>(n);
    v->destroy(v->value);
    delete v;
    return;
  }
  auto* c = static_cast<cancel_node*>(n);
  if (n->kind == ctx_kind::stop) static_cast<stop_node*>(n)->cb.reset();  // waits for a callback in flight
  if (n->kind == ctx_kind::timer) static_cast<timer_node*>(n)->t.stop();  // likewise
  unlink(c);
  chan_core* d = c->done.load(std::memory_order_acquire);
  if (d && d != k_done_closed) chan_release(d);
  switch (n->kind) {
    case ctx_kind::timer: delete static_cast<timer_node*>(n); break;
    case ctx_kind::stop: delete static_cast<stop_node*>(n); break;
    default: delete c; break;
  }
}

// Cancels `c` alone (not yet its children): sets err, closes done, requests
// stop. Its children, unlinked and retained, are pushed on `work`.
void cancel_one(cancel_node* c, context_errc why, cancel_node*& work) noexcept {
  chan_core* to_close = nullptr;
  std::stop_source stop{std::nostopstate};
  {
    locked g(c->mu);
    if (c->err.load(std::memory_order_relaxed)) return;
    // TSan: the canceller's past happens before err() reports it (Go's
    // context: its mutex), paired with err()'s race_acquire.
    race_release(&c->err);
    // Release: pairs with the acquire loads in err() and stop_token().
    c->err.store(std::uint8_t(why), std::memory_order_release);
    chan_core* expect = nullptr;
    // acq_rel: ordered against done()'s CAS on the same word (invariants).
    if (!c->done.compare_exchange_strong(expect, k_done_closed, std::memory_order_acq_rel,
                                         std::memory_order_acquire))
      to_close = expect;
    for (cancel_node* ch = c->children; ch;) {
      cancel_node* next = ch->next;
      ch->prev = nullptr;
      ch->linked = false;
      if (ctx_try_retain(ch)) {
        ch->next = work;
        work = ch;
      }
      ch = next;
    }
    c->children = nullptr;
    c->child_count = 0;
    race_acquire(&c->stop);  // TSan: the fiber that made the source (stop_token())
    stop = c->stop;
  }
  if (c->kind == ctx_kind::timer) static_cast<timer_node*>(c)->t.stop();
  if (to_close) chan_close(to_close);  // wakes every waiter, outside every lock
  if (stop.stop_possible()) stop.request_stop();
}

}  // namespace

// ---- references ------------------------------------------------------------

void ctx_retain(ctx_node* n) noexcept {
  // Relaxed: a new reference is made from an existing one.
  if (n) n->refs.fetch_add(1, std::memory_order_relaxed);
}

bool ctx_try_retain(ctx_node* n) noexcept {
  std::size_t r = n->refs.load(std::memory_order_relaxed);
  do {
    if (r == 0) return false;
    // Relaxed: the CAS is ordered against the destroying fetch_sub on the
    // same word; a success means the node is not being destroyed.
  } while (!n->refs.compare_exchange_weak(r, r + 1, std::memory_order_relaxed));
  return true;
}

void ctx_release(ctx_node* n) noexcept {
  // acq_rel: the last releaser sees every other holder's writes. A loop, not
  // recursion: a long chain of contexts unwinds without deep stacks.
  while (n && n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    ctx_node* parent = n->parent;
    destroy(n);
    n = parent;
  }
}

// ---- cancellation ----------------------------------------------------------

void ctx_cancel(cancel_node* n, context_errc why, bool detach) noexcept {
  cancel_node* work = nullptr;
  cancel_one(n, why, work);
  if (detach) unlink(n);           // Go's removeChild
  while (cancel_node* c = work) {  // the descendants, iteratively
    work = c->next;
    cancel_one(c, why, work);
    ctx_release(c);
  }
}

void stop_node::on_stop::operator()() const noexcept {
  if (!ctx_try_retain(n)) return;  // being destroyed
  ctx_cancel(n, context_errc::canceled, true);
  ctx_release(n);
}

std::size_t ctx_child_count(const context& c) noexcept {
  ctx_node* n = ctx_access::node(c);
  cancel_node* k = n ? n->canceller : nullptr;
  if (!k) return 0;
  locked g(k->mu);
  return k->child_count;
}

// ---- values ----------------------------------------------------------------

ctx_node* ctx_make_value(ctx_node* parent, const void* key, void* value,
                         void (*destroy_value)(void*) noexcept) {
  value_node* v;
  try {
    v = new value_node;
  } catch (...) {
    destroy_value(value);
    throw;
  }
  v->parent = parent;
  ctx_retain(parent);
  v->canceller = parent ? parent->canceller : nullptr;
  v->key = key;
  v->value = value;
  v->destroy = destroy_value;
  return v;
}

const void* ctx_find_value(const ctx_node* n, const void* key) noexcept {
  for (; n; n = n->parent)
    if (n->kind == ctx_kind::value && static_cast<const value_node*>(n)->key == key)
      return static_cast<const value_node*>(n)->value;
  return nullptr;
}

}  // namespace gort::detail

namespace gort {

using detail::cancel_node;
using detail::ctx_access;
using detail::locked;

// ---- context ---------------------------------------------------------------

recv_chan<std::monostate> context::done() const {
  cancel_node* c = n_ ? n_->canceller : nullptr;
  if (!c) return {};  // never done: the nil channel
  detail::chan_core* d = c->done.load(std::memory_order_acquire);
  if (!d) {
    detail::chan_core* fresh = detail::chan_make(&detail::elem_ops_of<std::monostate>::value, 0);
    // acq_rel: against the cancellation's CAS (node.hpp). The node keeps
    // fresh's first reference until it is destroyed.
    if (c->done.compare_exchange_strong(d, fresh, std::memory_order_acq_rel, std::memory_order_acquire)) {
      d = fresh;
    } else {
      detail::chan_release(fresh);
    }
  }
  if (d == detail::k_done_closed) {
    // A channel closed long ago by nobody in particular: the edge from the
    // canceller is stated here (pairs with cancel_one's race_release).
    detail::race_acquire(&c->err);
    d = detail::closed_done();
  }
  detail::chan_retain(d);
  return recv_chan<std::monostate>(detail::chan_handle(d));
}

std::error_code context::err() const noexcept {
  cancel_node* c = n_ ? n_->canceller : nullptr;
  // Acquire: pairs with the release store in cancel_one.
  std::uint8_t e = c ? c->err.load(std::memory_order_acquire) : 0;
  if (!e) return {};
  detail::race_acquire(&c->err);  // TSan: pairs with cancel_one
  return make_error_code(context_errc(e));
}

std::optional<std::chrono::steady_clock::time_point> context::deadline() const noexcept {
  cancel_node* c = n_ ? n_->canceller : nullptr;
  if (!c || c->deadline_ns < 0) return std::nullopt;
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::nanoseconds(c->deadline_ns)));
}

std::stop_token context::stop_token() const {
  cancel_node* c = n_ ? n_->canceller : nullptr;
  if (!c) return {};
  std::stop_source src{std::nostopstate};
  // TSan: mu orders the source's maker before its other users (cancel_one
  // and later calls), stated on &c->stop since mu is not instrumented.
  {
    locked g(c->mu);
    detail::race_acquire(&c->stop);
    src = c->stop;
  }
  if (!src.stop_possible()) {
    std::stop_source fresh;  // allocates: outside the lock
    locked g(c->mu);
    if (!c->stop.stop_possible()) c->stop = std::move(fresh);
    detail::race_acquire(&c->stop);
    src = c->stop;
    detail::race_release(&c->stop);
  }
  // Cancelled before (or while) the source was made: cancel_one found none
  // to stop, so stop it here. Acquire: pairs with cancel_one's release.
  if (c->err.load(std::memory_order_acquire)) src.request_stop();
  return src.get_token();
}

// ---- cancel_func -----------------------------------------------------------

cancel_func::cancel_func(const cancel_func& o) noexcept : n_(o.n_) { detail::ctx_retain(n_); }
cancel_func& cancel_func::operator=(const cancel_func& o) noexcept {
  cancel_func copy(o);
  std::swap(n_, copy.n_);
  return *this;
}
cancel_func& cancel_func::operator=(cancel_func&& o) noexcept {
  cancel_func taken(std::move(o));
  std::swap(n_, taken.n_);
  return *this;
}
cancel_func::~cancel_func() { detail::ctx_release(n_); }

void cancel_func::operator()() const noexcept {
  if (!n_) return;
  detail::ctx_cancel(n_, context_errc::canceled, true);
  if (n_->on_cancel_func) n_->on_cancel_func(n_);
}

// ---- constructors ----------------------------------------------------------

std::pair<context, cancel_func> with_cancel(const context& parent) {
  auto* n = new cancel_node;
  detail::attach(n, ctx_access::node(parent), -1);
  detail::ctx_retain(n);  // the cancel_func's
  return {ctx_access::adopt(n), ctx_access::adopt_cancel(n)};
}

std::pair<context, cancel_func> with_deadline(const context& parent,
                                              std::chrono::steady_clock::time_point t) {
  detail::require_running("gort::with_deadline");
  const std::int64_t when = detail::to_ns(t);
  auto* n = new detail::timer_node;
  n->t.fn = &detail::deadline_fired;
  n->t.owner = n;
  detail::race_release(&n->t);  // TSan: for the fiber deadline_fired starts
  detail::attach(n, ctx_access::node(parent), when);
  detail::ctx_retain(n);  // the cancel_func's
  std::pair<context, cancel_func> out{ctx_access::adopt(n), ctx_access::adopt_cancel(n)};
  // An ancestor's deadline comes first: its cancellation reaches us (Go
  // returns WithCancel(parent) here).
  if (n->deadline_ns < when) return out;
  if (when <= detail::steady_now_ns()) {
    detail::ctx_cancel(n, context_errc::deadline_exceeded, true);
    return out;
  }
  locked g(n->mu);
  if (!n->err.load(std::memory_order_relaxed)) n->t.start(when);  // not once cancelled meanwhile
  return out;
}

std::pair<context, cancel_func> with_timeout(const context& parent, std::chrono::nanoseconds d) {
  detail::require_running("gort::with_timeout");
  const std::int64_t when = detail::deadline_after(d);
  return with_deadline(
      parent,
      std::chrono::steady_clock::time_point(
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::nanoseconds(when))));
}

context with_stop_token(const context& parent, std::stop_token st) {
  auto* n = new detail::stop_node;
  detail::attach(n, ctx_access::node(parent), -1);
  context out = ctx_access::adopt(n);
  // Runs at once (here) if st is already stopped.
  if (st.stop_possible()) n->cb.emplace(std::move(st), detail::stop_node::on_stop{n});
  return out;
}

}  // namespace gort
