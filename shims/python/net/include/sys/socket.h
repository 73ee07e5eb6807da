/* wasmbox: <sys/socket.h> for wasm32-wasi, completed.
 *
 * wasi-libc (Debian's, 2022) declares only what WASI preview 1 can do on a
 * socket it is given (accept, recv, send, shutdown, getsockopt SO_TYPE).
 * The rest is implemented by libwasmbox's net.c on top of the runner's
 * wasmbox_net host module (shims/ABI.md, "The network ABI"); this header
 * declares it, with Linux's numbers for the options wasi-libc leaves out.
 * The constants wasi-libc does define (AF_INET 1, AF_INET6 2, AF_UNIX 3,
 * SOCK_STREAM 6, SOL_SOCKET 0x7fffffff, SO_TYPE 3, ...) are kept: net.c
 * translates them to the ABI's. */
#include_next <sys/socket.h>

#ifndef WASMBOX_SYS_SOCKET_H
#define WASMBOX_SYS_SOCKET_H

#ifdef __cplusplus
extern "C" {
#endif

int socket(int, int, int);
int socketpair(int, int, int, int[2]);
int bind(int, const struct sockaddr *, socklen_t);
int connect(int, const struct sockaddr *, socklen_t);
int listen(int, int);
int getsockname(int, struct sockaddr *__restrict, socklen_t *__restrict);
int getpeername(int, struct sockaddr *__restrict, socklen_t *__restrict);
ssize_t sendto(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
ssize_t recvfrom(int, void *__restrict, size_t, int, struct sockaddr *__restrict, socklen_t *__restrict);
int setsockopt(int, int, int, const void *, socklen_t);

/* The message of the last failed socket call of this layer when its errno
   is err (the runner's wasmbox_net.last_error, e.g. which network rule is
   missing): copied into buf (NUL-terminated), its length returned; 0 when
   there is none. CPython's socket errors use it (shims/python/build.sh). */
int wasmbox_net_message(int err, char *buf, size_t size);

#define PF_UNSPEC AF_UNSPEC
#define PF_INET AF_INET
#define PF_INET6 AF_INET6
#define PF_UNIX AF_UNIX
#define PF_LOCAL AF_UNIX
#define AF_LOCAL AF_UNIX

/* SOL_SOCKET options, with Linux's numbers. */
#ifndef SO_REUSEADDR
#define SO_DEBUG 1
#define SO_REUSEADDR 2
#define SO_ERROR 4
#define SO_DONTROUTE 5
#define SO_BROADCAST 6
#define SO_SNDBUF 7
#define SO_RCVBUF 8
#define SO_KEEPALIVE 9
#define SO_OOBINLINE 10
#define SO_LINGER 13
#define SO_REUSEPORT 15
#define SO_RCVLOWAT 18
#define SO_SNDLOWAT 19
#define SO_RCVTIMEO 66
#define SO_SNDTIMEO 67
#define SO_ACCEPTCONN 30
#endif

#ifndef SOMAXCONN
#define SOMAXCONN 128
#endif

#ifdef __cplusplus
}
#endif

#endif
