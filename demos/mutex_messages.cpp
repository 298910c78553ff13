// mutex_messages: "invisible concurrency". Several fibers append a message
// each to one shared string; a gort::mutex makes every append whole. The
// order varies from run to run, the count never does.
#include <cstdio>
#include <mutex>
#include <string>

#include "gort/gort.hpp"

int main() {
  return gort::run([] {
    constexpr int n = 5;
    std::string messages;
    gort::mutex mu;
    gort::wait_group wg;
    for (int i = 1; i <= n; ++i) {
      wg.add(1);
      gort::go(
          [&](int id) {
            std::lock_guard lock(mu);  // mu.Lock(); defer mu.Unlock()
            messages += "hello from fiber " + std::to_string(id) + "\n";
            wg.done();
          },
          i);
    }
    wg.wait();
    std::printf("%s", messages.c_str());
    int lines = 0;
    for (char ch : messages) lines += ch == '\n';
    std::printf("%d messages\n", lines);
  });
}
