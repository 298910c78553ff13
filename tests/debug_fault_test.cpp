// gort::debug's accept loop under fault injection (tests/fault/fault.hpp):
// out of descriptors, the server reports each accept error with its pause
// (5, 10, 20 ms: net::accept_backoff, as Go's net/http) and keeps serving.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "fault/fault.hpp"
#include "gort/debug.hpp"
#include "gort/gort.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

namespace {

using gort_fault::call;

class DebugFault : public ::testing::TestWithParam<unsigned> {
 protected:
  gort_fault::scoped_clear disarm_at_the_end_;
};
INSTANTIATE_TEST_SUITE_P(workers, DebugFault, ::testing::ValuesIn(gort_test::k_worker_counts));

TEST_P(DebugFault, AcceptEmfileIsReportedAndRetriedWithBackoff) {
  testing::internal::CaptureStderr();
  int status = 0;
  unsigned failed = 0;
  gort::run(
      [&] {
        auto dbg = gort::debug::serve("127.0.0.1:0");
        gort_fault::inject(call::accept, {.times = 3, .error = EMFILE});  // the server's is the only accept
        gort_test::http_client c("127.0.0.1:" + std::to_string(dbg.port()));
        status = c.get("/debug/gort/stats").status;
        failed = gort_fault::failures(call::accept);
      },
      {.workers = GetParam()});
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, 200);
  EXPECT_EQ(failed, 3u);
  EXPECT_EQ(err,
            "gort::debug: accept error: accept: Too many open files; retrying in 5ms\n"
            "gort::debug: accept error: accept: Too many open files; retrying in 10ms\n"
            "gort::debug: accept error: accept: Too many open files; retrying in 20ms\n");
}

}  // namespace
