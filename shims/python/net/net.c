/* wasmbox: the BSD socket and resolver API for wasm32-wasi, on top of the
 * runner's wasmbox_net host module (shims/ABI.md, "The network ABI").
 *
 * A socket is a WASI descriptor the runner serves: reading, writing,
 * poll(), select(), shutdown(), close() and fcntl(O_NONBLOCK) are
 * wasi-libc's own and work on it unchanged. What wasi-libc lacks is made
 * here: creating, connecting, binding, listening, accepting (with the
 * peer's address), addresses, options, and name resolution, which the
 * runner does under the run's network policy.
 *
 * wasi-libc's constants stay (AF_INET 1, AF_INET6 2, AF_UNIX 3,
 * SOCK_STREAM 6, SOL_SOCKET 0x7fffffff, ...); the ABI's (family 4 or 6,
 * type 1, its option numbers) are used only at the host calls. Errno
 * values need no translation: the ABI's are WASI's, as wasi-libc's are.
 *
 * The host is not trusted blindly: counts it returns are bounded by what
 * was asked, descriptors and address families it returns are checked, and
 * its messages are cut to the buffer given.
 *
 * Part of libwasmbox.a (shims/python/build.sh); its declarations are in
 * include/ beside it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define NET(name) __attribute__((import_module("wasmbox_net"), import_name(#name)))
NET(socket) int32_t net_socket(int32_t family, int32_t type, uint32_t *fd);
NET(socketpair) int32_t net_socketpair(uint32_t *fds);
NET(connect) int32_t net_connect(int32_t fd, const void *addr);
NET(bind) int32_t net_bind(int32_t fd, const void *addr);
NET(listen) int32_t net_listen(int32_t fd, int32_t backlog);
NET(accept) int32_t net_accept(int32_t fd, uint32_t *fd_out, void *addr);
NET(getaddr) int32_t net_getaddr(int32_t fd, int32_t which, void *addr);
NET(getopt) int32_t net_getopt(int32_t fd, int32_t opt, uint32_t *val);
NET(setopt) int32_t net_setopt(int32_t fd, int32_t opt, uint32_t val);
NET(resolve) int32_t net_resolve(const char *name, uint32_t len, int32_t family, void *out,
                                 uint32_t out_max, uint32_t *n_out);
NET(last_error) int32_t net_last_error(char *buf, uint32_t len, uint32_t *len_out);

/* The ABI's numbers. */
enum { FAM_ANY = 0, FAM_V4 = 4, FAM_V6 = 6, TYPE_STREAM = 1 };
enum {
    OPT_ERROR = 1, OPT_TYPE = 2, OPT_NODELAY = 3, OPT_KEEPALIVE = 4, OPT_REUSEADDR = 5,
    OPT_RCVBUF = 6, OPT_SNDBUF = 7, OPT_ACCEPTCONN = 8
};

/* The address record: u16 family, u16 port, 16 bytes of address;
   little-endian, as wasm32 is. */
struct rec {
    uint16_t family;
    uint16_t port;
    uint8_t addr[16];
};
_Static_assert(sizeof(struct rec) == 20, "the ABI's address record is 20 bytes");

/* How many addresses one resolve may give. */
#define MAX_ADDRS 32

/* ---------------------------------------------------------- errors --- */

/* The last failure of this layer: its errno, and where its message is:
   the runner's last_error (host), a message of this layer (msg), or none. */
static int fail_errno;
static int fail_host;
static const char *fail_msg;

static int fail(int e, int host) {
    fail_errno = e;
    /* These are states, not failures: the runner's last message is about
       something else. */
    fail_host = host && e != EINPROGRESS && e != EAGAIN && e != EALREADY && e != EINTR;
    fail_msg = NULL;
    errno = e;
    return -1;
}

static int fail_local(int e, const char *msg) {
    fail(e, 0);
    fail_msg = msg;
    return -1;
}

static void ok(void) {
    fail_errno = 0;
}

/* Copies the runner's last_error into buf; its length, 0 if none. */
static size_t host_message(char *buf, size_t size) {
    uint32_t n = 0;
    if (size == 0) {
        return 0;
    }
    if (net_last_error(buf, (uint32_t)(size - 1), &n) != 0 || n > size - 1) {
        n = 0;
    }
    buf[n] = '\0';
    /* A message is text: nothing after a NUL the host may have put in it. */
    return strlen(buf);
}

int wasmbox_net_message(int err, char *buf, size_t size) {
    if (size == 0 || err == 0 || err != fail_errno) {
        return 0;
    }
    if (fail_msg != NULL) {
        snprintf(buf, size, "%s", fail_msg);
        return (int)strlen(buf);
    }
    if (fail_host) {
        return (int)host_message(buf, size);
    }
    return 0;
}

