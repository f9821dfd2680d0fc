/* mtrace logs as programs write them when they call mtrace() themselves: the log starts after the program
   has allocated, it has two = Start/= End sections with unlogged calls between them, and realloc shrinks
   blocks to size 0 (glibc 2.36 frees them: realloc(p, 0) logs "- p"). Deterministic: no input, no output.
   gcc -O1 -o mtrace-sections mtrace-sections.c
   MALLOC_TRACE=/dev/stdout LD_PRELOAD=libc_malloc_debug.so.0 setarch -R ./mtrace-sections | cat > mtrace-sections.mtrace.txt
   (a pipe, because each mtrace() reopens MALLOC_TRACE with "w": a file would keep only the last section).
   With -DWHOLE the program's mtrace()/muntrace() calls are left out and the log, started by libmtstart.so
   (mtrace-start.c) as for the other recordings, covers the whole run:
   gcc -O1 -DWHOLE -o mtrace-whole mtrace-sections.c
   MALLOC_TRACE=out LD_PRELOAD="libc_malloc_debug.so.0 ./libmtstart.so" setarch -R ./mtrace-whole */
#include <mcheck.h>
#include <stdlib.h>
#include <string.h>

#ifdef WHOLE
#define mtrace() ((void)0)
#define muntrace() ((void)0)
#endif

#define N 64
static void *keep[N];

static unsigned rng = 12345;
static unsigned next(void) { rng = rng * 1103515245u + 12345u; return (rng >> 8) & 0xffff; }

/* A fixed mix of malloc, calloc, realloc (growing, shrinking, to 0, from NULL) and free over keep[]. */
static void churn(int rounds) {
  for (int r = 0; r < rounds; r++) {
    int i = next() % N;
    size_t sz = 16 + next() % 600;
    switch (next() % 6) {
      case 0: free(keep[i]); keep[i] = malloc(sz); break;
      case 1: free(keep[i]); keep[i] = calloc(1, sz); break;
      case 2: keep[i] = realloc(keep[i], sz); break;
      case 3: keep[i] = realloc(keep[i], 0); break; /* NULL in: malloc(0); a block in: freed, NULL out */
      case 4: free(keep[i]); keep[i] = NULL; break;
      default: keep[i] = realloc(keep[i], sz * 3); break;
    }
    if (keep[i]) memset(keep[i], r, 8);
  }
}

int main(void) {
  /* Before the log: the program's own start-up allocations, some freed. */
  char *config = strdup("program configuration read before mtrace()");
  churn(200);

  mtrace(); /* = Start: the heap is already in use */
  free(config);          /* a free of a block allocated before the log */
  churn(400);
  void *big = malloc(200000); /* above the mmap threshold */
  big = realloc(big, 0);      /* freed by realloc to size 0 */
  muntrace(); /* = End */

  churn(200); /* not logged */

  mtrace(); /* = Start again */
  churn(400);
  for (int i = 0; i < N; i++) keep[i] = realloc(keep[i], 0);
  muntrace(); /* = End */
  return 0;
}
