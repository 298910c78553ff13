// Wrong uses of gort's API that must not compile, each beside its correct
// form. run.cmake compiles a case twice: with GORT_GOOD (must compile) and
// without (must fail, with the expected message on the first error line).
// The case is chosen with -DGORT_CASE_<name>.
#include <gort/gort.hpp>

#include <functional>
#include <memory>
#include <optional>

#ifdef GORT_GOOD
#define GORT_PICK(good, bad) good
#else
#define GORT_PICK(good, bad) bad
#endif

void use() {
  gort::chan<int> c(1);
#if defined(GORT_CASE_recv_case_callback)
  // The callback takes std::optional<int> (nullopt once c is closed), not int.
  gort::select(gort::recv_case(c, GORT_PICK([](std::optional<int>) {}, [](int) {})));
#elif defined(GORT_CASE_send_case_callback)
  gort::select(gort::send_case(c, 1, GORT_PICK([] {}, [](int) {})));
#elif defined(GORT_CASE_default_case_callback)
  gort::select(gort::recv_case(c), gort::default_case(GORT_PICK([] {}, [](bool) {})));
#elif defined(GORT_CASE_go_wait_group_by_value)
  // A wait_group can be neither copied nor moved into the fiber.
  gort::wait_group wg;
  gort::go([](gort::wait_group* w) { w->done(); }, GORT_PICK(&wg, wg));
#elif defined(GORT_CASE_spawn_mutex_by_value)
  gort::mutex m;
  auto t = gort::spawn([](gort::mutex& mu) { mu.lock(); }, GORT_PICK(std::ref(m), m));
  t.join();
#elif defined(GORT_CASE_go_move_only_callable)
  auto f = [p = std::make_unique<int>(1)] { (void)*p; };
  gort::go(GORT_PICK(std::move(f), f));
#elif defined(GORT_CASE_go_wrong_arguments)
#ifdef GORT_GOOD
  gort::go([](int, const char*) {}, 1, "two");
#else
  gort::go([](int, const char*) {}, 1);
#endif
#elif defined(GORT_CASE_spawn_reference_parameter)
  // The fiber gets a copy of x: a T& parameter needs std::ref.
  int x = 0;
  auto t = gort::spawn([](int& v) { return ++v; }, GORT_PICK(std::ref(x), x));
  t.join();
#else
#error "no GORT_CASE_<name> given"
#endif
}
