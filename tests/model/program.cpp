// Program generation, decoding, printing and shrinking (see program.hpp).
#include "program.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace gort_model {

namespace {

// splitmix64: the same sequence on every platform (std's distributions are
// not portable, and a seed must name one program everywhere).
class rng {
 public:
  explicit rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); 0 when n is 0.
  std::size_t below(std::size_t n) { return std::size_t((__uint128_t(next()) * n) >> 64); }
  bool chance(std::size_t num, std::size_t den) { return below(den) < num; }

 private:
  std::uint64_t s_;
};

op make(op_kind k, std::size_t obj = 0, std::int32_t arg = 0) {
  op o;
  o.kind = k;
  o.obj = std::uint8_t(obj);
  o.arg = arg;
  return o;
}

template <class T>
void shuffle(std::vector<T>& v, rng& r) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[r.below(i)]);
}

// Inserts `o` at a random position of `ops` not before `from`; returns it.
std::size_t insert_at_random(std::vector<op>& ops, op o, rng& r, std::size_t from = 0) {
  from = std::min(from, ops.size());
  std::size_t at = from + r.below(ops.size() - from + 1);
  ops.insert(ops.begin() + std::ptrdiff_t(at), std::move(o));
  return at;
}

// A select built around `base` (a send or receive on a channel) with up to
// two more random cases and sometimes a default.
op make_select(const op& base, const program& p, rng& r) {
  op s = make(op_kind::select);
  s.cases.push_back({base.obj, base.kind == op_kind::send, 0});
  for (std::size_t extra = r.below(3); extra > 0; --extra)
    s.cases.push_back({std::uint8_t(r.below(p.chans.size())), r.chance(1, 2), 0});
  shuffle(s.cases, r);
  s.has_default = r.chance(1, 3);
  return s;
}

// The channel operations: per channel a few sends and about as many
// receives spread over the fibers (some as try_ or select), and sometimes a
// close at the end of a fiber, rarely a second one anywhere.
void plan_channels(program& p, rng& r, std::vector<std::vector<op>>& bag,
                   std::vector<std::vector<op>>& tail) {
  const std::size_t nf = p.fibers.size();
  for (std::size_t c = 0; c < p.chans.size(); ++c) {
    if (p.chans[c] < 0) {  // the nil channel: now and then a direct operation on it
      if (r.chance(1, 3)) bag[r.below(nf)].push_back(make(r.chance(1, 2) ? op_kind::send : op_kind::recv, c));
      continue;
    }
    const std::size_t sends = r.below(4);
    const std::size_t recvs = std::size_t(std::max<long>(0, long(sends) + long(r.below(3)) - 1));
    for (std::size_t i = 0; i < sends + recvs; ++i) {
      op o = make(i < sends ? op_kind::send : op_kind::recv, c);
      if (r.chance(1, 6)) {
        o.kind = o.kind == op_kind::send ? op_kind::try_send : op_kind::try_recv;
      } else if (r.chance(1, 5)) {
        o = make_select(o, p, r);
      }
      bag[r.below(nf)].push_back(std::move(o));
    }
    if (r.chance(1, 3)) tail[r.below(nf)].push_back(make(op_kind::close, c));
    if (r.chance(1, 10)) bag[r.below(nf)].push_back(make(op_kind::close, c));
  }
}

// lock/unlock and acquire/release pairs around random stretches of a fiber.
void add_sync(program& p, rng& r) {
  for (auto& ops : p.fibers) {
    for (std::size_t m = 0; m < p.mutexes; ++m) {
      if (!r.chance(1, 3)) continue;
      std::size_t at = insert_at_random(ops, make(op_kind::unlock, m), r);
      std::size_t from = r.below(at + 1);
      ops.insert(ops.begin() + std::ptrdiff_t(from),
                 make(r.chance(1, 4) ? op_kind::try_lock : op_kind::lock, m));
    }
    for (std::size_t s = 0; s < p.semas.size(); ++s) {
      if (r.chance(1, 8)) insert_at_random(ops, make(op_kind::release, s, 1), r);
      if (!r.chance(1, 3)) continue;
      const std::int32_t n = std::int32_t(1 + r.below(2));
      std::size_t at = insert_at_random(ops, make(op_kind::release, s, n), r);
      std::size_t from = r.below(at + 1);
      ops.insert(ops.begin() + std::ptrdiff_t(from),
                 make(r.chance(1, 4) ? op_kind::try_acquire : op_kind::acquire, s, n));
    }
    if (r.chance(1, 4)) insert_at_random(ops, make(op_kind::yield), r);
  }
}

