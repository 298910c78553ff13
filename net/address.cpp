#include "net/address.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <system_error>

#include "gort/blocking.hpp"

namespace gort::detail {

namespace {

[[noreturn]] void malformed(std::string_view address, const char* why) {
  throw std::invalid_argument("gort::net: address \"" + std::string(address) + "\": " + why);
}

// getaddrinfo's EAI_* codes as a std::error_category.
class gai_category_t final : public std::error_category {
 public:
  const char* name() const noexcept override { return "getaddrinfo"; }
  std::string message(int code) const override { return ::gai_strerror(code); }
};
const std::error_category& gai_category() {
  static gai_category_t c;
  return c;
}

std::uint16_t parse_port(std::string_view address, std::string_view p) {
  if (p.empty()) malformed(address, "missing port");
  if (p.size() > 5) malformed(address, "invalid port");
  unsigned v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') malformed(address, "invalid port");
    v = v * 10 + unsigned(c - '0');
  }
  if (v > 65535) malformed(address, "invalid port");
  return std::uint16_t(v);
}

endpoint make_v4(in_addr a, std::uint16_t port) {
  endpoint e;
  auto* s = reinterpret_cast<sockaddr_in*>(&e.addr);
  s->sin_family = AF_INET;
  s->sin_port = htons(port);
  s->sin_addr = a;
  e.len = sizeof(sockaddr_in);
  return e;
}

endpoint make_v6(in6_addr a, std::uint16_t port) {
  endpoint e;
  auto* s = reinterpret_cast<sockaddr_in6*>(&e.addr);
  s->sin6_family = AF_INET6;
  s->sin6_port = htons(port);
  s->sin6_addr = a;
  e.len = sizeof(sockaddr_in6);
  return e;
}

// getaddrinfo for `hp`; `numeric` forbids a lookup (then it never blocks).
// Returns the EAI_* code; 0 on success.
int lookup(const host_port& hp, bool numeric, std::vector<endpoint>& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : AI_ADDRCONFIG);
  addrinfo* res = nullptr;
  std::string port = std::to_string(hp.port);
  int rc = ::getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) return rc;
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, ::freeaddrinfo);
  for (addrinfo* a = res; a; a = a->ai_next) {
    if (a->ai_addrlen > sizeof(sockaddr_storage)) continue;
    endpoint e;
    std::memcpy(&e.addr, a->ai_addr, a->ai_addrlen);
    e.len = socklen_t(a->ai_addrlen);
    out.push_back(e);
  }
  return 0;
}

}  // namespace

host_port split_host_port(std::string_view address) {
  host_port hp;
  std::string_view rest;
  if (!address.empty() && address.front() == '[') {
    std::size_t close = address.find(']');
    if (close == std::string_view::npos) malformed(address, "missing ']'");
    hp.host = std::string(address.substr(1, close - 1));
    if (hp.host.empty()) malformed(address, "empty host in brackets");
    rest = address.substr(close + 1);
    if (rest.empty() || rest.front() != ':') malformed(address, "missing port");
    rest.remove_prefix(1);
  } else {
    std::size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) malformed(address, "missing port");
    std::string_view host = address.substr(0, colon);
    if (host.find(':') != std::string_view::npos) malformed(address, "too many colons");
    if (host.find_first_of("[] \t") != std::string_view::npos) malformed(address, "invalid host");
    hp.host = std::string(host);
    rest = address.substr(colon + 1);
  }
  hp.port = parse_port(address, rest);
  return hp;
}

std::vector<endpoint> resolve(std::string_view address, bool passive) {
  host_port hp = split_host_port(address);
  std::vector<endpoint> out;
  if (hp.host.empty()) {
    if (passive) {
      out.push_back(make_v6(in6addr_any, hp.port));
      out.push_back(make_v4(in_addr{htonl(INADDR_ANY)}, hp.port));
    } else {
      out.push_back(make_v4(in_addr{htonl(INADDR_LOOPBACK)}, hp.port));
      out.push_back(make_v6(in6addr_loopback, hp.port));
    }
    return out;
  }
  int rc = lookup(hp, true, out);
  if (rc == 0) return out;
  bool bracketed = address.front() == '[';
  if (bracketed) malformed(address, "invalid IPv6 address");
  rc = gort::blocking([&] { return lookup(hp, false, out); });
  if (rc == 0 && out.empty()) rc = EAI_NONAME;
  if (rc != 0) throw std::system_error(rc, gai_category(), "gort::net: lookup " + hp.host);
  return out;
}

std::string format_address(const sockaddr_storage& sa) {
  char host[INET6_ADDRSTRLEN] = {};
  if (sa.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(sa);
    ::inet_ntop(AF_INET, &v4.sin_addr, host, sizeof host);
    return std::string(host) + ':' + std::to_string(ntohs(v4.sin_port));
  }
  if (sa.ss_family != AF_INET6) return {};
  const auto& v6 = reinterpret_cast<const sockaddr_in6&>(sa);
  const std::uint16_t port = ntohs(v6.sin6_port);
  if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {  // a dual-stack socket's IPv4 peer
    ::inet_ntop(AF_INET, &v6.sin6_addr.s6_addr[12], host, sizeof host);
    return std::string(host) + ':' + std::to_string(port);
  }
  ::inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof host);
  std::string out = "[";
  out += host;
  if (v6.sin6_scope_id != 0) {  // a link-local address's zone, by name as Go prints it
    char zone[IF_NAMESIZE] = {};
    out += '%';
    out += ::if_indextoname(v6.sin6_scope_id, zone) ? std::string(zone) : std::to_string(v6.sin6_scope_id);
  }
  return out + "]:" + std::to_string(port);
}

std::string local_address_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return format_address(ss);
}

}  // namespace gort::detail
