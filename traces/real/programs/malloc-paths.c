/* Exercises every path of glibc malloc with a fixed pseudo-random sequence (xorshift64):
   small and medium churn (tcache, fastbins, small/large bins, consolidation), calloc, the memalign
   family, realloc up and down, requests past the mmap threshold (mmap, mremap, the dynamic
   threshold) and frees that trim the heap. gcc -O1 -o malloc-paths malloc-paths.c */
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <malloc.h>
static uint64_t s = 88172645463325252ULL;
static uint64_t rnd(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s; }
static size_t size(void) {
  uint64_t r = rnd() % 1000;
  if (r < 700) return 1 + rnd() % 256;          /* tcache and fastbin sizes */
  if (r < 930) return 256 + rnd() % 1800;       /* small and large bins */
  if (r < 995) return 2048 + rnd() % 30000;     /* large bins */
  return 100000 + rnd() % 400000;               /* around the mmap threshold */
}
#define N 2048
static void *slot[N];
int main(void) {
  for (int i = 0; i < 36000; i++) {
    int k = rnd() % N;
    if (slot[k]) {
      if (rnd() % 6 == 0) { void *p = realloc(slot[k], size()); if (p) slot[k] = p; }
      else { free(slot[k]); slot[k] = 0; }
    } else {
      switch (rnd() % 20) {
      case 0: slot[k] = calloc(1 + rnd() % 8, 1 + rnd() % 128); break;
      case 1: { void *p; if (posix_memalign(&p, (size_t)32 << (rnd() % 6), size()) == 0) slot[k] = p; break; }
      case 2: { size_t a = (size_t)64 << (rnd() % 4); slot[k] = aligned_alloc(a, (size() + a - 1) / a * a); break; }
      case 3: slot[k] = memalign((size_t)16 << (rnd() % 8), size()); break;
      default: slot[k] = malloc(size()); break;
      }
      if (slot[k]) memset(slot[k], 1, 1);
    }
    if (i % 9000 == 8999) for (int j = 0; j < N; j++) if (j % 3) { free(slot[j]); slot[j] = 0; }
  }
  for (int j = 0; j < N; j++) free(slot[j]);
  return 0;
}
