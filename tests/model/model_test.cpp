// The model checker's own tests: hand-written traces that a correct gort
// could not produce must be rejected (so that the random runs' passing means
// something), the ones it could produce accepted; the executor's traces of
// small programs; generation, decoding and shrinking.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "executor.hpp"
#include "model.hpp"
#include "test_util.hpp"

namespace {

using namespace gort_model;

op mk(op_kind k, std::uint8_t obj = 0, std::int32_t arg = 0) {
  op o;
  o.kind = k;
  o.obj = obj;
  o.arg = arg;
  return o;
}
op send(std::uint8_t c, std::int32_t v) { return mk(op_kind::send, c, v); }
op recv(std::uint8_t c) { return mk(op_kind::recv, c); }
op close(std::uint8_t c) { return mk(op_kind::close, c); }
op select(std::vector<select_case> cases, bool with_default) {
  op o = mk(op_kind::select);
  o.cases = std::move(cases);
  o.has_default = with_default;
  return o;
}

program prog(std::vector<int> chans, std::vector<std::vector<op>> fibers) {
  program p;
  p.chans = std::move(chans);
  p.fibers = std::move(fibers);
  return p;
}

// Builds a trace. Operations logged with ev() ran one after another on one
// thread; at() gives explicit times (and distinct threads) for overlaps.
class tb {
 public:
  explicit tb(const program& p) {
    t_.fibers.resize(p.fibers.size());
    t_.pending_start.assign(p.fibers.size(), 0);
    t_.pending_thread.assign(p.fibers.size(), 0);
    t_.residue.resize(p.chans.size());
    t_.closed.assign(p.chans.size(), 0);
    t_.locked.assign(p.mutexes, 0);
    for (int u : p.semas) t_.units.push_back(u);
  }
  tb& ev(std::size_t f, result r, std::int32_t v = 0, std::int32_t index = -1, std::uint32_t witness = 0) {
    return at(f, clock_, clock_ + 1, r, v, index, witness, 1);
  }
  tb& at(std::size_t f, std::uint64_t start, std::uint64_t end, result r, std::int32_t v = 0,
         std::int32_t index = -1, std::uint32_t witness = 0, std::uint32_t thread = 0) {
    event e;
    e.res = r;
    e.value = v;
    e.index = index;
    e.witness = witness;
    e.start = start;
    e.end = end;
    e.thread = e.end_thread = thread ? thread : std::uint32_t(f + 1);
    t_.fibers[f].push_back(e);
    clock_ = std::max(clock_, end + 1);
    return *this;
  }
  // f's next operation started (on the common thread) and never returned.
  tb& blocked(std::size_t f, std::uint32_t thread = 1) {
    t_.deadlock = true;
    t_.pending_start[f] = clock_++;
    t_.pending_thread[f] = thread;
    return *this;
  }
  tb& residue(std::size_t c, std::vector<std::int32_t> v, bool closed = false) {
    t_.residue[c] = std::move(v);
    t_.closed[c] = closed;
    return *this;
  }
  tb& units(std::size_t s, std::int64_t n) {
    t_.units[s] = n;
    return *this;
  }
  const trace& get() const { return t_; }

