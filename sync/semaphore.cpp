// gort::semaphore: a thin public face on the shared sema (which holds the
// invariants: FIFO grants, no lost wake-ups).
#include <stdexcept>

#include "gort/sync.hpp"

namespace gort {

namespace {
void check_units(std::ptrdiff_t n, const char* what) {
  if (n < 0) throw std::invalid_argument(std::string("gort::semaphore::") + what + ": negative count");
}
}  // namespace

semaphore::semaphore(std::ptrdiff_t initial) : sema_((check_units(initial, "semaphore"), initial)) {}

void semaphore::acquire(std::ptrdiff_t n, location where) {
  check_units(n, "acquire");
  if (n == 0) return;
  sema_.acquire(n, detail::wait_reason::semacquire, where);
  detail::race_acquire(this);  // TSan: every release happens before later acquires
}

bool semaphore::try_acquire(std::ptrdiff_t n) {
  check_units(n, "try_acquire");
  if (n != 0 && !sema_.try_acquire(n)) return false;
  detail::race_acquire(this);
  return true;
}

void semaphore::release(std::ptrdiff_t n) {
  check_units(n, "release");
  detail::race_release(this);
  if (n != 0) sema_.release(n);
}

}  // namespace gort
