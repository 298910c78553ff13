// showcase: runs every demo in lesson order, each under a one-line heading,
// and ends with the deadlock demo, whose report and exit status 2 are the
// expected outcome. It finds the demo binaries next to itself (the directory
// of /proc/self/exe) and runs each as a child process (fork/exec/waitpid), so
// every demo gets a fresh runtime and a fatal error ends only that demo.
// Exits 0 if every demo but `deadlock` exited 0 (and `deadlock` exited 2).
//
//   showcase                 run them all
//   showcase hello pipeline  run only these, in the order given
//
// http_server runs with --addr 127.0.0.1:0; the showcase sends it one
// request, prints the answer and stops it (skipped if it was not built).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {

struct demo {
  const char* name;
  const char* heading;
  std::vector<std::string> args;
  int expected_exit = 0;
};

const std::vector<demo> k_demos = {
    {"hello", "go hello(): main must wait, or \"hello world\" is lost", {}},
    {"waitgroup_sum", "sum(1,100) in a fiber: a sleep, then a wait_group", {}},
    {"race_condition", "next(&a) racing in three fibers, then under a mutex", {}},
    {"atomic_sum", "std::atomic fetch_add from two fibers", {}},
    {"mutex_messages", "fibers appending to one string under gort::mutex", {}},
    {"channels", "make(chan int, 1) and the unbuffered channel", {}},
    {"buffers", "a buffer of 2, then readThem with range and close", {}},
    {"read_them", "the final readThem program", {}},
    {"return_channel", "a function returns a channel its fiber reads; chan<- and <-chan parameters", {}},
    {"pipeline", "source -> square -> sink", {}},
    {"fan_out_fan_in", "one source, four workers, one sink", {}},
    {"methods", "go ms.doIt(): a member function as a fiber", {}},
    {"skynet", "1,111,111 fibers summing 0..999999", {}},
    {"stats", "scheduler statistics around a small workload", {"2"}},
    {"context_timeout", "a search that gives up at a deadline (context.WithTimeout)", {}},
    {"errgroup", "parallel fetches with a limit; the first failure cancels the rest", {}},
    {"http_server", "an HTTP server, one fiber per connection", {"--addr", "127.0.0.1:0"}},
    {"deadlock", "an unbuffered send with no receiver (exit status 2 expected)", {}, 2},
};

std::filesystem::path g_dir;

// Runs `path args...` with stdout going to `out_fd` (-1: ours). Returns the
// child's pid; the child dies by SIGALRM after `limit_s` seconds.
pid_t start(const std::filesystem::path& path, const std::vector<std::string>& args, int out_fd,
            unsigned limit_s) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    if (out_fd >= 0) dup2(out_fd, STDOUT_FILENO);
    std::vector<char*> argv;
    std::string p = path.string();
    argv.push_back(p.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    alarm(limit_s);  // survives exec: a hung demo is killed
    execv(p.c_str(), argv.data());
    std::perror(p.c_str());
    _exit(127);
  }
  return pid;
}

// "exit status N" or "killed by signal S"; the number for the caller.
int describe(int status, std::string& what) {
  if (WIFEXITED(status)) {
    what = "exit status " + std::to_string(WEXITSTATUS(status));
    return WEXITSTATUS(status);
  }
  what = std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return 128 + WTERMSIG(status);
}

int run_plain(const demo& d) {
  pid_t pid = start(g_dir / d.name, d.args, -1, 60);
  if (pid < 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  std::string what;
  int rc = describe(status, what);
  std::printf("-- %s: %s%s\n", d.name, what.c_str(), rc == d.expected_exit && rc ? " (as expected)" : "");
  return rc;
}

// Starts http_server, waits for "listening on HOST:PORT", sends GET / and
// prints the response, then stops the server.
int run_http(const demo& d) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = start(g_dir / d.name, d.args, fds[1], 30);
  close(fds[1]);
  std::string line;
  char ch;
  while (read(fds[0], &ch, 1) == 1 && ch != '\n') line += ch;
  std::printf("%s\n", line.c_str());
  int rc = 1;
  auto colon = line.rfind(':');
  if (line.rfind("listening on ", 0) == 0 && colon != std::string::npos) {
    int port = std::atoi(line.c_str() + colon + 1);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(std::uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s >= 0 && connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
      std::printf("> GET / HTTP/1.1\n");
      if (write(s, req, sizeof req - 1) == ssize_t(sizeof req - 1)) {
        std::string resp;
        char buf[4096];
        for (ssize_t n; (n = read(s, buf, sizeof buf)) > 0;) resp.append(buf, std::size_t(n));
        // The status line and the body; the headers in between are noise here.
        auto eol = resp.find("\r\n");
        auto body = resp.find("\r\n\r\n");
        if (eol != std::string::npos) std::printf("< %s\n", resp.substr(0, eol).c_str());
        if (body != std::string::npos) std::printf("< %s\n", resp.substr(body + 4).c_str());
        rc = resp.rfind("HTTP/1.1 200", 0) == 0 ? 0 : 1;
      }
    }
    if (s >= 0) close(s);
  }
  close(fds[0]);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  std::printf("-- %s: %s\n", d.name, rc == 0 ? "answered, then stopped" : "did not answer");
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  g_dir = std::filesystem::read_symlink("/proc/self/exe").parent_path();
  std::vector<const demo*> todo;
  for (int i = 1; i < argc; ++i) {
    const demo* found = nullptr;
    for (const auto& d : k_demos)
      if (std::strcmp(d.name, argv[i]) == 0) found = &d;
    if (!found) {
      std::fprintf(stderr, "showcase: no demo named %s\n", argv[i]);
      return 1;
    }
    todo.push_back(found);
  }
  if (todo.empty())
    for (const auto& d : k_demos) todo.push_back(&d);

  std::vector<std::string> failed;
  for (const demo* d : todo) {
    std::printf("\n== %s: %s\n", d->name, d->heading);
    if (!std::filesystem::exists(g_dir / d->name)) {
      // http_server needs libhttp-parser; without it the build skips it.
      bool optional = std::strcmp(d->name, "http_server") == 0;
      std::printf("-- %s: not built%s\n", d->name, optional ? ", skipped" : "");
      if (!optional) failed.push_back(d->name);
      continue;
    }
    int rc = std::strcmp(d->name, "http_server") == 0 ? run_http(*d) : run_plain(*d);
    if (rc != d->expected_exit) failed.push_back(d->name);
  }

  std::printf("\n");
  if (failed.empty()) {
    std::printf("showcase: all %zu demos behaved as expected\n", todo.size());
    return 0;
  }
  std::printf("showcase: unexpected results from:");
  for (const auto& f : failed) std::printf(" %s", f.c_str());
  std::printf("\n");
  return 1;
}
