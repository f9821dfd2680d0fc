/* Logs every call glibc's malloc receives *below* libc_malloc_debug, in mtrace's own format, to MALLOC_BELOW
   (default malloc-below.txt): placed after libc_malloc_debug.so.0 in LD_PRELOAD it defines __libc_malloc and friends,
   which the debug library calls, and forwards them to glibc's (dlsym RTLD_NEXT). Unlike the mtrace log it sees the
   calls made before mtrace() starts (library constructors, malloc's initialisation); malloc-prologue.sh keeps those as
   TRACE.malloc-prologue.txt for `mmtrace replay` (docs/user-malloc.md). Never allocates: write(2) from a static buffer.
   gcc -O2 -shared -fPIC -o malloc-below.so malloc-below.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>
extern char **environ;
static void *(*g_malloc)(size_t); static void (*g_free)(void *); static void *(*g_realloc)(void *, size_t);
static void *(*g_calloc)(size_t, size_t); static void *(*g_memalign)(size_t, size_t);
static int fd = -1; static char buf[1 << 16]; static size_t used;
static void flush(void) { if (used) { syscall(SYS_write, fd, buf, used); used = 0; } }
static void out(const char *s) { while (*s) { if (used == sizeof buf) flush(); buf[used++] = *s++; } }
static void hex(unsigned long v) { char t[24]; int n = 0; out("0x"); do { t[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v); char r[24]; for (int i = 0; i < n; i++) r[i] = t[n - 1 - i]; r[n] = 0; out(r); }
static const char *env(const char *k) { for (char **e = environ; e && *e; e++) { const char *a = *e, *b = k; while (*b && *a == *b) { a++; b++; } if (!*b && *a == '=') return a + 1; } return 0; }
static void init(void) {
  if (!g_malloc) { g_malloc = dlsym(RTLD_NEXT, "__libc_malloc"); g_free = dlsym(RTLD_NEXT, "__libc_free"); g_realloc = dlsym(RTLD_NEXT, "__libc_realloc");
    g_calloc = dlsym(RTLD_NEXT, "__libc_calloc"); g_memalign = dlsym(RTLD_NEXT, "__libc_memalign"); }
  if (fd < 0) { const char *p = env("MALLOC_BELOW"); fd = syscall(SYS_open, p ? p : "malloc-below.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644); out("= Start\n"); } }
__attribute__((destructor)) static void fin(void) { if (fd >= 0) flush(); }
static void plus(void *p, size_t n) { out("+ "); hex((unsigned long)p); out(" "); hex(n); out("\n"); }
void *__libc_malloc(size_t n) { init(); void *p = g_malloc(n); if (p) plus(p, n); return p; }
void *__libc_calloc(size_t a, size_t b) { init(); void *p = g_calloc(a, b); if (p) plus(p, a * b); return p; }
void *__libc_memalign(size_t a, size_t n) { init(); void *p = g_memalign(a, n); if (p) plus(p, n); return p; }
void __libc_free(void *p) { init(); if (p) { out("- "); hex((unsigned long)p); out("\n"); } g_free(p); }
void *__libc_realloc(void *o, size_t n) { init(); void *p = g_realloc(o, n);
  if (!o) { if (p) plus(p, n); }
  else if (n == 0) { out("- "); hex((unsigned long)o); out("\n"); }
  else if (p) { out("< "); hex((unsigned long)o); out("\n> "); hex((unsigned long)p); out(" "); hex(n); out("\n"); }
  return p; }