// The wait_group: each fiber owns 0 or 1 of the initial units and calls
// done() for it somewhere; some fibers wait (mostly after their own done).
// add(1) only while the adding fiber's own unit is outstanding (the counter
// cannot be zero then, as Go requires); a rare extra done() instead drives
// the counter below zero (never in the same program as an add).
void add_wait_group(program& p, rng& r) {
  const bool over_done = r.chance(1, 8);
  for (auto& ops : p.fibers) {
    if (r.chance(1, 2)) {
      ++p.wg_initial;
      std::size_t done_at = insert_at_random(ops, make(op_kind::wg_done), r);
      if (!over_done && r.chance(1, 4)) {
        std::size_t add_at = r.below(done_at + 1);
        ops.insert(ops.begin() + std::ptrdiff_t(add_at), make(op_kind::wg_add, 0, 1));
        insert_at_random(ops, make(op_kind::wg_done), r, add_at + 1);
      }
      if (r.chance(1, 3)) insert_at_random(ops, make(op_kind::wg_wait), r, r.chance(3, 4) ? done_at + 1 : 0);
    } else if (r.chance(1, 3)) {
      insert_at_random(ops, make(op_kind::wg_wait), r);
    }
  }
  if (over_done) insert_at_random(p.fibers[r.below(p.fibers.size())], make(op_kind::wg_done), r);
}

}  // namespace

std::size_t program::op_count() const {
  std::size_t n = 0;
  for (const auto& f : fibers) n += f.size();
  return n;
}

std::int32_t value_of(std::size_t f, std::size_t k, std::size_t c) {
  return std::int32_t(1 + f * 1000 + k * 10 + c);
}

void assign_values(program& p) {
  for (std::size_t f = 0; f < p.fibers.size(); ++f) {
    for (std::size_t k = 0; k < p.fibers[f].size(); ++k) {
      op& o = p.fibers[f][k];
      if (o.kind == op_kind::send || o.kind == op_kind::try_send) o.arg = value_of(f, k);
      for (std::size_t c = 0; c < o.cases.size(); ++c)
        o.cases[c].value = o.cases[c].is_send ? value_of(f, k, c) : 0;
    }
  }
}

program generate(std::uint64_t seed) {
  rng r(seed ^ 0x6A09E667F3BCC909ull);
  program p;
  std::size_t nf = 2 + r.below(3);
  if (r.chance(1, 8)) nf = 5;
  static constexpr int caps[] = {0, 0, 0, 1, 1, 2, 3};
  for (std::size_t c = 1 + r.below(3); c > 0; --c) p.chans.push_back(caps[r.below(std::size(caps))]);
  if (r.chance(1, 6)) p.chans.push_back(-1);
  p.mutexes = r.chance(1, 2) ? 1 + r.below(2) : 0;
  if (r.chance(1, 3)) p.semas.push_back(int(1 + r.below(2)));
  p.fibers.resize(nf);
  std::vector<std::vector<op>> tail(nf);
  plan_channels(p, r, p.fibers, tail);
  for (std::size_t f = 0; f < nf; ++f) {
    shuffle(p.fibers[f], r);
    for (op& o : tail[f]) p.fibers[f].push_back(std::move(o));
  }
  add_sync(p, r);
  if (r.chance(1, 3)) add_wait_group(p, r);
  for (auto& ops : p.fibers)
    if (ops.size() > k_max_ops) ops.resize(k_max_ops);
  assign_values(p);
  return p;
}