/* ---------------------------------------------------- descriptors --- */

/* What the runner cannot say of a descriptor: the family it was made
   with, for socketpair()'s (AF_UNIX, or AF_INET for CPython, which has no
   AF_UNIX on WASI), whose addresses are the runner's business. */
#define TRACKED 1024
enum { PAIR = 0x80 };
static unsigned char fd_kind[TRACKED];

static void remember(uint32_t fd, int domain, int pair) {
    if (fd < TRACKED) {
        fd_kind[fd] = (unsigned char)(domain | (pair ? PAIR : 0));
    }
}

static int kind_of(int fd) {
    return fd >= 0 && fd < TRACKED ? fd_kind[fd] : 0;
}

/* A descriptor number from the runner: one a C int can hold. */
static int checked_fd(uint32_t fd) {
    if (fd > (uint32_t)INT_MAX) {
        return -1;
    }
    return (int)fd;
}

static int set_nonblock(int fd, int on) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) {
        return -1;
    }
    fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, fl);
}

/* ------------------------------------------------------ addresses --- */

/* The smallest sockaddr of each family that holds its address (wasi-libc's
   are padded to 16-byte alignment, and callers pass sizeof). */
#define SIN_MIN (offsetof(struct sockaddr_in, sin_addr) + sizeof(struct in_addr))
#define SIN6_MIN (offsetof(struct sockaddr_in6, sin6_addr) + sizeof(struct in6_addr))

static int to_rec(const struct sockaddr *sa, socklen_t len, struct rec *r) {
    memset(r, 0, sizeof *r);
    if (sa == NULL || len < sizeof(sa_family_t)) {
        return EINVAL;
    }
    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        if (len < SIN_MIN) {
            return EINVAL;
        }
        r->family = FAM_V4;
        r->port = ntohs(sin->sin_port);
        memcpy(r->addr, &sin->sin_addr, 4);
        return 0;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        if (len < SIN6_MIN) {
            return EINVAL;
        }
        r->family = FAM_V6;
        r->port = ntohs(sin6->sin6_port);
        memcpy(r->addr, &sin6->sin6_addr, 16);
        return 0;
    }
    }
    return EAFNOSUPPORT;
}

/* Fills ss from a record of the runner; its length, 0 for an unknown
   family. */
static socklen_t from_rec(const struct rec *r, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    switch (r->family) {
    case FAM_V4: {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(r->port);
        memcpy(&sin->sin_addr, r->addr, 4);
        return sizeof *sin;
    }
    case FAM_V6: {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(r->port);
        memcpy(&sin6->sin6_addr, r->addr, 16);
        return sizeof *sin6;
    }
    }
    return 0;
}

/* Copies an address out as the socket calls do: truncated to *len, which
   becomes the address's full length. */
static void copy_out(const void *a, socklen_t alen, struct sockaddr *sa, socklen_t *len) {
    if (sa == NULL || len == NULL) {
        return;
    }
    memcpy(sa, a, *len < alen ? *len : alen);
    *len = alen;
}

/* -------------------------------------------------------- sockets --- */

#define FLAGS (SOCK_NONBLOCK | SOCK_CLOEXEC)

int socket(int domain, int type, int protocol) {
    int flags = type & FLAGS, fam;
    type &= ~FLAGS;
    if (domain == AF_INET) {
        fam = FAM_V4;
    } else if (domain == AF_INET6) {
        fam = FAM_V6;
    } else {
        return fail_local(EAFNOSUPPORT, "a wasmbox has IPv4 and IPv6 sockets only (AF_INET, AF_INET6)");
    }
    if (type != SOCK_STREAM || (protocol != 0 && protocol != IPPROTO_TCP)) {
        return fail_local(EPROTONOSUPPORT, "a wasmbox has TCP stream sockets only (no UDP, no raw sockets)");
    }
    uint32_t ufd;
    int e = net_socket(fam, TYPE_STREAM, &ufd);
    if (e != 0) {
        return fail(e, 1);
    }
    int fd = checked_fd(ufd);
    if (fd < 0) {
        return fail(EMFILE, 0);
    }
    remember(ufd, domain, 0);
    if ((flags & SOCK_NONBLOCK) && set_nonblock(fd, 1) < 0) {
        e = errno;
        close(fd);
        return fail(e, 0);
    }
    ok();
    return fd;
}

