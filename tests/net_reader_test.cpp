// gort::net::reader (Go's bufio.Reader over a conn): lines split across
// buffer and segment boundaries, CRLF, lines longer than the buffer, end of
// stream, buffered reads, and data kept across a read that throws
// (docs/api.md, "Network and blocking calls").
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "gort/gort.hpp"
#include "net_util.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using gort_test::cfg;

namespace {

class NetReader : public ::testing::TestWithParam<unsigned> {};
INSTANTIATE_TEST_SUITE_P(workers, NetReader, ::testing::ValuesIn(gort_test::k_worker_counts));

// Writes `data` in pieces of random sizes (1..max_piece), yielding between
// them so that the reader sees many short segments; then closes.
void write_in_pieces(gort::net::conn& c, const std::string& data, std::size_t max_piece, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (std::size_t at = 0; at < data.size();) {
    std::size_t n = std::min<std::size_t>(data.size() - at, 1 + rng() % max_piece);
    c.write(std::string_view(data).substr(at, n));
    at += n;
    gort::yield();
  }
  c.close_write();
}

TEST_P(NetReader, LinesSplitAcrossBuffersAndSegments) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
  // Lines of 0..40 characters, some with CRLF; the buffer is 7 bytes, so
  // most lines span several buffer fills and some a single fill holds many.
  std::mt19937_64 rng(seed);
  std::vector<std::string> lines;
  std::string wire;
  for (int i = 0; i < 500; ++i) {
    std::string line(rng() % 41, '\0');
    for (char& ch : line) ch = char('a' + rng() % 26);
    lines.push_back(line);
    wire += line + (rng() % 2 ? "\r\n" : "\n");
  }
  gort::run(
      [&] {
        gort_test::loopback_pair p;
        auto writer = gort::spawn([&] { write_in_pieces(p.client, wire, 13, seed); });
        gort::net::reader r(p.server, 7);
        std::vector<std::string> got;
        while (auto line = r.read_line()) got.push_back(*line);
        EXPECT_EQ(got, lines);
        EXPECT_EQ(r.read_line(), std::nullopt);  // still at end
        writer.join();                           // it used p and wire
      },
      cfg(GetParam()));
}

TEST_P(NetReader, CrlfAndLoneCr) {
  gort::run(
      [] {
        gort_test::loopback_pair p;
        // "\r" and "\n" of one CRLF arrive in different segments and, with
        // a 2-byte buffer, in different fills.
        auto writer = gort::spawn([&] {
          for (std::string_view piece : {"a\r", "\nb\r\n", "\r", "\n", "c\rd\n", "e\r"}) {
            p.client.write(piece);
            gort::yield();
          }
          p.client.close_write();
        });
        gort::net::reader r(p.server, 2);
        EXPECT_EQ(r.read_line(), "a");
        EXPECT_EQ(r.read_line(), "b");
        EXPECT_EQ(r.read_line(), "");      // the empty line between two CRLFs
        EXPECT_EQ(r.read_line(), "c\rd");  // a lone "\r" stays
        EXPECT_EQ(r.read_line(), "e\r");   // no "\n": nothing is stripped
        EXPECT_EQ(r.read_line(), std::nullopt);
        writer.join();
      },
      cfg(GetParam()));
}