// ---- bytes <-> programs (the fuzz target's input) ----------------------------
//
// Header: fibers-1, channels-1, one capacity byte per channel (mod 5: 0..3,
// 4 = nil), mutexes, semaphores, one initial-units byte per semaphore,
// wait_group units. Then one record per operation: fiber, kind, argument; a
// select's argument holds its case count and default flag, and one byte per
// case follows (channel, direction). Every byte is taken modulo its range;
// an input that runs out ends the program.

program decode(std::span<const std::uint8_t> in) {
  std::size_t i = 0;
  auto next = [&]() -> std::size_t { return i < in.size() ? in[i++] : 0; };
  program p;
  p.fibers.resize(1 + next() % k_max_fibers);
  for (std::size_t c = 1 + next() % k_max_chans; c > 0; --c) {
    std::size_t cap = next() % 5;
    p.chans.push_back(cap == 4 ? -1 : int(cap));
  }
  p.mutexes = next() % (k_max_mutexes + 1);
  p.semas.resize(next() % (k_max_semas + 1));
  for (int& s : p.semas) s = int(next() % 4);
  p.wg_initial = int(next() % 4);
  while (i < in.size()) {
    auto& ops = p.fibers[next() % p.fibers.size()];
    op o = make(op_kind(next() % k_op_kinds));
    const std::size_t arg = next();
    switch (o.kind) {
      case op_kind::send:
      case op_kind::recv:
      case op_kind::try_send:
      case op_kind::try_recv:
      case op_kind::close: o.obj = std::uint8_t(arg % p.chans.size()); break;
      case op_kind::select:
        o.has_default = arg & 0x80;
        for (std::size_t c = 1 + arg % k_max_cases; c > 0; --c) {
          std::size_t b = next();
          o.cases.push_back({std::uint8_t((b >> 1) % p.chans.size()), bool(b & 1), 0});
        }
        break;
      case op_kind::lock:
      case op_kind::try_lock:
      case op_kind::unlock:
        if (p.mutexes == 0) {
          o = make(op_kind::yield);
          break;
        }
        o.obj = std::uint8_t(arg % p.mutexes);
        break;
      case op_kind::acquire:
      case op_kind::try_acquire:
      case op_kind::release:
        if (p.semas.empty()) {
          o = make(op_kind::yield);
          break;
        }
        o.obj = std::uint8_t(arg % p.semas.size());
        o.arg = std::int32_t(1 + (arg >> 4) % 2);
        break;
      case op_kind::wg_add:  // add() concurrent with wait() at zero is a misuse (as in Go): no adds
      case op_kind::yield: o = make(op_kind::yield); break;
      case op_kind::wg_done:
      case op_kind::wg_wait: break;
    }
    if (ops.size() < k_max_ops) ops.push_back(std::move(o));
  }
  assign_values(p);
  return p;
}

std::vector<std::uint8_t> encode(const program& p) {
  std::vector<std::uint8_t> out;
  out.push_back(std::uint8_t(p.fibers.size() - 1));
  out.push_back(std::uint8_t(p.chans.size() - 1));
  for (int cap : p.chans) out.push_back(std::uint8_t(cap < 0 ? 4 : cap));
  out.push_back(std::uint8_t(p.mutexes));
  out.push_back(std::uint8_t(p.semas.size()));
  for (int s : p.semas) out.push_back(std::uint8_t(s));
  out.push_back(std::uint8_t(p.wg_initial));
  for (std::size_t f = 0; f < p.fibers.size(); ++f) {
    for (const op& o : p.fibers[f]) {
      out.push_back(std::uint8_t(f));
      out.push_back(std::uint8_t(o.kind));
      if (o.kind == op_kind::select) {
        out.push_back(std::uint8_t((o.cases.size() - 1) | (o.has_default ? 0x80 : 0)));
        for (const select_case& c : o.cases) out.push_back(std::uint8_t(c.chan << 1 | c.is_send));
      } else if (o.kind == op_kind::acquire || o.kind == op_kind::try_acquire || o.kind == op_kind::release) {
        out.push_back(std::uint8_t(o.obj | (o.arg - 1) << 4));
      } else {
        out.push_back(o.obj);
      }
    }
  }
  return out;
}

