/* wasmbox: <arpa/inet.h> for wasm32-wasi, completed with the two
   functions wasi-libc leaves out (implemented in libwasmbox's net.c). */
#include_next <arpa/inet.h>

#ifndef WASMBOX_ARPA_INET_H
#define WASMBOX_ARPA_INET_H

#ifdef __cplusplus
extern "C" {
#endif

in_addr_t inet_addr(const char *);
char *inet_ntoa(struct in_addr);

#ifdef __cplusplus
}
#endif

#endif
