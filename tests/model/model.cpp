// The sequential model of Go's channels and sync, and the trace checker's
// search over it. The design is at the top of model.hpp.
#include "model.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <unordered_set>
#include <utility>

namespace gort_model {

namespace {

constexpr std::uint64_t k_never = std::numeric_limits<std::uint64_t>::max();

// A blocked operation queued on a channel: a plain send or receive
// (cases == 0), or a select's cases on this channel in this direction (a
// bit per case index: which of them a partner takes is the one observed).
struct entry {
  std::uint8_t fiber;
  std::uint8_t cases;
};

struct chan_state {
  std::vector<std::int32_t> buf;  // FIFO
  bool closed = false;
  std::vector<entry> recvq, sendq;  // FIFO
};

struct sema_state {
  std::int64_t units = 0;
  std::vector<std::uint8_t> queue;  // blocked acquirers, in arrival order
};

struct state {
  std::vector<std::uint8_t> pc;       // next operation of each fiber
  std::vector<std::uint8_t> blocked;  // 1: pc's operation is queued, or parked for good
  std::vector<chan_state> chans;
  std::vector<int> holder;  // each mutex's holder, -1 when free
  std::vector<std::uint32_t> acquisitions;
  std::vector<sema_state> semas;
  std::int64_t wg = 0;

  // Everything above, for the set of explored states.
  std::string key() const {
    std::string k(pc.begin(), pc.end());
    k.append(blocked.begin(), blocked.end());
    auto put = [&k](std::int64_t v) { k.append(reinterpret_cast<const char*>(&v), sizeof v); };
    for (const chan_state& c : chans) {
      put(std::int64_t(c.buf.size()) << 1 | c.closed);
      for (std::int32_t v : c.buf) put(v);
      for (const auto* q : {&c.recvq, &c.sendq}) {
        put(std::int64_t(q->size()));
        for (const entry& e : *q) put(e.fiber << 8 | e.cases);
      }
    }
    for (std::size_t m = 0; m < holder.size(); ++m) put(std::int64_t(acquisitions[m]) << 8 | (holder[m] + 1));
    for (const sema_state& s : semas) {
      put(s.units);
      k.append(s.queue.begin(), s.queue.end());
      k.push_back('|');
    }
    put(wg);
    return k;
  }
};

enum class move { ok, cannot, fail };

template <class V, class P>
void erase_if(V& v, P pred) {
  v.erase(std::remove_if(v.begin(), v.end(), pred), v.end());
}

class search {
 public:
  search(const program& p, const trace& t, std::size_t budget) : p_(p), t_(t), budget_(budget) {}
  verdict run();

 private:
  std::size_t nf() const { return p_.fibers.size(); }
  std::size_t observed_len(std::size_t f) const { return t_.fibers[f].size(); }
  const op& op_at(std::size_t f, std::size_t k) const { return p_.fibers[f][k]; }
  const op& current(const state& s, std::size_t f) const { return op_at(f, s.pc[f]); }
  // The observed outcome of op k of fiber f; null if it never returned.
  const event* observed(std::size_t f, std::size_t k) const {
    return k < observed_len(f) ? &t_.fibers[f][k] : nullptr;
  }
  bool is_nil(std::size_t c) const { return p_.chans[c] < 0; }
  std::size_t cap(std::size_t c) const { return std::size_t(p_.chans[c]); }
  std::uint64_t start_of(std::size_t f, std::size_t k) const;
  std::uint64_t end_of(std::size_t f, std::size_t k) const;
  void prepare();