// ---- printing -----------------------------------------------------------------

namespace {

std::string chan_name(std::size_t c) { return "c" + std::to_string(c); }

std::string to_string(const op& o) {
  const std::string obj = std::to_string(o.obj);
  switch (o.kind) {
    case op_kind::send: return "send c" + obj + " " + std::to_string(o.arg);
    case op_kind::recv: return "recv c" + obj;
    case op_kind::try_send: return "try_send c" + obj + " " + std::to_string(o.arg);
    case op_kind::try_recv: return "try_recv c" + obj;
    case op_kind::close: return "close c" + obj;
    case op_kind::select: {
      std::string s = "select{";
      for (std::size_t i = 0; i < o.cases.size(); ++i) {
        const select_case& c = o.cases[i];
        if (i) s += ", ";
        s += c.is_send ? "send " + chan_name(c.chan) + " " + std::to_string(c.value)
                       : "recv " + chan_name(c.chan);
      }
      return s + (o.has_default ? ", default}" : "}");
    }
    case op_kind::lock: return "lock m" + obj;
    case op_kind::try_lock: return "try_lock m" + obj;
    case op_kind::unlock: return "unlock m" + obj;
    case op_kind::acquire: return "acquire s" + obj + " " + std::to_string(o.arg);
    case op_kind::try_acquire: return "try_acquire s" + obj + " " + std::to_string(o.arg);
    case op_kind::release: return "release s" + obj + " " + std::to_string(o.arg);
    case op_kind::wg_add: return "wg.add " + std::to_string(o.arg);
    case op_kind::wg_done: return "wg.done";
    case op_kind::wg_wait: return "wg.wait";
    case op_kind::yield: return "yield";
  }
  return "?";
}

std::string to_string(const event& e) {
  std::string s = name_of(e.res);
  if (e.res == result::value) s += " " + std::to_string(e.value);
  if (e.index >= 0) s += " case " + std::to_string(e.index);
  if (e.witness) s += " #" + std::to_string(e.witness);
  return s + " [" + std::to_string(e.start) + ".." + std::to_string(e.end) + "]";
}

}  // namespace

const char* name_of(result r) {
  switch (r) {
    case result::ok: return "ok";
    case result::value: return "value";
    case result::none: return "none";
    case result::skipped: return "skipped";
    case result::send_closed: return "threw send-on-closed";
    case result::close_closed: return "threw close-of-closed";
    case result::close_nil: return "threw close-of-nil";
    case result::wg_negative: return "threw negative-counter";
    case result::unexpected: return "threw (unexpected)";
  }
  return "?";
}

std::string to_string(const program& p) {
  std::string s = std::to_string(p.fibers.size()) + " fibers; channels";
  for (std::size_t c = 0; c < p.chans.size(); ++c)
    s += " " + chan_name(c) + (p.chans[c] < 0 ? "(nil)" : "(cap " + std::to_string(p.chans[c]) + ")");
  s += "; " + std::to_string(p.mutexes) + " mutexes; semaphores";
  for (std::size_t i = 0; i < p.semas.size(); ++i)
    s += " s" + std::to_string(i) + "(" + std::to_string(p.semas[i]) + ")";
  s += "; wait_group(" + std::to_string(p.wg_initial) + ")\n";
  for (std::size_t f = 0; f < p.fibers.size(); ++f) {
    s += "  fiber " + std::to_string(f) + ":";
    for (std::size_t k = 0; k < p.fibers[f].size(); ++k) s += (k ? "; " : " ") + to_string(p.fibers[f][k]);
    s += "\n";
  }
  return s;
}