int socketpair(int domain, int type, int protocol, int fds[2]) {
    int flags = type & FLAGS;
    type &= ~FLAGS;
    if (domain != AF_UNIX && domain != AF_INET && domain != AF_INET6) {
        return fail_local(EAFNOSUPPORT, "socketpair: AF_UNIX, AF_INET or AF_INET6 only");
    }
    if (type != SOCK_STREAM || (protocol != 0 && !(domain != AF_UNIX && protocol == IPPROTO_TCP))) {
        return fail_local(EPROTONOSUPPORT, "socketpair: stream sockets only");
    }
    if (fds == NULL) {
        return fail(EFAULT, 0);
    }
    uint32_t u[2];
    int e = net_socketpair(u);
    if (e != 0) {
        return fail(e, 1);
    }
    int a = checked_fd(u[0]), b = checked_fd(u[1]);
    if (a < 0 || b < 0 || a == b) {
        if (a >= 0) {
            close(a);
        }
        if (b >= 0 && b != a) {
            close(b);
        }
        return fail(EMFILE, 0);
    }
    remember(u[0], domain, 1);
    remember(u[1], domain, 1);
    if ((flags & SOCK_NONBLOCK) && (set_nonblock(a, 1) < 0 || set_nonblock(b, 1) < 0)) {
        e = errno;
        close(a);
        close(b);
        return fail(e, 0);
    }
    fds[0] = a;
    fds[1] = b;
    ok();
    return 0;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len) {
    struct rec r;
    int e = to_rec(sa, len, &r);
    if (e != 0) {
        return fail(e, 0);
    }
    e = net_connect(fd, &r);
    if (e != 0) {
        return fail(e, 1);
    }
    ok();
    return 0;
}

int bind(int fd, const struct sockaddr *sa, socklen_t len) {
    struct rec r;
    int e = to_rec(sa, len, &r);
    if (e != 0) {
        return fail(e, 0);
    }
    e = net_bind(fd, &r);
    if (e != 0) {
        return fail(e, 1);
    }
    ok();
    return 0;
}

int listen(int fd, int backlog) {
    int e = net_listen(fd, backlog < 0 ? 0 : backlog);
    if (e != 0) {
        return fail(e, 1);
    }
    ok();
    return 0;
}

/* wasi-libc's accept and accept4 (one object, over sock_accept) give no
   peer address; these replace both (libwasmbox comes first on the link
   line, so its object is never pulled in). */
int accept4(int fd, struct sockaddr *__restrict sa, socklen_t *__restrict len, int flags) {
    if (flags & ~FLAGS) {
        return fail(EINVAL, 0);
    }
    struct rec r;
    memset(&r, 0, sizeof r);
    uint32_t ufd;
    int e = net_accept(fd, &ufd, &r);
    if (e != 0) {
        return fail(e, 1);
    }
    int nfd = checked_fd(ufd);
    if (nfd < 0) {
        return fail(EMFILE, 0);
    }
    struct sockaddr_storage ss;
    socklen_t alen = from_rec(&r, &ss);
    if (alen == 0) {
        close(nfd);
        return fail_local(EINVAL, "accept: the runner gave a peer address of an unknown family");
    }
    remember(ufd, ss.ss_family, 0);
    if ((flags & SOCK_NONBLOCK) && set_nonblock(nfd, 1) < 0) {
        e = errno;
        close(nfd);
        return fail(e, 0);
    }
    copy_out(&ss, alen, sa, len);
    ok();
    return nfd;
}

int accept(int fd, struct sockaddr *__restrict sa, socklen_t *__restrict len) {
    return accept4(fd, sa, len, 0);
}

static int getaddr(int fd, int which, struct sockaddr *sa, socklen_t *len) {
    if (len == NULL || (sa == NULL && *len != 0)) {
        return fail(EFAULT, 0);
    }
    struct rec r;
    memset(&r, 0, sizeof r);
    int e = net_getaddr(fd, which, &r);
    int kind = kind_of(fd);
    struct sockaddr_storage ss;
    socklen_t alen = 0;
    if (kind & PAIR) {
        /* A socketpair()'s end: AF_UNIX without a name, or the loopback
           address of its family. */
        if (e == EBADF || e == ENOTSOCK) {
            return fail(e, 1);
        }
        int domain = kind & ~PAIR;
        memset(&ss, 0, sizeof ss);
        if (domain == AF_UNIX) {
            ss.ss_family = AF_UNIX;
            alen = sizeof(sa_family_t);
        } else if (e == 0 && (alen = from_rec(&r, &ss)) != 0 && ss.ss_family == domain) {
            /* the runner's answer */
        } else if (domain == AF_INET6) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
            memset(&ss, 0, sizeof ss);
            sin6->sin6_family = AF_INET6;
            sin6->sin6_addr = in6addr_loopback;
            alen = sizeof *sin6;
        } else {
            struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
            memset(&ss, 0, sizeof ss);
            sin->sin_family = AF_INET;
            sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            alen = sizeof *sin;
        }
    } else {
        if (e != 0) {
            return fail(e, 1);
        }
        alen = from_rec(&r, &ss);
        if (alen == 0) {
            return fail_local(EINVAL, "the runner gave an address of an unknown family");
        }
    }
    copy_out(&ss, alen, sa, len);
    ok();
    return 0;
}

