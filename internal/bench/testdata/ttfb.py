# ttfb.py HOST PORT N: the median time to first byte of N HTTP GETs on
# fresh loopback connections (connect, send, first byte back), in
# microseconds. The same script runs natively and in a box.
import socket
import sys
import time

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
req = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
times = []
for _ in range(n):
    t0 = time.perf_counter()
    s = socket.create_connection((host, port))
    s.sendall(req)
    first = s.recv(1)
    times.append(time.perf_counter() - t0)
    while s.recv(65536):
        pass
    s.close()
    assert first == b"H", first
times.sort()
print(int(times[len(times) // 2] * 1e6))