  bool startable(const state& s, std::size_t f, std::string* why) const;
  move step(state& s, std::size_t f, std::string* why);
  move step_select(state& s, std::size_t f, const event* ev, std::string* why);
  move step_sync(state& s, std::size_t f, const event* ev, std::string* why);
  move block_forever(state& s, std::size_t f, const event* ev, std::string* why);
  bool finish(state& s, std::size_t f, result r, std::int32_t value, std::int32_t index, std::string* why);
  int case_of(const state& s, const entry& e, std::string* why) const;
  int offer(state& s, std::size_t c, std::int32_t v, std::string* why);
  int take(state& s, std::size_t c, std::int32_t* got, std::string* why);
  bool stuck(const state& s, std::size_t f) const;
  bool at_end(const state& s) const;
  bool dfs(const state& s);
  std::string explain(const state& s);

  const program& p_;
  const trace& t_;
  std::size_t budget_;
  // need_[f][k][g]: how many of g's operations ended before op k of f started.
  std::vector<std::vector<std::vector<std::uint8_t>>> need_;
  // started_[f][k][g]: 1 + the last of g's operations that must have stepped
  // (completed or queued) before op k of f steps; 0: none. Only in a run
  // whose every operation ran on one OS thread without GORT_SCHED_SEED: a
  // fiber then runs from an operation's start to its effect (or its queueing)
  // without a switch, so operations take effect in the order they started
  // (mutex lock and wait_group wait excepted: their waiting is not queueing).
  std::vector<std::vector<std::vector<std::uint8_t>>> started_;
  // spurious_[f][k]: a try_lock/try_acquire that may fail on a free object.
  std::vector<std::vector<char>> spurious_;
  std::unordered_set<std::string> seen_;
  std::size_t states_ = 0;
  bool exhausted_ = false;
  state best_;
  std::size_t best_done_ = 0;
};

std::uint64_t search::start_of(std::size_t f, std::size_t k) const {
  if (k < observed_len(f)) return t_.fibers[f][k].start;
  if (k == observed_len(f) && t_.deadlock && t_.pending_start[f]) return t_.pending_start[f];
  return k_never;
}

std::uint64_t search::end_of(std::size_t f, std::size_t k) const {
  return k < observed_len(f) ? t_.fibers[f][k].end : k_never;
}

// True if every operation of the run started and ended on one OS thread.
bool one_thread(const trace& t) {
  std::uint32_t only = 0;
  auto same = [&only](std::uint32_t th) { return th == (only ? only : (only = th)); };
  for (std::size_t f = 0; f < t.fibers.size(); ++f) {
    for (const event& e : t.fibers[f])
      if (!same(e.thread) || !same(e.end_thread)) return false;
    if (t.pending_start[f] && !same(t.pending_thread[f])) return false;
  }
  return true;
}

void search::prepare() {
  need_.resize(nf());
  started_.resize(nf());
  spurious_.resize(nf());
  const bool in_start_order = !t_.sched_seeded && one_thread(t_);
  for (std::size_t f = 0; f < nf(); ++f) {
    for (std::size_t k = 0; k < p_.fibers[f].size(); ++k) {
      const std::uint64_t start = start_of(f, k), end = end_of(f, k);
      std::vector<std::uint8_t> need(nf(), 0);
      for (std::size_t g = 0; g < nf(); ++g) {
        while (g != f && need[g] < observed_len(g) && t_.fibers[g][need[g]].end < start) ++need[g];
      }
      need_[f].push_back(std::move(need));
      std::vector<std::uint8_t> started(nf(), 0);
      for (std::size_t g = 0; g < nf() && in_start_order; ++g) {
        for (std::size_t j = 0; g != f && j < p_.fibers[g].size() && start_of(g, j) < start; ++j) {
          const op_kind kind = op_at(g, j).kind;
          if (kind != op_kind::lock && kind != op_kind::wg_wait) started[g] = std::uint8_t(j + 1);
        }
      }
      started_[f].push_back(std::move(started));
      // A try on a free object may fail while another fiber's operation on
      // that object is in flight (see model.hpp).
      const op& o = op_at(f, k);
      bool spurious = false;
      for (std::size_t g = 0; g < nf() && (o.kind == op_kind::try_lock || o.kind == op_kind::try_acquire);
           ++g) {
        for (std::size_t j = 0; g != f && j < p_.fibers[g].size(); ++j) {
          const op& x = op_at(g, j);
          const bool same = x.obj == o.obj && (o.kind == op_kind::try_lock
                                                   ? x.kind == op_kind::lock || x.kind == op_kind::try_lock ||
                                                         x.kind == op_kind::unlock
                                                   : x.kind == op_kind::acquire);
          if (same && start_of(g, j) < end && start < end_of(g, j)) spurious = true;
        }
      }
      spurious_[f].push_back(spurious);
    }
  }
}

bool search::startable(const state& s, std::size_t f, std::string* why) const {
  const std::size_t k = s.pc[f];
  if (s.blocked[f] || k >= p_.fibers[f].size()) return false;
  if (k > observed_len(f) || (k == observed_len(f) && !t_.deadlock)) {
    if (why) *why = "never started";
    return false;
  }
  for (std::size_t g = 0; g < nf(); ++g) {
    const std::size_t j = started_[f][k][g];
    if (j > 0 && s.pc[g] < j && !(s.pc[g] == j - 1 && s.blocked[g])) {
      if (why)
        *why = "waits (one thread, start order) for fiber " + std::to_string(g) + "'s op " +
               std::to_string(j - 1) + ", which started before this one";
      return false;
    }
    if (s.pc[g] < need_[f][k][g]) {
      if (why)
        *why = "waits (real time) for fiber " + std::to_string(g) + "'s op " +
               std::to_string(need_[f][k][g] - 1) + ", which ended before this one started";
      return false;
    }
  }
  return true;
}

// f's current operation completes now with (r, value, index): it must be
// what was observed. A queued f leaves every queue.
bool search::finish(state& s, std::size_t f, result r, std::int32_t value, std::int32_t index,
                    std::string* why) {
  const event* ev = observed(f, s.pc[f]);
  if (!ev || ev->res != r || (r == result::value && ev->value != value) || ev->index != index) {
    if (why) {
      *why =
          "fiber " + std::to_string(f) + " op " + std::to_string(s.pc[f]) + ": the model gives " + name_of(r);
      if (r == result::value) *why += " " + std::to_string(value);
      if (index >= 0) *why += " case " + std::to_string(index);
      *why += ev ? std::string(", observed ") + name_of(ev->res) : ", but it never returned";
      if (ev && ev->res == result::value) *why += " " + std::to_string(ev->value);
      if (ev && ev->index >= 0) *why += " case " + std::to_string(ev->index);
    }
    return false;
  }
  if (s.blocked[f]) {
    s.blocked[f] = 0;
    const auto mine = [f](const entry& e) { return e.fiber == f; };
    for (chan_state& c : s.chans) {
      erase_if(c.recvq, mine);
      erase_if(c.sendq, mine);
    }
    for (sema_state& m : s.semas) erase_if(m.queue, [f](std::uint8_t g) { return g == f; });
  }
  ++s.pc[f];
  return true;
}

// The select case a partner takes from entry `e` (-1 for a plain
// operation): the one observed, which must be among the entry's cases.
int search::case_of(const state& s, const entry& e, std::string* why) const {
  if (e.cases == 0) return -1;
  const event* ev = observed(e.fiber, s.pc[e.fiber]);
  if (ev && ev->index >= 0 && ev->index < 8 && (e.cases >> ev->index & 1)) return ev->index;
  if (why)
    *why = "fiber " + std::to_string(e.fiber) + "'s queued select would proceed here, as observed it did not";
  return -2;
}

// The value v moves into open channel c now if it can: to the first queued
// receiver, or into the buffer. 1: moved; 0: no room; -1: contradiction.
int search::offer(state& s, std::size_t c, std::int32_t v, std::string* why) {
  chan_state& ch = s.chans[c];
  if (!ch.recvq.empty()) {
    const entry e = ch.recvq.front();
    const int idx = case_of(s, e, why);
    if (idx < -1 || !finish(s, e.fiber, result::value, v, idx, why)) return -1;
    return 1;
  }
  if (ch.buf.size() < cap(c)) {
    ch.buf.push_back(v);
    return 1;
  }
  return 0;
}

// A value from channel c now if there is one: from the first queued sender
// (through the buffer's tail when buffered), or the buffer's head.
// 1: *got set; 0: nothing; -1: contradiction.
int search::take(state& s, std::size_t c, std::int32_t* got, std::string* why) {
  chan_state& ch = s.chans[c];
  if (!ch.sendq.empty()) {
    const entry e = ch.sendq.front();
    const int idx = case_of(s, e, why);
    if (idx < -1) return -1;
    const op& so = current(s, e.fiber);
    const std::int32_t sent = idx < 0 ? so.arg : so.cases[std::size_t(idx)].value;
    if (cap(c) == 0) {
      *got = sent;
    } else {
      *got = ch.buf.front();
      ch.buf.erase(ch.buf.begin());
      ch.buf.push_back(sent);
    }
    return finish(s, e.fiber, result::ok, 0, idx, why) ? 1 : -1;
  }
  if (!ch.buf.empty()) {
    *got = ch.buf.front();
    ch.buf.erase(ch.buf.begin());
    return 1;
  }
  return 0;
}

move search::block_forever(state& s, std::size_t f, const event* ev, std::string* why) {
  if (ev) {
    if (why) *why = "blocks forever in the model, but returned";
    return move::fail;
  }
  s.blocked[f] = 1;
  return move::ok;
}

#define GORT_MODEL_FINISH(...) return finish(s, f, __VA_ARGS__, why) ? move::ok : move::fail

move search::step(state& s, std::size_t f, std::string* why) {
  const op& o = current(s, f);
  const event* ev = observed(f, s.pc[f]);
  const std::size_t c = o.obj;
  switch (o.kind) {
    case op_kind::send:
    case op_kind::try_send: {
      const bool wait = o.kind == op_kind::send;
      if (is_nil(c)) {
        if (wait) return block_forever(s, f, ev, why);
        GORT_MODEL_FINISH(result::none, 0, -1);
      }
      if (s.chans[c].closed) GORT_MODEL_FINISH(result::send_closed, 0, -1);
      const int r = offer(s, c, o.arg, why);
      if (r < 0) return move::fail;
      if (r > 0) GORT_MODEL_FINISH(result::ok, 0, -1);
      if (!wait) GORT_MODEL_FINISH(result::none, 0, -1);
      s.chans[c].sendq.push_back({std::uint8_t(f), 0});
      s.blocked[f] = 1;
      return move::ok;
    }
    case op_kind::recv:
    case op_kind::try_recv: {
      const bool wait = o.kind == op_kind::recv;
      if (is_nil(c)) {
        if (wait) return block_forever(s, f, ev, why);
        GORT_MODEL_FINISH(result::none, 0, -1);
      }
      std::int32_t got = 0;
      const int r = take(s, c, &got, why);
      if (r < 0) return move::fail;
      if (r > 0) GORT_MODEL_FINISH(result::value, got, -1);
      if (s.chans[c].closed || !wait) GORT_MODEL_FINISH(result::none, 0, -1);
      s.chans[c].recvq.push_back({std::uint8_t(f), 0});
      s.blocked[f] = 1;
      return move::ok;
    }
    case op_kind::close: {
      if (is_nil(c)) GORT_MODEL_FINISH(result::close_nil, 0, -1);
      chan_state& ch = s.chans[c];
      if (ch.closed) GORT_MODEL_FINISH(result::close_closed, 0, -1);
      ch.closed = true;
      // Every receiver gets nothing, then every sender throws (a select in
      // both queues is taken by its receive case, as in Go's closechan).
      while (!ch.recvq.empty()) {
        const entry e = ch.recvq.front();
        const int idx = case_of(s, e, why);
        if (idx < -1 || !finish(s, e.fiber, result::none, 0, idx, why)) return move::fail;
      }
      while (!ch.sendq.empty()) {
        if (!finish(s, ch.sendq.front().fiber, result::send_closed, 0, -1, why)) return move::fail;
      }
      GORT_MODEL_FINISH(result::ok, 0, -1);
    }
    case op_kind::select: return step_select(s, f, ev, why);
    default: return step_sync(s, f, ev, why);
  }
}

move search::step_select(state& s, std::size_t f, const event* ev, std::string* why) {
  const op& o = current(s, f);
  const std::size_t n = o.cases.size();
  unsigned ready = 0;
  bool closed_send = false;
  for (std::size_t i = 0; i < n; ++i) {
    const select_case& sc = o.cases[i];
    if (is_nil(sc.chan)) continue;
    const chan_state& ch = s.chans[sc.chan];
    const bool r = sc.is_send ? ch.closed || !ch.recvq.empty() || ch.buf.size() < cap(sc.chan)
                              : !ch.sendq.empty() || !ch.buf.empty() || ch.closed;
    if (r) ready |= 1u << i;
    closed_send = closed_send || (sc.is_send && ch.closed);
  }
  if (ready) {
    if (ev && ev->res == result::send_closed && closed_send) GORT_MODEL_FINISH(result::send_closed, 0, -1);
    if (!ev || ev->index < 0 || std::size_t(ev->index) >= n || !(ready >> ev->index & 1)) {
      if (why) *why = "a case was ready (mask " + std::to_string(ready) + "), but not the one observed";
      return move::fail;
    }
    const std::size_t i = std::size_t(ev->index);
    const select_case& sc = o.cases[i];
    if (sc.is_send) {
      if (s.chans[sc.chan].closed) GORT_MODEL_FINISH(result::send_closed, 0, -1);
      if (offer(s, sc.chan, sc.value, why) != 1) return move::fail;
      GORT_MODEL_FINISH(result::ok, 0, std::int32_t(i));
    }
    std::int32_t got = 0;
    const int r = take(s, sc.chan, &got, why);
    if (r < 0) return move::fail;
    if (r > 0) GORT_MODEL_FINISH(result::value, got, std::int32_t(i));
    GORT_MODEL_FINISH(result::none, 0, std::int32_t(i));
  }
  if (o.has_default) GORT_MODEL_FINISH(result::ok, 0, std::int32_t(n));
  // Queued on every channel it waits for (a partner completes it later).
  for (std::size_t i = 0; i < n; ++i) {
    const select_case& sc = o.cases[i];
    if (is_nil(sc.chan)) continue;
    auto& q = sc.is_send ? s.chans[sc.chan].sendq : s.chans[sc.chan].recvq;
    auto it = std::find_if(q.begin(), q.end(), [f](const entry& e) { return e.fiber == f; });
    if (it == q.end()) {
      q.push_back({std::uint8_t(f), std::uint8_t(1u << i)});
    } else {
      it->cases |= std::uint8_t(1u << i);
    }
  }
  s.blocked[f] = 1;  // with no non-nil case: forever
  return move::ok;
}

move search::step_sync(state& s, std::size_t f, const event* ev, std::string* why) {
  const op& o = current(s, f);
  const std::size_t m = o.obj;
  switch (o.kind) {
    case op_kind::lock:
    case op_kind::try_lock: {
      const bool free = s.holder[m] < 0;
      if (o.kind == op_kind::try_lock && ev && ev->res == result::none) {
        if (free && !spurious_[f][s.pc[f]]) {
          if (why) *why = "try_lock failed on a free mutex with no other operation on it in flight";
          return move::fail;
        }
        GORT_MODEL_FINISH(result::none, 0, -1);
      }
      // Acquired: only as the acquisition number the holder observed.
      if (!ev || !free || ev->witness != s.acquisitions[m] + 1) {
        if (why)
          *why = !ev ? "waits for m" + std::to_string(m)
                     : "acquisition #" + std::to_string(ev->witness) + " of m" + std::to_string(m) +
                           " waits for #" + std::to_string(s.acquisitions[m] + 1) +
                           (free ? "" : " (held by fiber " + std::to_string(s.holder[m]) + ")");
        return move::cannot;
      }
      s.holder[m] = int(f);
      ++s.acquisitions[m];
      GORT_MODEL_FINISH(result::ok, 0, -1);
    }
    case op_kind::unlock:
      if (s.holder[m] != int(f)) GORT_MODEL_FINISH(result::skipped, 0, -1);
      s.holder[m] = -1;
      GORT_MODEL_FINISH(result::ok, 0, -1);
    case op_kind::acquire:
    case op_kind::try_acquire: {
      sema_state& sm = s.semas[m];
      const bool can = sm.queue.empty() && sm.units >= o.arg;
      if (o.kind == op_kind::try_acquire && ev && ev->res == result::none) {
        if (can && !spurious_[f][s.pc[f]]) {
          if (why) *why = "try_acquire failed with units free, nobody queued and no acquire in flight";
          return move::fail;
        }
        GORT_MODEL_FINISH(result::none, 0, -1);
      }
      if (can) {
        sm.units -= o.arg;
        GORT_MODEL_FINISH(result::ok, 0, -1);
      }
      if (o.kind == op_kind::try_acquire) GORT_MODEL_FINISH(result::none, 0, -1);
      sm.queue.push_back(std::uint8_t(f));
      s.blocked[f] = 1;
      return move::ok;
    }
    case op_kind::release: {
      sema_state& sm = s.semas[m];
      sm.units += o.arg;
      if (!finish(s, f, result::ok, 0, -1, why)) return move::fail;
      // Grants in arrival order while the front one fits.
      while (!sm.queue.empty()) {
        const std::size_t g = sm.queue.front();
        const std::int64_t want = current(s, g).arg;
        if (sm.units < want) break;
        sm.units -= want;
        if (!finish(s, g, result::ok, 0, -1, why)) return move::fail;
      }
      return move::ok;
    }
    case op_kind::wg_add: s.wg += o.arg; GORT_MODEL_FINISH(result::ok, 0, -1);
    case op_kind::wg_done:
      if (s.wg == 0) GORT_MODEL_FINISH(result::wg_negative, 0, -1);
      --s.wg;
      GORT_MODEL_FINISH(result::ok, 0, -1);
    case op_kind::wg_wait:
      if (s.wg != 0) {
        if (why) *why = "waits for the wait_group (counter " + std::to_string(s.wg) + ")";
        return move::cannot;
      }
      GORT_MODEL_FINISH(result::ok, 0, -1);
    default:  // yield
      GORT_MODEL_FINISH(result::ok, 0, -1);
  }
}

#undef GORT_MODEL_FINISH

// f cannot proceed in the model at its current operation.
bool search::stuck(const state& s, std::size_t f) const {
  if (s.blocked[f]) return true;
  const op& o = current(s, f);
  if (o.kind == op_kind::lock) return s.holder[o.obj] >= 0;
  if (o.kind == op_kind::wg_wait) return s.wg != 0;
  return false;
}

bool search::at_end(const state& s) const {
  bool any_stuck = false;
  for (std::size_t f = 0; f < nf(); ++f) {
    if (s.pc[f] == p_.fibers[f].size() && !s.blocked[f]) continue;
    if (!t_.deadlock || s.pc[f] != observed_len(f) || !stuck(s, f)) return false;
    any_stuck = true;
  }
  if (t_.deadlock) return any_stuck;
  for (std::size_t c = 0; c < s.chans.size(); ++c)
    if (s.chans[c].buf != t_.residue[c] || s.chans[c].closed != bool(t_.closed[c])) return false;
  for (std::size_t m = 0; m < s.holder.size(); ++m)
    if ((s.holder[m] >= 0) != bool(t_.locked[m])) return false;
  for (std::size_t i = 0; i < s.semas.size(); ++i)
    if (s.semas[i].units != t_.units[i]) return false;
  return true;
}

bool search::dfs(const state& s) {
  if (at_end(s)) return true;
  if (states_ >= budget_) {
    exhausted_ = true;
    return false;
  }
  if (!seen_.insert(s.key()).second) return false;
  ++states_;
  std::size_t done = 0;
  for (auto k : s.pc) done += k;
  if (done >= best_done_) {
    best_done_ = done;
    best_ = s;
  }
  for (std::size_t f = 0; f < nf() && !exhausted_; ++f) {
    if (!startable(s, f, nullptr)) continue;
    state next = s;
    if (step(next, f, nullptr) == move::ok && dfs(next)) return true;
  }
  return false;
}

std::string search::explain(const state& s) {
  std::string out = "the furthest model state explains";
  for (std::size_t f = 0; f < nf(); ++f) out += " " + std::to_string(s.pc[f]);
  out += " ops of the fibers' observed";
  for (std::size_t f = 0; f < nf(); ++f) out += " " + std::to_string(observed_len(f));
  out += "; from there:\n";
  for (std::size_t f = 0; f < nf(); ++f) {
    out += "    fiber " + std::to_string(f) + ": ";
    std::string why;
    if (s.pc[f] == p_.fibers[f].size() && !s.blocked[f]) {
      out += "done\n";
      continue;
    }
    if (s.blocked[f]) {
      out += "op " + std::to_string(s.pc[f]) + " blocked in the model\n";
      continue;
    }
    out += "op " + std::to_string(s.pc[f]) + ": ";
    if (!startable(s, f, &why)) {
      out += why + "\n";
      continue;
    }
    state next = s;
    const move m = step(next, f, &why);
    out += (m == move::ok ? "steps, but nothing after it fits" : why) + "\n";
  }
  if (!t_.deadlock && !at_end(s)) {
    for (std::size_t c = 0; c < s.chans.size(); ++c) {
      out += "    c" + std::to_string(c) + " in the model:" + (s.chans[c].closed ? " closed," : "") +
             " buffered [";
      for (std::size_t i = 0; i < s.chans[c].buf.size(); ++i)
        out += (i ? " " : "") + std::to_string(s.chans[c].buf[i]);
      out += "]\n";
    }
  }
  return out;
}

verdict search::run() {
  verdict v;
  if (!t_.error.empty()) {
    v.why = "the harness saw: " + t_.error;
    return v;
  }
  for (std::size_t f = 0; f < nf(); ++f) {
    if (observed_len(f) > p_.fibers[f].size() || (!t_.deadlock && observed_len(f) != p_.fibers[f].size())) {
      v.why = "fiber " + std::to_string(f) + " logged " + std::to_string(observed_len(f)) + " of " +
              std::to_string(p_.fibers[f].size()) + " operations in a run that completed";
      return v;
    }
  }
  prepare();
  state s;
  s.pc.assign(nf(), 0);
  s.blocked.assign(nf(), 0);
  s.chans.resize(p_.chans.size());
  s.holder.assign(p_.mutexes, -1);
  s.acquisitions.assign(p_.mutexes, 0);
  for (int units : p_.semas) s.semas.push_back({units, {}});
  s.wg = p_.wg_initial;
  best_ = s;
  v.ok = dfs(s);
  v.states = states_;
  v.inconclusive = !v.ok && exhausted_;
  if (!v.ok && !v.inconclusive) v.why = explain(best_);
  if (v.inconclusive) v.why = "gave up after " + std::to_string(states_) + " model states";
  return v;
}

}  // namespace

verdict check(const program& p, const trace& t, std::size_t state_budget) {
  return search(p, t, state_budget).run();
}

}  // namespace gort_model