int getsockname(int fd, struct sockaddr *__restrict sa, socklen_t *__restrict len) {
    return getaddr(fd, 0, sa, len);
}

int getpeername(int fd, struct sockaddr *__restrict sa, socklen_t *__restrict len) {
    return getaddr(fd, 1, sa, len);
}

/* ------------------------------------------------------- options --- */

/* The ABI's number of an option, 0 for one accepted without effect (what
   Linux code sets and expects to succeed), -1 for one that is unknown. */
static int opt_number(int level, int name) {
    switch (level) {
    case SOL_SOCKET:
        switch (name) {
        case SO_ERROR: return OPT_ERROR;
        case SO_TYPE: return OPT_TYPE;
        case SO_KEEPALIVE: return OPT_KEEPALIVE;
        case SO_REUSEADDR: return OPT_REUSEADDR;
        case SO_RCVBUF: return OPT_RCVBUF;
        case SO_SNDBUF: return OPT_SNDBUF;
        case SO_ACCEPTCONN: return OPT_ACCEPTCONN;
        case SO_REUSEPORT: case SO_LINGER: case SO_BROADCAST: case SO_OOBINLINE:
        case SO_DONTROUTE: case SO_DEBUG: case SO_RCVLOWAT: case SO_SNDLOWAT:
        case SO_RCVTIMEO: case SO_SNDTIMEO:
            return 0;
        }
        return -1;
    case IPPROTO_TCP:
        switch (name) {
        case TCP_NODELAY: return OPT_NODELAY;
        case TCP_KEEPIDLE: case TCP_KEEPINTVL: case TCP_KEEPCNT: case TCP_USER_TIMEOUT:
        case TCP_QUICKACK: case TCP_LINGER2: case TCP_DEFER_ACCEPT: case TCP_SYNCNT:
        case TCP_CORK: case TCP_FASTOPEN: case TCP_NOTSENT_LOWAT:
            return 0;
        }
        return -1;
    case IPPROTO_IPV6:
        return name == IPV6_V6ONLY ? 0 : -1;
    case IPPROTO_IP:
        return name == IP_TOS || name == IP_TTL ? 0 : -1;
    }
    return -1;
}

/* What an option accepted without effect reads as: Linux's defaults. */
static int default_value(int level, int name) {
    if (level == IPPROTO_TCP) {
        switch (name) {
        case TCP_KEEPIDLE: return 7200;
        case TCP_KEEPINTVL: return 75;
        case TCP_KEEPCNT: return 9;
        case TCP_SYNCNT: return 6;
        case TCP_LINGER2: return 60;
        }
    }
    if (level == IPPROTO_IP && name == IP_TTL) {
        return 64;
    }
    if (level == SOL_SOCKET && (name == SO_RCVLOWAT || name == SO_SNDLOWAT)) {
        return 1;
    }
    return 0;
}

/* Whether fd is a socket of the runner (for the options it does not keep:
   Linux answers ENOTSOCK for a file, EBADF for nothing). */
static int check_socket(int fd) {
    uint32_t v;
    int e = net_getopt(fd, OPT_TYPE, &v);
    return e != 0 ? fail(e, 1) : 0;
}

