// go and spawn with any number of arguments (docs/api.md, "go" and "spawn"):
// every arity, move-only arguments, member functions, and the creation site
// each records (the caller's file:line, or a location passed last).
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gort/gort.hpp"
#include "test_util.hpp"

namespace {

// Adds its arguments into *out.
struct adder {
  std::atomic<long>* out;
  gort::wait_group* wg;
  template <class... X>
  void operator()(X... x) const {
    *out += (0L + ... + long(x));
    wg->done();
  }
};
struct summer {
  template <class... X>
  long operator()(X... x) const {
    return (0L + ... + long(x));
  }
};

// go(adder, 1, 2, ..., N) and spawn(summer, 1, 2, ..., N).
template <std::size_t... I>
void go_with(std::index_sequence<I...>, adder a) {
  gort::go(a, int(I + 1)...);
}
template <std::size_t... I>
gort::task<long> spawn_with(std::index_sequence<I...>) {
  return gort::spawn(summer{}, int(I + 1)...);
}
template <std::size_t... N>
void go_and_spawn_each(std::index_sequence<N...>) {
  std::atomic<long> sum{0};
  gort::wait_group wg;
  wg.add(int(sizeof...(N)));
  (go_with(std::make_index_sequence<N>(), adder{&sum, &wg}), ...);
  std::vector<gort::task<long>> tasks;
  (tasks.push_back(spawn_with(std::make_index_sequence<N>())), ...);
  wg.wait();
  const long expect = (0L + ... + long(N * (N + 1) / 2));
  EXPECT_EQ(sum.load(), expect);
  long joined = 0;
  for (auto& t : tasks) joined += t.join();
  EXPECT_EQ(joined, expect);
}

TEST(GoArgs, EveryArityFromZeroToEightAndPastSixteen) {
  gort_test::run_at_each_worker_count(
      [](unsigned) { go_and_spawn_each(std::index_sequence<0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 17, 20>()); });
}

struct account {
  long balance = 0;
  long deposit(int a, int b, int c, int d, int e, int f) {
    balance += a + b + c + d + e + f;
    return balance;
  }
  void add_all(std::unique_ptr<int> a, std::unique_ptr<int> b, std::unique_ptr<int> c, std::unique_ptr<int> d,
               std::unique_ptr<int> e, gort::wait_group* wg) {
    balance += *a + *b + *c + *d + *e;
    wg->done();
  }
};

TEST(GoArgs, MemberFunctionsAndMoveOnlyArguments) {
  gort_test::run_at_each_worker_count([](unsigned) {
    account acc;
    EXPECT_EQ(gort::spawn(&account::deposit, &acc, 1, 2, 3, 4, 5, 6).join(), 21);
    EXPECT_EQ(gort::spawn(&account::deposit, std::ref(acc), 1, 1, 1, 1, 1, 1).join(), 27);
    gort::wait_group wg;
    wg.add();
    gort::go(&account::add_all, &acc, std::make_unique<int>(1), std::make_unique<int>(2),
             std::make_unique<int>(3), std::make_unique<int>(4), std::make_unique<int>(5), &wg);
    wg.wait();
    EXPECT_EQ(acc.balance, 42);
    // A move-only callable with move-only arguments; the result is move-only too.
    auto t = gort::spawn(
        [p = std::make_unique<int>(10)](
            std::unique_ptr<int> a, std::unique_ptr<int> b, std::unique_ptr<int> c, std::unique_ptr<int> d,
            std::unique_ptr<int> e) { return std::make_unique<int>(*p + *a + *b + *c + *d + *e); },
        std::make_unique<int>(1), std::make_unique<int>(2), std::make_unique<int>(3),
        std::make_unique<int>(4), std::make_unique<int>(5));
    EXPECT_EQ(*t.join(), 25);
  });
}

// The "created by" line of fiber `id` in a dump.
std::string created_line(const std::string& dump, std::uint64_t id) {
  const std::string head = "goroutine " + std::to_string(id) + " [";
  std::size_t at = dump.find(head);
  if (at == std::string::npos) return "(no block for goroutine " + std::to_string(id) + ")";
  at = dump.find("created by ", at);
  return at == std::string::npos ? "" : dump.substr(at, dump.find('\n', at) - at);
}

std::string site(int line) {
  return "created by goroutine 1 at " + std::string(__FILE__) + ":" + std::to_string(line);
}

TEST(GoArgs, EachFiberRecordsItsCreationSite) {
  gort::run(
      [] {
        gort::chan<int> never;
        auto w = [never](auto...) { (void)never.recv(); };
        std::vector<int> at;
        // Fibers 2 to 8; `at` holds the lines of the first five.
        at.push_back(__LINE__), gort::go(w);
        at.push_back(__LINE__), gort::go(w, 1, 2, 3, 4, 5);
        at.push_back(__LINE__), gort::go(w, 1, 2, 3, 4, 5, 6, 7, 8);
        at.push_back(__LINE__), gort::go(w, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
        at.push_back(__LINE__), (void)gort::spawn(w, 1, 2, 3, 4, 5, 6);
        gort::go(w, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17);
        gort::go(w, 1, gort::location("wrapper.cpp", 7));
        gort_test::wait_blocked("chan receive", 7);
        std::ostringstream os;
        gort::dump_fibers(os);
        const std::string dump = os.str();
        for (std::size_t i = 0; i < at.size(); ++i) EXPECT_EQ(created_line(dump, i + 2), site(at[i])) << dump;
        EXPECT_EQ(created_line(dump, 7),
                  "created by goroutine 1 at (unknown: more than 16 arguments after the function):0");
        EXPECT_EQ(created_line(dump, 8), "created by goroutine 1 at wrapper.cpp:7");
        never.close();
      },
      {.workers = 2});
}

}  // namespace