 private:
  trace t_;
  std::uint64_t clock_ = 1;
};

void expect_ok(const program& p, const tb& b) {
  verdict v = check(p, b.get());
  EXPECT_TRUE(v.ok) << to_string(p) << to_string(p, b.get()) << v.why;
}
void expect_rejected(const program& p, const tb& b) {
  verdict v = check(p, b.get());
  EXPECT_FALSE(v.ok) << to_string(p) << to_string(p, b.get());
  EXPECT_FALSE(v.inconclusive);
  EXPECT_FALSE(v.why.empty());
}

TEST(ModelChecker, ValuesMustBeReceivedOrLeftBuffered) {
  program p = prog({1}, {{send(0, 7)}, {}});
  expect_ok(p, tb(p).ev(0, result::ok).residue(0, {7}));
  expect_rejected(p, tb(p).ev(0, result::ok).residue(0, {}));      // lost
  expect_rejected(p, tb(p).ev(0, result::ok).residue(0, {7, 7}));  // duplicated
}

TEST(ModelChecker, RejectsDuplicatedAndInventedValues) {
  // Unbuffered: each send overlaps the receive it meets.
  program p = prog({0}, {{send(0, 7), send(0, 8)}, {recv(0)}, {recv(0)}});
  auto with_second = [&](std::int32_t v) {
    return tb(p)
        .at(0, 1, 4, result::ok)
        .at(1, 2, 3, result::value, 7)
        .at(0, 5, 8, result::ok)
        .at(2, 6, 7, result::value, v);
  };
  expect_ok(p, with_second(8));
  expect_rejected(p, with_second(7));
  expect_rejected(p, with_second(9));
}

TEST(ModelChecker, RejectsPerSenderReordering) {
  program p = prog({2}, {{send(0, 1), send(0, 2)}, {recv(0), recv(0)}});
  expect_ok(p, tb(p).ev(0, result::ok).ev(0, result::ok).ev(1, result::value, 1).ev(1, result::value, 2));
  expect_rejected(p,
                  tb(p).ev(0, result::ok).ev(0, result::ok).ev(1, result::value, 2).ev(1, result::value, 1));
}

TEST(ModelChecker, ABlockedSendersValueGoesBehindTheBuffer) {
  // cap 1: 1 is buffered, the send of 2 blocks until the receiver takes 1.
  program p = prog({1}, {{send(0, 1), send(0, 2)}, {recv(0), recv(0)}});
  expect_ok(p, tb(p)
                   .at(0, 1, 2, result::ok)
                   .at(0, 3, 6, result::ok)
                   .at(1, 4, 5, result::value, 1)
                   .at(1, 7, 8, result::value, 2));
  expect_rejected(p, tb(p)
                         .at(0, 1, 2, result::ok)
                         .at(0, 3, 6, result::ok)
                         .at(1, 4, 5, result::value, 2)
                         .at(1, 7, 8, result::value, 1));
}

TEST(ModelChecker, BlockedReceiversAreServedInOrderOnOneThread) {
  // Fibers 0 and 1 block in recv (at times 1 and 2, on one thread), then
  // fiber 2 sends one value: FIFO gives it to fiber 0.
  program p = prog({0}, {{recv(0)}, {recv(0)}, {send(0, 5)}});
  auto run = [&](std::size_t served, std::size_t left, std::uint32_t served_thread) {
    tb b(p);
    b.at(served, served + 1, 5, result::value, 5, -1, 0, served_thread).at(2, 3, 4, result::ok, 0, -1, 0, 1);
    trace t = b.get();
    t.deadlock = true;
    t.pending_start[left] = left + 1;
    t.pending_thread[left] = 1;
    return check(p, t);
  };
  EXPECT_TRUE(run(0, 1, 1).ok);
  EXPECT_FALSE(run(1, 0, 1).ok);
  // Seen on two threads, the order in which they queued is unknown.
  EXPECT_TRUE(run(1, 0, 2).ok);
}

TEST(ModelChecker, CloseSemantics) {
  program p = prog({2}, {{send(0, 1), close(0), close(0)}, {recv(0), recv(0)}});
  // Buffered values are received after the close, then nothing.
  expect_ok(p, tb(p)
                   .ev(0, result::ok)
                   .ev(0, result::ok)
                   .ev(0, result::close_closed)
                   .ev(1, result::value, 1)
                   .ev(1, result::none)
                   .residue(0, {}, true));
  // The buffered value lost at the close.
  expect_rejected(p, tb(p)
                         .ev(0, result::ok)
                         .ev(0, result::ok)
                         .ev(0, result::close_closed)
                         .ev(1, result::none)
                         .ev(1, result::none)
                         .residue(0, {}, true));
  // The second close did not throw.
  expect_rejected(p, tb(p)
                         .ev(0, result::ok)
                         .ev(0, result::ok)
                         .ev(0, result::ok)
                         .ev(1, result::value, 1)
                         .ev(1, result::none)
                         .residue(0, {}, true));
  // Nothing received from a channel that was still open.
  program q = prog({0}, {{recv(0)}, {send(0, 3)}});
  expect_rejected(q, tb(q).ev(0, result::none).ev(1, result::ok));
}

TEST(ModelChecker, SendOnClosedThrowsAndCloseWakesSenders) {
  program p = prog({0}, {{close(0)}, {send(0, 4)}});
  expect_ok(p, tb(p).ev(0, result::ok).ev(1, result::send_closed).residue(0, {}, true));
  expect_rejected(p, tb(p).ev(0, result::ok).ev(1, result::ok).residue(0, {}, true));
  // The sender blocked first; the close wakes it with the exception.
  expect_ok(p, tb(p).at(1, 1, 4, result::send_closed).at(0, 2, 3, result::ok).residue(0, {}, true));
}

TEST(ModelChecker, NilChannels) {
  program p = prog({-1}, {{mk(op_kind::try_send, 0, 1), mk(op_kind::try_recv, 0), close(0), recv(0)}});
  expect_ok(p, tb(p).ev(0, result::none).ev(0, result::none).ev(0, result::close_nil).blocked(0));
  expect_rejected(p, tb(p).ev(0, result::ok).ev(0, result::none).ev(0, result::close_nil).blocked(0));
  expect_rejected(p, tb(p).ev(0, result::none).ev(0, result::none).ev(0, result::close_closed).blocked(0));
}

TEST(ModelChecker, SelectTakesAReadyCaseAndTheDefaultOnlyWhenNoneIs) {
  program p = prog({1, 0}, {{send(0, 9), select({{0, false, 0}, {1, false, 0}}, true)}});
  expect_ok(p, tb(p).ev(0, result::ok).ev(0, result::value, 9, 0));
  expect_rejected(p, tb(p).ev(0, result::ok).ev(0, result::ok, 0, 2).residue(0, {9}));    // default
  expect_rejected(p, tb(p).ev(0, result::ok).ev(0, result::none, 0, 1).residue(0, {9}));  // c1 not ready
}

TEST(ModelChecker, TryOperationsFailOnlyWhenTheyWould) {
  program p = prog({1}, {{send(0, 2)}, {mk(op_kind::try_recv, 0)}});
  expect_rejected(p, tb(p).ev(0, result::ok).ev(1, result::none).residue(0, {2}));
  // Overlapping, the try may have come first.
  expect_ok(p, tb(p).at(0, 1, 4, result::ok).at(1, 2, 3, result::none, 0, -1, 0, 2).residue(0, {2}));
}

TEST(ModelChecker, MutexAcquisitionsAreExclusive) {
  program p = prog({}, {{mk(op_kind::lock), mk(op_kind::unlock)}, {mk(op_kind::lock), mk(op_kind::unlock)}});
  p.mutexes = 1;
  expect_ok(
      p, tb(p).ev(0, result::ok, 0, -1, 1).ev(0, result::ok).ev(1, result::ok, 0, -1, 2).ev(1, result::ok));
  expect_rejected(
      p, tb(p).ev(0, result::ok, 0, -1, 1).ev(0, result::ok).ev(1, result::ok, 0, -1, 1).ev(1, result::ok));
  // Fiber 1 got it while fiber 0 held it (its unlock came after).
  expect_rejected(p, tb(p)
                         .at(0, 1, 2, result::ok, 0, -1, 1)
                         .at(1, 3, 4, result::ok, 0, -1, 2)
                         .at(0, 5, 6, result::ok)
                         .at(1, 7, 8, result::ok));
}

TEST(ModelChecker, TryLockFailsOnAFreeMutexOnlyWithAnOperationInFlight) {
  program p =
      prog({}, {{mk(op_kind::lock), mk(op_kind::unlock)}, {mk(op_kind::try_lock), mk(op_kind::unlock)}});
  p.mutexes = 1;
  expect_rejected(
      p, tb(p).ev(0, result::ok, 0, -1, 1).ev(0, result::ok).ev(1, result::none).ev(1, result::skipped));
  expect_ok(p, tb(p)
                   .at(0, 1, 2, result::ok, 0, -1, 1)
                   .at(0, 3, 6, result::ok)
                   .at(1, 4, 5, result::none)
                   .at(1, 7, 8, result::skipped));
}

TEST(ModelChecker, SemaphoreGrantsInArrivalOrder) {
  // s0 starts empty: fiber 0 waits for 2 units, then fiber 1 for 1; a
  // release of 1 must not let fiber 1 overtake.
  program p =
      prog({}, {{mk(op_kind::acquire, 0, 2)}, {mk(op_kind::acquire, 0, 1)}, {mk(op_kind::release, 0, 1)}});
  p.semas = {0};
  tb b(p);
  b.at(1, 2, 5, result::ok, 0, -1, 0, 1).at(2, 3, 4, result::ok, 0, -1, 0, 1).units(0, 0);
  trace t = b.get();
  t.deadlock = true;
  t.pending_start[0] = 1;
  t.pending_thread[0] = 1;
  verdict v = check(p, t);
  EXPECT_FALSE(v.ok) << to_string(p, t);
  // Had fiber 1 come first, it would have been served.
  t.pending_start[0] = 6;
  v = check(p, t);
  EXPECT_TRUE(v.ok) << v.why;
}

TEST(ModelChecker, WaitGroup) {
  program p = prog({}, {{mk(op_kind::wg_done), mk(op_kind::wg_done)}, {mk(op_kind::wg_wait)}});
  p.wg_initial = 1;
  expect_ok(p, tb(p).ev(0, result::ok).ev(0, result::wg_negative).ev(1, result::ok));
  expect_rejected(p, tb(p).ev(0, result::ok).ev(0, result::ok).ev(1, result::ok));  // went below zero
  // The wait returned before the counter reached zero.
  expect_rejected(p, tb(p).ev(1, result::ok).ev(0, result::ok).ev(0, result::wg_negative));
}

TEST(ModelChecker, DeadlocksMustBeReal) {
  program p = prog({0}, {{send(0, 1)}, {recv(0)}});
  expect_ok(p, tb(p).at(0, 1, 4, result::ok).at(1, 2, 3, result::value, 1));
  // An unbuffered send cannot return before its receiver arrived.
  expect_rejected(p, tb(p).at(0, 1, 2, result::ok).at(1, 3, 4, result::value, 1));
  // Both reported blocked, though they could meet: a false deadlock.
  expect_rejected(p, tb(p).blocked(0).blocked(1));
  // A send nobody receives cannot complete: a missed deadlock.
  program q = prog({0}, {{send(0, 1)}, {}});
  expect_ok(q, tb(q).blocked(0));
  expect_rejected(q, tb(q).ev(0, result::ok));
}

TEST(ModelChecker, HarnessErrorsAreFailures) {
  program p = prog({}, {{}});
  tb b(p);
  trace t = b.get();
  t.error = "fiber 0 got m0 while another fiber held it";
  EXPECT_FALSE(check(p, t).ok);
}

// ---- executor, generator, decoder, shrinker ----------------------------------

TEST(ModelExecutor, TracesOfARealRunAreExplained) {
  program p = prog({0, 1}, {{send(0, 1), send(1, 2), close(1)}, {recv(0), recv(1), recv(1)}});
  gort_test::for_each_worker_count([&](unsigned w) {
    trace t = execute(p, {w, std::nullopt});
    ASSERT_FALSE(t.deadlock);
    ASSERT_EQ(t.fibers[1].size(), 3u);
    EXPECT_EQ(t.fibers[1][0].value, 1);
    EXPECT_EQ(t.fibers[1][1].value, 2);
    EXPECT_EQ(t.fibers[1][2].res, result::none);
    EXPECT_TRUE(check(p, t).ok) << to_string(p, t);
  });
}

TEST(ModelExecutor, ObservesADeadlock) {
  program p = prog({0}, {{send(0, 1)}, {mk(op_kind::yield)}});
  trace t = execute(p, {2, std::nullopt});
  EXPECT_TRUE(t.deadlock);
  EXPECT_TRUE(t.fibers[0].empty());
  EXPECT_NE(t.pending_start[0], 0u);
  EXPECT_TRUE(check(p, t).ok) << check(p, t).why;
}

TEST(ModelExecutor, GeneratedProgramsAreExplainedAtEachWorkerCount) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
  gort_test::for_each_worker_count([&](unsigned w) {
    for (std::uint64_t i = 0; i < 50; ++i) {
      const program p = generate(seed + i);
      const trace t = execute(p, {w, std::nullopt});
      const verdict v = check(p, t);
      ASSERT_TRUE(v.ok || v.inconclusive) << "program seed " << seed + i << "\n"
                                          << to_string(p) << to_string(p, t) << v.why;
    }
  });
}