int getsockopt(int fd, int level, int name, void *__restrict val, socklen_t *__restrict len) {
    if (val == NULL || len == NULL) {
        return fail(EFAULT, 0);
    }
    int opt = opt_number(level, name);
    if (opt < 0) {
        return fail(ENOPROTOOPT, 0);
    }
    if (opt == 0) {
        if (check_socket(fd) < 0) {
            return -1;
        }
        if (level == SOL_SOCKET && name == SO_LINGER) {
            struct linger l = {0, 0};
            if (*len < sizeof l) {
                return fail(EINVAL, 0);
            }
            memcpy(val, &l, sizeof l);
            *len = sizeof l;
        } else if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
            struct timeval tv = {0, 0};
            if (*len < sizeof tv) {
                return fail(EINVAL, 0);
            }
            memcpy(val, &tv, sizeof tv);
            *len = sizeof tv;
        } else {
            int v = default_value(level, name);
            if (*len < sizeof v) {
                return fail(EINVAL, 0);
            }
            memcpy(val, &v, sizeof v);
            *len = sizeof v;
        }
        ok();
        return 0;
    }
    if (*len < sizeof(int)) {
        return fail(EINVAL, 0);
    }
    uint32_t u = 0;
    int e = net_getopt(fd, opt, &u);
    if (e != 0) {
        return fail(e, 1);
    }
    int v;
    switch (opt) {
    case OPT_TYPE:
        v = u == TYPE_STREAM ? SOCK_STREAM : (int)u;
        break;
    case OPT_ERROR:
        v = u > 0xffff ? EIO : (int)u;
        ok();
        if (v != 0) {
            /* The outcome of a connect: its message is the runner's, for
               the error the caller raises next. */
            fail_errno = v;
            fail_host = 1;
            fail_msg = NULL;
        }
        memcpy(val, &v, sizeof v);
        *len = sizeof v;
        return 0;
    case OPT_NODELAY:
    case OPT_KEEPALIVE:
    case OPT_REUSEADDR:
    case OPT_ACCEPTCONN:
        v = u != 0;
        break;
    default:
        v = u > INT_MAX ? INT_MAX : (int)u;
    }
    memcpy(val, &v, sizeof v);
    *len = sizeof v;
    ok();
    return 0;
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
    int opt = opt_number(level, name);
    if (opt < 0) {
        return fail(ENOPROTOOPT, 0);
    }
    if (opt == OPT_ERROR || opt == OPT_TYPE || opt == OPT_ACCEPTCONN) {
        return fail(ENOPROTOOPT, 0); /* read only, as on Linux */
    }
    if (val == NULL) {
        return fail(EFAULT, 0);
    }
    if (opt == 0) {
        socklen_t need = sizeof(int);
        if (level == SOL_SOCKET && name == SO_LINGER) {
            need = sizeof(struct linger);
        } else if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
            need = sizeof(struct timeval);
        }
        if (len < need) {
            return fail(EINVAL, 0);
        }
        if (check_socket(fd) < 0) {
            return -1;
        }
        ok();
        return 0;
    }
    if (len < sizeof(int)) {
        return fail(EINVAL, 0);
    }
    int v;
    memcpy(&v, val, sizeof v);
    uint32_t u;
    if (opt == OPT_RCVBUF || opt == OPT_SNDBUF) {
        u = v < 0 ? 0 : (uint32_t)v;
    } else {
        u = v != 0;
    }
    int e = net_setopt(fd, opt, u);
    if (e != 0) {
        return fail(e, 1);
    }
    ok();
    return 0;
}

/* ------------------------------------------------- data, addressed --- */

/* TCP only: a connected socket's address is its peer's. */
ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *sa, socklen_t len) {
    (void)sa;
    (void)len;
    return send(fd, buf, n, flags);
}

ssize_t recvfrom(int fd, void *__restrict buf, size_t n, int flags, struct sockaddr *__restrict sa,
                 socklen_t *__restrict len) {
    ssize_t r = recv(fd, buf, n, flags);
    if (r >= 0 && sa != NULL && len != NULL) {
        int saved = errno;
        if (getaddr(fd, 1, sa, len) < 0) {
            *len = 0;
        }
        errno = saved;
    }
    return r;
}

/* ------------------------------------------------------ addresses --- */

in_addr_t inet_addr(const char *s) {
    struct in_addr a;
    return inet_aton(s, &a) ? a.s_addr : INADDR_NONE;
}

