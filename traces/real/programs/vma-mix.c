/* Exercises mmap placement paths of Linux 6.18 for mmtrace's process model: THP-aligned and unaligned
   anonymous mappings, holes, hints, MAP_FIXED_NOREPLACE, shared anonymous memory, MAP_STACK|MAP_GROWSDOWN,
   mremap shrink/grow/move, madvise, brk, and threads (glibc stacks). Run under setarch -R strace. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static void *worker(void *arg) { memset(arg, 1, 4096); return arg; }

int main(void)
{
    char *a = mmap(NULL, 2 << 20, RW, ANON, -1, 0);
    char *b = mmap(NULL, 3 << 20, RW, ANON, -1, 0);
    char *c = mmap(NULL, 4 << 20, RW, ANON, -1, 0);
    munmap(b + 16 * 4096, 16 * 4096);
    char *d = mmap(NULL, 8 * 4096, PROT_READ, ANON, -1, 0);
    char *e = mmap(NULL, 16 * 4096, PROT_READ, ANON, -1, 0);
    char *f = mmap((void *)0x600000000000, 4096, RW, ANON, -1, 0);
    char *g = mmap((void *)0x600000000000, 4096, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    char *h = mmap(NULL, 1 << 20, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    char *s = mmap(NULL, 64 << 10, RW, ANON | MAP_STACK | MAP_GROWSDOWN, -1, 0);
    char *i = mmap(NULL, 5 * 4096, RW, ANON, -1, 0);
    char *r = mremap(a, 2 << 20, 4 << 20, MREMAP_MAYMOVE);
    r = mremap(r, 4 << 20, 1 << 20, 0);
    char *r2 = mremap(d, 8 * 4096, 64 * 4096, MREMAP_MAYMOVE);
    char *r3 = mremap(i, 5 * 4096, 6 * 4096, 0);
    madvise(c, 4 << 20, MADV_HUGEPAGE);
    memset(c, 2, 4 << 20);
    madvise(c, 1 << 20, MADV_DONTNEED);
    mprotect(c + (1 << 20), 1 << 20, PROT_READ);
    char *big = malloc(300000);
    char *small = malloc(1000);
    free(big);
    pthread_t t1, t2;
    pthread_create(&t1, NULL, worker, h);
    pthread_create(&t2, NULL, worker, c);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    char *j = mmap(NULL, 6 << 20, RW, ANON, -1, 0);
    munmap(j, 6 << 20);
    char *k = mmap(NULL, 1 << 30, PROT_NONE, ANON | MAP_NORESERVE, -1, 0);
    (void)e; (void)f; (void)g; (void)s; (void)r2; (void)r3; (void)small; (void)k;
    return 0;
}