TEST_P(NetReader, LineLongerThanTheBuffer) {
  gort::run(
      [] {
        gort_test::loopback_pair p;
        std::string line = gort_test::pattern(300'000);
        for (char& ch : line)
          if (ch == '\n') ch = 'n';  // one line
        auto writer = gort::spawn([&] {
          p.client.write(line + "\nshort\n" + line);
          p.client.close_write();
        });
        gort::net::reader r(p.server, 16);
        // No ASSERT before join(): the writer uses this frame.
        std::string got = r.read_line().value_or("(none)");
        EXPECT_EQ(got.size(), line.size());
        EXPECT_TRUE(got == line);
        EXPECT_EQ(r.read_line(), "short");
        got = r.read_line().value_or("(none)");  // the last one, unterminated, returned first
        EXPECT_TRUE(got == line);
        EXPECT_EQ(r.read_line(), std::nullopt);
        writer.join();
      },
      cfg(GetParam()));
}

TEST_P(NetReader, EndOfStream) {
  gort::run(
      [] {
        {
          gort_test::loopback_pair p;  // nothing at all
          p.client.close_write();
          gort::net::reader r(p.server);
          EXPECT_EQ(r.read_line(), std::nullopt);
          EXPECT_EQ(r.read_until(','), std::nullopt);
          char b[4];
          EXPECT_EQ(r.read(std::span<char>(b)), 0u);
        }
        {
          gort_test::loopback_pair p;  // a final newline makes no extra empty line
          p.client.write("x\ny\n");
          p.client.close_write();
          gort::net::reader r(p.server);
          EXPECT_EQ(r.read_line(), "x");
          EXPECT_EQ(r.read_line(), "y");
          EXPECT_EQ(r.read_line(), std::nullopt);
        }
        {
          gort_test::loopback_pair p;  // the peer closes the whole connection
          p.client.write("last");
          p.client.close();
          gort::net::reader r(p.server);
          EXPECT_EQ(r.read_line(), "last");
          EXPECT_EQ(r.read_line(), std::nullopt);
        }
      },
      cfg(GetParam()));
}

TEST_P(NetReader, ReadUntilKeepsTheDelimiter) {
  gort::run(
      [] {
        gort_test::loopback_pair p;
        p.client.write("k1=v1;k2=v2;tail");
        p.client.close_write();
        gort::net::reader r(p.server, 3);
        EXPECT_EQ(r.read_until(';'), "k1=v1;");
        EXPECT_EQ(r.read_until('='), "k2=");
        EXPECT_EQ(r.read_until(';'), "v2;");
        EXPECT_EQ(r.read_until(';'), "tail");
        EXPECT_EQ(r.read_until(';'), std::nullopt);
      },
      cfg(GetParam()));
}

TEST_P(NetReader, BufferedReadMixesWithLines) {
  gort::run(
      [] {
        gort_test::loopback_pair p;
        p.client.write("hello\nworld");
        gort::net::reader r(p.server, 64);
        EXPECT_EQ(r.read_line(), "hello");
        EXPECT_EQ(r.buffered(), 5u);  // one segment: "world" came with "hello\n"
        char b[3];
        ASSERT_EQ(r.read(std::span<char>(b)), 3u);  // from the buffer, no conn read
        EXPECT_EQ(std::string(b, 3), "wor");
        ASSERT_EQ(r.read(std::span<char>(b)), 2u);  // what is left, not more
        EXPECT_EQ(std::string(b, 2), "ld");
        // Empty buffer, large request: straight from the conn.
        const std::string big = gort_test::pattern(100'000);
        auto writer = gort::spawn([&] {
          p.client.write(big);
          p.client.close_write();
        });
        std::string got;
        std::vector<char> chunk(4096);
        while (std::size_t n = r.read(std::span<char>(chunk))) got.append(chunk.data(), n);
        EXPECT_TRUE(got == big);
        EXPECT_EQ(r.read(std::span<char>(chunk)), 0u);
        EXPECT_EQ(r.read(std::span<char>()), 0u);
        writer.join();
      },
      cfg(GetParam()));
}

TEST_P(NetReader, DataBufferedBeforeADeadlineIsKept) {
  gort::run(
      [] {
        gort_test::loopback_pair p;
        gort::chan<int> more;
        auto writer = gort::spawn([&] {
          p.client.write("line1\npar");
          more.recv();
          p.client.write("tial\nnext\n");
        });
        gort::net::reader r(p.server, 64);
        EXPECT_EQ(r.read_line(), "line1");
        EXPECT_EQ(r.buffered(), 3u);
        auto t0 = std::chrono::steady_clock::now();
        p.server.set_read_deadline(t0 + 50ms);
        EXPECT_THROW(r.read_line(), gort::net::timeout_error);
        EXPECT_GE(std::chrono::steady_clock::now() - t0, 45ms);
        EXPECT_EQ(r.buffered(), 3u);  // "par" is still there
        // Still past it: a call that needs more data throws again, keeping it.
        EXPECT_THROW(r.read_until('x'), gort::net::timeout_error);
        p.server.set_read_deadline(std::chrono::steady_clock::time_point::max());
        more.send(1);
        EXPECT_EQ(r.read_line(), "partial");
        EXPECT_EQ(r.read_line(), "next");
        writer.join();
      },
      cfg(GetParam()));
}

TEST_P(NetReader, AFailedReadKeepsTheBufferedLineStart) {
  gort::run(
      [] {
        gort_test::loopback_pair p;
        p.client.write("abc");
        gort::net::reader r(p.server, 64);
        // read_until parks after buffering "abc"; another fiber closes the
        // conn, so the read throws EBADF. The buffered bytes survive it.
        auto t = gort::spawn([&] {
          try {
            r.read_until('\n');
          } catch (const std::system_error& e) {
            return e.code().value();
          }
          return 0;
        });
        gort_test::wait_blocked("IO wait", 1);
        p.server.close();
        EXPECT_EQ(t.join(), EBADF);
        EXPECT_EQ(r.buffered(), 3u);
        char b[8];
        ASSERT_EQ(r.read(std::span<char>(b)), 3u);  // buffered bytes need no conn
        EXPECT_EQ(std::string(b, 3), "abc");
      },
      cfg(GetParam()));
}

TEST(NetReaderArgs, ZeroBufferIsRejected) {
  gort::run(
      [] {
        gort_test::loopback_pair p;
        try {
          gort::net::reader r(p.server, 0);
          ADD_FAILURE() << "no exception";
        } catch (const std::invalid_argument& e) {
          EXPECT_NE(std::string(e.what()).find("buffer_size = 0"), std::string::npos) << e.what();
        }
      },
      cfg(1));
}

TEST(NetReaderArgs, MovedFromReaderReadsNothing) {
  gort::run(
      [] {
        gort_test::loopback_pair p;
        p.client.write("one\ntwo\n");
        gort::net::reader a(p.server, 64);
        EXPECT_EQ(a.read_line(), "one");
        gort::net::reader b(std::move(a));
        EXPECT_EQ(b.read_line(), "two");  // the buffered bytes moved with it
        EXPECT_EQ(a.read_line(), std::nullopt);
        EXPECT_EQ(a.buffered(), 0u);
      },
      cfg(1));
}

}  // namespace