char *inet_ntoa(struct in_addr a) {
    static char buf[INET_ADDRSTRLEN];
    const unsigned char *b = (const unsigned char *)&a;
    snprintf(buf, sizeof buf, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    return buf;
}

/* ------------------------------------------------------- services --- */

/* The well-known services of Debian's /etc/services that clients name
   (a box may have no /etc/services). */
static const struct {
    const char *name;
    int port;
} services[] = {
    {"ftp", 21},        {"ssh", 22},       {"telnet", 23},  {"smtp", 25},       {"domain", 53},
    {"http", 80},       {"www", 80},       {"pop3", 110},   {"nntp", 119},      {"ntp", 123},
    {"imap2", 143},     {"imap", 143},     {"ldap", 389},   {"https", 443},     {"submissions", 465},
    {"submission", 587}, {"ldaps", 636},   {"imaps", 993},  {"pop3s", 995},     {"mysql", 3306},
    {"postgresql", 5432}, {"http-alt", 8080},
};
#define NSERVICES (sizeof services / sizeof services[0])

static const struct {
    const char *name;
    int proto;
} protocols[] = {{"ip", 0}, {"icmp", 1}, {"tcp", 6}, {"udp", 17}, {"ipv6", 41}};
#define NPROTOCOLS (sizeof protocols / sizeof protocols[0])

static int proto_ok(const char *proto) {
    return proto == NULL || strcmp(proto, "tcp") == 0 || strcmp(proto, "udp") == 0;
}

struct servent *getservbyname(const char *name, const char *proto) {
    static struct servent se;
    static char *aliases[1];
    if (name == NULL || !proto_ok(proto)) {
        return NULL;
    }
    for (size_t i = 0; i < NSERVICES; i++) {
        if (strcmp(services[i].name, name) == 0) {
            se.s_name = (char *)services[i].name;
            se.s_aliases = aliases;
            se.s_port = htons((uint16_t)services[i].port);
            se.s_proto = (char *)(proto != NULL ? proto : "tcp");
            return &se;
        }
    }
    return NULL;
}

struct servent *getservbyport(int port, const char *proto) {
    for (size_t i = 0; i < NSERVICES; i++) {
        if (htons((uint16_t)services[i].port) == (uint16_t)port) {
            return getservbyname(services[i].name, proto);
        }
    }
    return NULL;
}

struct protoent *getprotobyname(const char *name) {
    static struct protoent pe;
    static char *aliases[1];
    for (size_t i = 0; name != NULL && i < NPROTOCOLS; i++) {
        if (strcmp(protocols[i].name, name) == 0) {
            pe.p_name = (char *)protocols[i].name;
            pe.p_aliases = aliases;
            pe.p_proto = protocols[i].proto;
            return &pe;
        }
    }
    return NULL;
}

/* ------------------------------------------------------ resolving --- */

/* What the last failed getaddrinfo was told by the runner, for
   gai_strerror to add. */
static int gai_fail_code;
static char gai_fail_msg[256];

static const char *gai_text(int code) {
    switch (code) {
    case EAI_BADFLAGS: return "Bad value for ai_flags";
    case EAI_NONAME: return "Name or service not known";
    case EAI_AGAIN: return "Temporary failure in name resolution";
    case EAI_FAIL: return "Non-recoverable failure in name resolution";
    case EAI_NODATA: return "No address associated with hostname";
    case EAI_FAMILY: return "ai_family not supported";
    case EAI_SOCKTYPE: return "ai_socktype not supported";
    case EAI_SERVICE: return "Servname not supported for ai_socktype";
    case EAI_MEMORY: return "Memory allocation failure";
    case EAI_SYSTEM: return "System error";
    case EAI_OVERFLOW: return "Argument buffer overflow";
    }
    return "Unknown error";
}

const char *gai_strerror(int code) {
    static char buf[sizeof gai_fail_msg + 64];
    if (code != 0 && code == gai_fail_code && gai_fail_msg[0] != '\0') {
        snprintf(buf, sizeof buf, "%s (%s)", gai_text(code), gai_fail_msg);
        return buf;
    }
    return gai_text(code);
}

static int gai_fail(int code, int host) {
    gai_fail_code = code;
    gai_fail_msg[0] = '\0';
    if (host) {
        host_message(gai_fail_msg, sizeof gai_fail_msg);
    }
    return code;
}

/* A port from a service (a number, or a name of the table above). */
static int parse_service(const char *service, int flags, int *port) {
    *port = 0;
    if (service == NULL || service[0] == '\0') {
        return 0;
    }
    char *end;
    errno = 0;
    long p = strtol(service, &end, 10);
    if (*end == '\0' && errno == 0) {
        if (p < 0 || p > 65535) {
            return EAI_SERVICE;
        }
        *port = (int)p;
        return 0;
    }
    if (flags & AI_NUMERICSERV) {
        return EAI_NONAME;
    }
    struct servent *se = getservbyname(service, NULL);
    if (se == NULL) {
        return EAI_SERVICE;
    }
    *port = ntohs((uint16_t)se->s_port);
    return 0;
}

static int is_localhost(const char *name) {
    size_t n = strlen(name);
    if (n > 0 && name[n - 1] == '.') {
        n--;
    }
    if (n == 9 && strncasecmp(name, "localhost", 9) == 0) {
        return 1;
    }
    return n > 10 && strncasecmp(name + n - 10, ".localhost", 10) == 0;
}

static void loopback(struct rec *r, int fam) {
    memset(r, 0, sizeof *r);
    r->family = (uint16_t)fam;
    if (fam == FAM_V4) {
        r->addr[0] = 127;
        r->addr[3] = 1;
    } else {
        r->addr[15] = 1;
    }
}

/* A numeric host: IPv4 in inet_aton's forms, or IPv6 (a %scope is
   dropped: the box has no interfaces to name). 1 if node is one. */
static int numeric_host(const char *node, int family, struct rec *r, int *wrong_family) {
    struct in_addr a4;
    struct in6_addr a6;
    char buf[INET6_ADDRSTRLEN + 1];
    memset(r, 0, sizeof *r);
    *wrong_family = 0;
    if (inet_aton(node, &a4)) {
        if (family == AF_INET6) {
            *wrong_family = 1;
            return 0;
        }
        r->family = FAM_V4;
        memcpy(r->addr, &a4, 4);
        return 1;
    }
    const char *pct = strchr(node, '%');
    size_t n = pct != NULL ? (size_t)(pct - node) : strlen(node);
    if (n >= sizeof buf) {
        return 0;
    }
    memcpy(buf, node, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET6, buf, &a6) == 1) {
        if (family == AF_INET) {
            *wrong_family = 1;
            return 0;
        }
        r->family = FAM_V6;
        memcpy(r->addr, &a6, 16);
        return 1;
    }
    return 0;
}

