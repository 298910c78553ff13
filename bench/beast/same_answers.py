#!/usr/bin/env python3
"""The `bench.beast_http` test: beast-http answers byte for byte as the
http_server demo does, so that scripts/http_bench.sh compares the same work.

    same_answers.py <http_server> <beast-http>

Starts the demo (1 worker) and beast-http (1 thread, then 2 threads in each
--io-contexts mode), sends each the same requests, one connection per case and
in the same order (so the visit counters agree), and compares everything each
server sends until it closes the connection. Exit status 1 on a difference.
"""
import socket
import subprocess
import sys
import time

CASES = [
    ("root", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("pipelined, query, 404", b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                              b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("Connection: close", b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
    ("HTTP/1.0", b"GET / HTTP/1.0\r\n\r\n"),
    ("HTTP/1.0 keep-alive", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
    ("POST is 404", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"),
    ("absolute-form and *", b"GET http://h/ HTTP/1.1\r\nHost: x\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("malformed", b"GARBAGE\r\n\r\n"),
    ("headers over 8 KiB", b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"),
    ("after the errors", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
]


def start(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = p.stdout.readline()
    if not line.startswith("listening on "):
        p.kill()
        sys.exit(f"same_answers: {cmd[0]} did not start: {line!r}")
    host, port = line.split()[-1].rsplit(":", 1)
    return p, (host, int(port))


def exchange(addr, data):
    """Sends data, half-closes, returns all bytes until the server closes (10 s at most)."""
    with socket.create_connection(addr, timeout=10) as s:
        s.sendall(data)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server already closed (the 431 case)
        out = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
        return out


def answers(cmd):
    p, addr = start(cmd)
    try:
        return [exchange(addr, data) for _, data in CASES]
    finally:
        p.kill()
        p.wait()


def main():
    demo, beast = sys.argv[1], sys.argv[2]
    want = answers([demo, "--addr", "127.0.0.1:0", "--workers", "1"])
    if not all(want):
        sys.exit("same_answers: the demo did not answer every case")
    failed = False
    for extra in (["--threads", "1"], ["--threads", "2", "--io-contexts", "per-thread"],
                  ["--threads", "2", "--io-contexts", "shared"]):
        got = answers([beast, "--addr", "127.0.0.1:0"] + extra)
        for (name, _), w, g in zip(CASES, want, got):
            ok = w == g
            failed |= not ok
            print(f"{'ok  ' if ok else 'FAIL'} beast-http {' '.join(extra)}: {name}")
            if not ok:
                print(f"  demo:  {w!r}\n  beast: {g!r}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