std::string to_string(const program& p, const trace& t) {
  std::string s = t.deadlock ? "run: deadlock_error\n" : "run: completed\n";
  if (!t.error.empty()) s += "harness: " + t.error + "\n";
  for (std::size_t f = 0; f < p.fibers.size(); ++f) {
    s += "  fiber " + std::to_string(f) + ":\n";
    const auto& evs = f < t.fibers.size() ? t.fibers[f] : std::vector<event>{};
    for (std::size_t k = 0; k < p.fibers[f].size(); ++k) {
      s += "    " + to_string(p.fibers[f][k]) + " -> ";
      if (k < evs.size()) {
        s += to_string(evs[k]);
      } else if (k == evs.size() && f < t.pending_start.size() && t.pending_start[f]) {
        s += "never returned [" + std::to_string(t.pending_start[f]) + "..]";
      } else {
        s += "not reached";
      }
      s += "\n";
    }
  }
  if (!t.deadlock) {
    for (std::size_t c = 0; c < t.residue.size(); ++c) {
      s += "  " + chan_name(c) + " at the end:" + (t.closed[c] ? " closed," : "") + " buffered [";
      for (std::size_t i = 0; i < t.residue[c].size(); ++i)
        s += (i ? " " : "") + std::to_string(t.residue[c][i]);
      s += "]\n";
    }
    for (std::size_t m = 0; m < t.locked.size(); ++m)
      if (t.locked[m]) s += "  m" + std::to_string(m) + " still locked at the end\n";
    for (std::size_t i = 0; i < t.units.size(); ++i)
      s += "  s" + std::to_string(i) + " at the end: " + std::to_string(t.units[i]) + " units\n";
  }
  return s;
}

// ---- shrinking ------------------------------------------------------------------

namespace {

bool has_wg_add(const program& p) {
  for (const auto& ops : p.fibers)
    for (const op& o : ops)
      if (o.kind == op_kind::wg_add) return true;
  return false;
}

// The edits tried on `p`, smallest result first; `visit` returns true to stop.
// An edit may only raise the wait_group's counter in a program that adds to
// it (removing an add, or initial units, could let an add meet a zero
// counter with waiters: Go's misuse, which no model describes).
bool for_each_edit(const program& p, const std::function<bool(program)>& visit) {
  const bool adds = has_wg_add(p);
  for (std::size_t f = 0; f < p.fibers.size() && p.fibers.size() > 1; ++f) {
    program q = p;
    q.fibers.erase(q.fibers.begin() + std::ptrdiff_t(f));
    if (visit(std::move(q))) return true;
  }
  for (std::size_t f = 0; f < p.fibers.size(); ++f) {
    for (std::size_t k = p.fibers[f].size(); k-- > 0;) {
      if (p.fibers[f][k].kind == op_kind::wg_add) continue;
      program q = p;
      q.fibers[f].erase(q.fibers[f].begin() + std::ptrdiff_t(k));
      if (visit(std::move(q))) return true;
    }
  }
  for (std::size_t f = 0; f < p.fibers.size(); ++f) {
    for (std::size_t k = 0; k < p.fibers[f].size(); ++k) {
      const op& o = p.fibers[f][k];
      if (o.kind != op_kind::select) continue;
      if (o.has_default) {
        program q = p;
        q.fibers[f][k].has_default = false;
        if (visit(std::move(q))) return true;
      }
      for (std::size_t c = 0; c < o.cases.size() && o.cases.size() > 1; ++c) {
        program q = p;
        auto& cs = q.fibers[f][k].cases;
        cs.erase(cs.begin() + std::ptrdiff_t(c));
        if (visit(std::move(q))) return true;
      }
    }
  }
  for (std::size_t c = 0; c < p.chans.size(); ++c) {
    if (p.chans[c] <= 0) continue;
    program q = p;
    --q.chans[c];
    if (visit(std::move(q))) return true;
  }
  if (p.wg_initial > 0 && !adds) {
    program q = p;
    --q.wg_initial;
    if (visit(std::move(q))) return true;
  }
  return false;
}

}  // namespace

program shrink(program p, const std::function<bool(const program&)>& still_fails) {
  // Values stay as they were: they are unique, and keeping them lets the
  // shrunk program's trace be compared with the original's.
  while (for_each_edit(p, [&](program q) {
    if (!still_fails(q)) return false;
    p = std::move(q);
    return true;
  })) {}
  return p;
}

}  // namespace gort_model