#define AI_KNOWN (AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_V4MAPPED | AI_ALL | AI_ADDRCONFIG | AI_NUMERICSERV)

/* One result: the addrinfo with its address in one allocation. */
struct ai_block {
    struct addrinfo ai;
    struct sockaddr_storage ss;
};

int getaddrinfo(const char *__restrict node, const char *__restrict service,
                const struct addrinfo *__restrict hints, struct addrinfo **__restrict res) {
    int flags = 0, family = AF_UNSPEC, socktype = 0, protocol = 0;
    if (res == NULL) {
        return gai_fail(EAI_FAIL, 0);
    }
    *res = NULL;
    if (hints != NULL) {
        flags = hints->ai_flags;
        family = hints->ai_family;
        socktype = hints->ai_socktype;
        protocol = hints->ai_protocol;
    }
    if (node == NULL && service == NULL) {
        return gai_fail(EAI_NONAME, 0);
    }
    if (flags & ~AI_KNOWN) {
        return gai_fail(EAI_BADFLAGS, 0);
    }
    if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) {
        return gai_fail(EAI_FAMILY, 0);
    }
    if (socktype == 0) {
        socktype = SOCK_STREAM;
    }
    if (socktype != SOCK_STREAM && socktype != SOCK_DGRAM) {
        return gai_fail(EAI_SOCKTYPE, 0);
    }
    if (protocol == 0) {
        protocol = socktype == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
    }
    int port, e = parse_service(service, flags, &port);
    if (e != 0) {
        return gai_fail(e, 0);
    }

    struct rec addrs[MAX_ADDRS];
    uint32_t n = 0;
    int wrong_family = 0;
    if (node == NULL) {
        /* No host: the any address to bind, else loopback; IPv4 unless
           IPv6 is asked for (a server binds one socket, not two on the
           same published port). */
        int fam = family == AF_INET6 ? FAM_V6 : FAM_V4;
        if (flags & AI_PASSIVE) {
            memset(&addrs[0], 0, sizeof addrs[0]);
            addrs[0].family = (uint16_t)fam;
        } else {
            loopback(&addrs[0], fam);
        }
        n = 1;
    } else if (numeric_host(node, family, &addrs[0], &wrong_family)) {
        n = 1;
    } else if (wrong_family) {
        return gai_fail(EAI_NONAME, 0); /* glibc: EAI_ADDRFAMILY */
    } else if (flags & AI_NUMERICHOST) {
        return gai_fail(EAI_NONAME, 0);
    } else if (is_localhost(node)) {
        /* Loopback is answered in the box; one address, as for no host. */
        loopback(&addrs[0], family == AF_INET6 ? FAM_V6 : FAM_V4);
        n = 1;
    } else {
        size_t len = strlen(node);
        int fam = family == AF_INET ? FAM_V4 : family == AF_INET6 ? FAM_V6 : FAM_ANY;
        if (len == 0 || len > 1024) {
            return gai_fail(EAI_NONAME, 0);
        }
        e = net_resolve(node, (uint32_t)len, fam, addrs, MAX_ADDRS, &n);
        switch (e) {
        case 0:
            break;
        case ENOENT:
        case EINVAL:
            return gai_fail(EAI_NONAME, 1);
        case EAGAIN:
            return gai_fail(EAI_AGAIN, 1);
        default:
            return gai_fail(EAI_FAIL, 1);
        }
        if (n > MAX_ADDRS) {
            n = MAX_ADDRS;
        }
    }

    struct addrinfo *head = NULL, **tail = &head;
    for (uint32_t i = 0; i < n; i++) {
        struct rec r = addrs[i];
        if ((r.family != FAM_V4 && r.family != FAM_V6) ||
            (family == AF_INET && r.family != FAM_V4) || (family == AF_INET6 && r.family != FAM_V6)) {
            continue; /* not asked for, or not an address */
        }
        r.port = (uint16_t)port;
        struct ai_block *b = calloc(1, sizeof *b);
        if (b == NULL) {
            freeaddrinfo(head);
            return gai_fail(EAI_MEMORY, 0);
        }
        b->ai.ai_addrlen = from_rec(&r, &b->ss);
        b->ai.ai_addr = (struct sockaddr *)&b->ss;
        b->ai.ai_family = b->ss.ss_family;
        b->ai.ai_socktype = socktype;
        b->ai.ai_protocol = protocol;
        if (head == NULL && (flags & AI_CANONNAME)) {
            b->ai.ai_canonname = strdup(node != NULL ? node : "localhost");
            if (b->ai.ai_canonname == NULL) {
                free(b);
                return gai_fail(EAI_MEMORY, 0);
            }
        }
        *tail = &b->ai;
        tail = &b->ai.ai_next;
    }
    if (head == NULL) {
        return gai_fail(EAI_NONAME, 0);
    }
    *res = head;
    gai_fail_code = 0;
    return 0;
}