TEST(ModelPrograms, GenerationIsDeterministicAndVaried) {
  std::set<std::string> seen;
  for (std::uint64_t s = 0; s < 200; ++s) {
    EXPECT_EQ(to_string(generate(s)), to_string(generate(s)));
    seen.insert(to_string(generate(s)));
  }
  EXPECT_GT(seen.size(), 190u);
}

TEST(ModelPrograms, DecodeKeepsAnyBytesWithinBoundsAndInvertsEncode) {
  std::vector<std::uint8_t> bytes;
  for (int i = 0; i < 4000; ++i) {
    bytes.push_back(std::uint8_t(i * 131 + (i >> 3)));
    const program p = decode(bytes);
    ASSERT_GE(p.fibers.size(), 1u);
    ASSERT_LE(p.fibers.size(), k_max_fibers);
    ASSERT_LE(p.chans.size(), k_max_chans);
    for (const auto& ops : p.fibers) {
      ASSERT_LE(ops.size(), k_max_ops);
      for (const op& o : ops) ASSERT_LE(o.cases.size(), k_max_cases);
    }
  }
  for (std::uint64_t s = 0; s < 100; ++s) {
    const program p = decode(encode(generate(s)));
    EXPECT_EQ(to_string(decode(encode(p))), to_string(p)) << s;
  }
}

TEST(ModelPrograms, ShrinkKeepsWhatTheFailureNeeds) {
  const program p = generate(12345);
  auto has_close = [](const program& q) {
    for (const auto& ops : q.fibers)
      for (const op& o : ops)
        if (o.kind == op_kind::close) return true;
    return false;
  };
  program big = p;
  big.fibers[0].push_back(close(0));
  const program small = shrink(big, has_close);
  EXPECT_EQ(small.op_count(), 1u) << to_string(small);
  EXPECT_TRUE(has_close(small));
}

}  // namespace
