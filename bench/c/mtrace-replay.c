/* Replays an mtrace log (glibc's format, gunzipped) through this process's own malloc, free and realloc: the peer of
   the ptmalloc model's in-process loop (`dotnet run -c Release --project bench/MmTrace.Bench -- user-loop LOG N`). The
   log is parsed into arrays first; each round then runs every call, with recorded pointers mapped to the live ones by
   an open-addressing table (as the model's replay maps them), and frees what is left before the next round.
   Prints events per second of the best round, of all rounds by wall clock, and per CPU-second of the rounds.
   gcc -O2 -o mtrace-replay mtrace-replay.c; ./mtrace-replay LOG ROUNDS */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MALLOC, FREE, REALLOC };
typedef struct { unsigned char op; unsigned long addr, old, size; } Call;
static Call *calls; static size_t ncalls, capcalls;

/* recorded pointer -> live pointer: linear probing, deletion by backward shift (no tombstones) */
static unsigned long *keys; static void **vals; static size_t cap;
static size_t slot(unsigned long k) { return (size_t)((k >> 4) * 0x9E3779B97F4A7C15UL >> 20) & (cap - 1); }
static void put(unsigned long k, void *v) {
  size_t i = slot(k);
  while (keys[i] != 0 && keys[i] != k) i = (i + 1) & (cap - 1);
  keys[i] = k; vals[i] = v;
}
static void *take(unsigned long k) {
  size_t i = slot(k);
  while (keys[i] != k) { if (keys[i] == 0) return NULL; i = (i + 1) & (cap - 1); }
  void *v = vals[i];
  for (size_t j = (i + 1) & (cap - 1); keys[j] != 0; j = (j + 1) & (cap - 1)) {
    size_t h = slot(keys[j]);
    /* move j back to the hole i when its home is not in (i, j] */
    if (((j - h) & (cap - 1)) >= ((j - i) & (cap - 1))) { keys[i] = keys[j]; vals[i] = vals[j]; i = j; }
  }
  keys[i] = 0;
  return v;
}

static void add(unsigned char op, unsigned long addr, unsigned long old, unsigned long size) {
  if (ncalls == capcalls) { capcalls = capcalls ? capcalls * 2 : 4096; calls = realloc(calls, capcalls * sizeof *calls); }
  calls[ncalls++] = (Call){op, addr, old, size};
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: %s MTRACE-LOG [ROUNDS]\n", argv[0]); return 2; }
  FILE *f = fopen(argv[1], "r");
  if (!f) { perror(argv[1]); return 2; }
  int rounds = argc > 2 ? atoi(argv[2]) : 20;
  char line[4096]; unsigned long pendingOld = 0;
  while (fgets(line, sizeof line, f)) {
    char *p = line;
    if (p[0] == '@') { p = strchr(p + 2, ' '); if (!p) continue; p++; }
    unsigned long a = 0, s = 0;
    if (p[0] == '+' && sscanf(p + 2, "%lx %lx", &a, &s) == 2) add(MALLOC, a, 0, s);
    else if (p[0] == '-' && sscanf(p + 2, "%lx", &a) == 1) add(FREE, a, 0, 0);
    else if (p[0] == '<' && sscanf(p + 2, "%lx", &a) == 1) pendingOld = a;
    else if (p[0] == '>' && sscanf(p + 2, "%lx %lx", &a, &s) == 2) { add(REALLOC, a, pendingOld, s); pendingOld = 0; }
  }
  fclose(f);
  for (cap = 1024; cap < ncalls * 2; cap <<= 1) {}
  keys = calloc(cap, sizeof *keys); vals = calloc(cap, sizeof *vals);
  double best = 1e30, total = 0, cpu = 0;
  for (int r = 0; r < rounds; r++) {
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < ncalls; i++) {
      Call c = calls[i];
      if (c.op == MALLOC) { void *m = malloc(c.size); put(c.addr, m); }
      else if (c.op == FREE) free(take(c.addr));
      else { void *o = c.old ? take(c.old) : NULL; put(c.addr, realloc(o, c.size)); }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    cpu += (c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9;
    double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    total += s; if (s < best) best = s;
    for (size_t i = 0; i < cap; i++) { if (keys[i]) free(vals[i]); keys[i] = 0; }
  }
  /* On a shared machine the CPU-time figure is the steadier one (the user-loop prints the same three figures). */
  printf("%s: %zu events, best round %.2f M events/s, mean %.2f M events/s wall, %.2f M events/s per CPU-second (%d rounds)\n",
         argv[1], ncalls, ncalls / best / 1e6, ncalls * rounds / total / 1e6, ncalls * rounds / cpu / 1e6, rounds);
  return 0;
}