void freeaddrinfo(struct addrinfo *ai) {
    while (ai != NULL) {
        struct addrinfo *next = ai->ai_next;
        free(ai->ai_canonname);
        free(ai); /* the block: the addrinfo is its first member */
        ai = next;
    }
}

int getnameinfo(const struct sockaddr *__restrict sa, socklen_t salen, char *__restrict host,
                socklen_t hostlen, char *__restrict serv, socklen_t servlen, int flags) {
    struct rec r;
    int e = to_rec(sa, salen, &r);
    if (e == EAFNOSUPPORT) {
        return EAI_FAMILY;
    }
    if (e != 0) {
        return EAI_FAIL;
    }
    if (host != NULL && hostlen > 0) {
        /* Numeric only: the runner does not look addresses up. */
        if (flags & NI_NAMEREQD) {
            return EAI_NONAME;
        }
        char buf[INET6_ADDRSTRLEN];
        if (inet_ntop(r.family == FAM_V4 ? AF_INET : AF_INET6, r.addr, buf, sizeof buf) == NULL) {
            return EAI_FAIL;
        }
        if (strlen(buf) >= hostlen) {
            return EAI_OVERFLOW;
        }
        strcpy(host, buf);
    }
    if (serv != NULL && servlen > 0) {
        int n = snprintf(serv, servlen, "%u", (unsigned)r.port);
        if (n < 0 || (socklen_t)n >= servlen) {
            return EAI_OVERFLOW;
        }
    }
    return 0;
}

/* ------------------------------------------------- the old resolver --- */

int h_errno;

const char *hstrerror(int err) {
    switch (err) {
    case HOST_NOT_FOUND: return "Unknown host";
    case TRY_AGAIN: return "Host name lookup failure";
    case NO_RECOVERY: return "Unknown server error";
    case NO_DATA: return "No address associated with name";
    }
    return "Resolver internal error";
}

#define MAX_HOSTENT_ADDRS 16
static struct hostent he;
static char he_name[NI_MAXHOST + 1];
static char *he_aliases[1];
static char *he_list[MAX_HOSTENT_ADDRS + 1];
static unsigned char he_addrs[MAX_HOSTENT_ADDRS][16];

static struct hostent *fill_hostent(const char *name, int family) {
    snprintf(he_name, sizeof he_name, "%s", name);
    he.h_name = he_name;
    he.h_aliases = he_aliases;
    he.h_addrtype = family;
    he.h_length = family == AF_INET ? 4 : 16;
    he.h_addr_list = he_list;
    he_list[0] = NULL;
    return &he;
}

struct hostent *gethostbyname(const char *name) {
    struct addrinfo hints, *res, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (name == NULL) {
        h_errno = HOST_NOT_FOUND;
        return NULL;
    }
    int e = getaddrinfo(name, NULL, &hints, &res);
    if (e != 0) {
        h_errno = e == EAI_AGAIN ? TRY_AGAIN : HOST_NOT_FOUND;
        return NULL;
    }
    struct hostent *h = fill_hostent(name, AF_INET);
    int i = 0;
    for (ai = res; ai != NULL && i < MAX_HOSTENT_ADDRS; ai = ai->ai_next) {
        memcpy(he_addrs[i], &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
        he_list[i] = (char *)he_addrs[i];
        i++;
    }
    he_list[i] = NULL;
    freeaddrinfo(res);
    return h;
}

/* No reverse lookups: only loopback has a name (localhost). */
struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type) {
    static const unsigned char v6loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (addr != NULL && ((type == AF_INET && len == 4 && ((const unsigned char *)addr)[0] == 127) ||
                         (type == AF_INET6 && len == 16 && memcmp(addr, v6loop, 16) == 0))) {
        struct hostent *h = fill_hostent("localhost", type);
        memcpy(he_addrs[0], addr, len);
        he_list[0] = (char *)he_addrs[0];
        he_list[1] = NULL;
        return h;
    }
    h_errno = HOST_NOT_FOUND;
    return NULL;
}
