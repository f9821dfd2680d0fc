/* A program that walks glibc malloc's other paths for mtrace recordings (traces/real/malloc-stress.mtrace.txt.gz):
   setlocale(LC_ALL, "") at start (run with LANG=C.UTF-8: the locale's names and archive lookups allocate); buffers
   grown by realloc from 16 bytes to 1 MiB (in place into top or a free neighbour, moved, then mmapped and mremapped);
   small blocks of mixed sizes freed in shuffled order (tcache bins fill, the rest go to fastbins and small bins, are
   stashed back and consolidated); large blocks freed so that they merge with top past the trim threshold (systrim);
   an mmapped block whose free raises the mmap threshold. A fixed xorshift generator: the same calls every run.
   gcc -O1 -o malloc-stress malloc-stress.c; LANG=C.UTF-8 malloc-prologue.sh malloc-stress -- ./malloc-stress */
#include <locale.h>
#include <stdlib.h>
#include <string.h>
static unsigned long s = 88172645463325252UL;
static unsigned long rnd(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s; }
int main(void) {
  setlocale(LC_ALL, "");
  /* realloc growth, four buffers interleaved with small allocations */
  char *buf[4] = {0}; size_t cap[4] = {0}; void *small[64] = {0};
  for (int round = 0; round < 40; round++)
    for (int b = 0; b < 4; b++) {
      size_t want = cap[b] ? cap[b] + cap[b] / 2 + 16 : 16;
      if (want > (1u << 20)) continue;
      buf[b] = realloc(buf[b], want); memset(buf[b] + cap[b], b, want - cap[b]); cap[b] = want;
      int k = rnd() % 64; free(small[k]); small[k] = malloc(8 + rnd() % 120);
    }
  for (int b = 0; b < 4; b++) free(buf[b]);
  /* mixed small sizes, freed in shuffled order, then reused */
  enum { N = 3000 }; static void *p[N];
  for (int round = 0; round < 6; round++) {
    for (int i = 0; i < N; i++) if (!p[i]) p[i] = malloc(1 + rnd() % (round & 1 ? 160 : 600));
    for (int i = 0; i < N; i++) { int j = rnd() % N; void *t = p[i]; p[i] = p[j]; p[j] = t; }
    for (int i = 0; i < N; i++) if (rnd() % 3) { free(p[i]); p[i] = 0; }
    void *big = malloc(2000 + rnd() % 3000); free(big); /* a large request consolidates the fastbins */
  }
  for (int i = 0; i < N; i++) { free(p[i]); p[i] = 0; }
  for (int i = 0; i < 64; i++) { free(small[i]); small[i] = 0; }
  /* large blocks: freed low to high they merge backwards into one free chunk, then into top, which is trimmed */
  for (int round = 0; round < 4; round++) {
    void *l[48];
    for (int i = 0; i < 48; i++) l[i] = malloc(8192 + (rnd() % 8) * 8192);
    for (int i = 0; i < 48; i += 2) free(l[i]);
    for (int i = 1; i < 48; i += 2) free(l[i]);
  }
  /* an mmapped block: its free raises the mmap threshold, so the next one comes from the heap */
  void *m = malloc(300000); memset(m, 1, 300000); free(m);
  m = malloc(300000); free(m);
  m = calloc(1, 200000); free(m);
  return 0;
}
