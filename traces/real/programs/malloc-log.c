/* LD_PRELOAD logger of glibc's malloc family in mmtrace's canonical CSV (docs/trace-format.md).
   Every call the process makes, from its first, forwarded to glibc's own entry points
   (__libc_malloc, __libc_calloc, __libc_realloc, __libc_free, __libc_memalign; posix_memalign and
   aligned_alloc reach _mid_memalign in glibc 2.36 as __libc_memalign does). Writes MALLOC_LOG
   (default malloc-log.csv) with write(2) from a static buffer: the logger itself never allocates.
   gcc -O2 -shared -fPIC -o malloc-log.so malloc-log.c */
#define _GNU_SOURCE
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>
extern void *__libc_malloc(size_t); extern void __libc_free(void *); extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t); extern void *__libc_memalign(size_t, size_t);
extern char **environ;
static int fd = -1; static unsigned long seq; static char buf[1 << 16]; static size_t used;
static void flush(void) { if (used) { syscall(SYS_write, fd, buf, used); used = 0; } }
static void out(const char *s) { while (*s) { if (used == sizeof buf) flush(); buf[used++] = *s++; } }
static void hex(unsigned long v) { char t[24]; int n = 0; out("0x"); do { t[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v); char r[24]; for (int i = 0; i < n; i++) r[i] = t[n - 1 - i]; r[n] = 0; out(r); }
static void dec(unsigned long v) { char t[24]; int n = 0; do { t[n++] = '0' + v % 10; v /= 10; } while (v); char r[24]; for (int i = 0; i < n; i++) r[i] = t[n - 1 - i]; r[n] = 0; out(r); }
static const char *env(const char *k) { for (char **e = environ; e && *e; e++) { const char *a = *e, *b = k; while (*b && *a == *b) { a++; b++; } if (!*b && *a == '=') return a + 1; } return 0; }
static void open_log(void) { const char *p = env("MALLOC_LOG"); fd = syscall(SYS_open, p ? p : "malloc-log.csv", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  out("time_ns,cpu,pid,comm,op,address,size,old_address,result,order,migratetype,flags,prot,fd,call_site,cache\n"); }
__attribute__((destructor)) static void fin(void) { if (fd >= 0) flush(); }
/* time_ns is the call's sequence number (the log has no clock). */
static void rec(const char *op, void *addr, unsigned long size, void *old, int has_old, unsigned long align, int has_res, long res) {
  int e = errno; if (fd < 0) open_log();
  dec(++seq); out(",,1,malloc-paths,"); out(op); out(","); hex((unsigned long)addr); out(",");
  dec(size); out(","); if (has_old) hex((unsigned long)old); out(","); if (has_res) dec(res); out(",,,");
  if (align) hex(align); out(",,,,\n"); errno = e; }
void *malloc(size_t n) { void *r = __libc_malloc(n); rec("malloc", r, n, 0, 0, 0, 0, 0); return r; }
void *calloc(size_t a, size_t b) { void *r = __libc_calloc(a, b); rec("calloc", r, a * b, 0, 0, 0, 0, 0); return r; }
void free(void *p) { if (p) rec("free", p, 0, 0, 0, 0, 0, 0); __libc_free(p); }
void *realloc(void *p, size_t n) { void *r = __libc_realloc(p, n);
  if (p && n == 0) rec("free", p, 0, 0, 0, 0, 0, 0); else rec("realloc", r, n, p, 1, 0, 0, 0); return r; }
void *memalign(size_t a, size_t n) { void *r = __libc_memalign(a, n); rec("memalign", r, n, 0, 0, a, 0, 0); return r; }
void *aligned_alloc(size_t a, size_t n) { void *r = __libc_memalign(a, n); rec("aligned_alloc", r, n, 0, 0, a, 0, 0); return r; }
int posix_memalign(void **pp, size_t a, size_t n) { void *r = __libc_memalign(a, n); if (r) *pp = r;
  rec("posix_memalign", r, n, 0, 0, a, 1, r ? 0 : ENOMEM); return r ? 0 : ENOMEM; }
