/* The hand-worked cases of tests/MmTrace.Tests/Sim/User/PtmallocTests.cs on the real glibc 2.36: each case
   runs in a fresh process and prints its pointers as offsets from the heap start (sbrk(0) before the
   first malloc), or the address for mmapped chunks. Output: malloc-cases.txt.
   gcc -O0 -o malloc-cases malloc-cases.c; for c in memalign consolidate remainder mmap fastbin realloc calloc prologue tcache-full grow trim; do setarch -R ./malloc-cases $c; done */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <unistd.h>
static char *h;
static unsigned long off(void *p) { return (unsigned long)((char *)p - h); }
int main(int argc, char **argv) {
  h = sbrk(0);
  unsigned long r[4] = {0};
  const char *c = argc > 1 ? argv[1] : "";
  void *keep;
  if (!strcmp(c, "memalign")) { r[0] = off(memalign(64, 100)); r[1] = off(malloc(8)); }
  if (!strcmp(c, "consolidate")) { void *p[9]; for (int i = 0; i < 9; i++) p[i] = malloc(0x70); for (int i = 0; i < 9; i++) free(p[i]);
    r[0] = off(p[7]); r[1] = off(malloc(0x500)); }
  if (!strcmp(c, "remainder")) { void *big = malloc(0x4f8); keep = malloc(0x18); free(big);
    r[0] = off(big); r[1] = off(malloc(0x100)); r[2] = off(malloc(0x100)); r[3] = off(malloc(0x100)); }
  if (!strcmp(c, "mmap")) { keep = malloc(1); void *big = malloc(200000); r[0] = (unsigned long)big; free(big); r[1] = off(malloc(200000)); }
  if (!strcmp(c, "fastbin")) { void *p[9]; for (int i = 0; i < 9; i++) p[i] = malloc(0x28); keep = malloc(0x28); for (int i = 0; i < 9; i++) free(p[i]);
    for (int i = 6; i >= 0; i--) keep = malloc(0x28); r[0] = off(p[8]); r[1] = off(malloc(0x28)); r[2] = off(p[7]); r[3] = off(malloc(0x28)); }
  if (!strcmp(c, "realloc")) { void *a = malloc(0x400); keep = malloc(0x18); r[0] = off(a); r[1] = off(realloc(a, 0x100)); r[2] = off(malloc(0x2f0)); }
  if (!strcmp(c, "calloc")) { void *a = malloc(0x18); keep = malloc(0x18); free(a); r[0] = off(a); r[1] = off(calloc(1, 0x18)); r[2] = off(malloc(0x18)); }
  /* sed's prologue (libselinux reading /proc/filesystems): tcache bins by size, then top past them */
  if (!strcmp(c, "prologue")) { void *a = malloc(0x1d8), *b = malloc(0x78), *d = malloc(0x400); free(b); free(d); free(a);
    r[0] = off(malloc(0x1d8)); r[1] = off(malloc(0x1d8)); r[2] = off(malloc(0x400)); r[3] = off(malloc(0x78)); }
  /* 8 frees of one size: 7 fill the tcache bin, the 8th goes to its fastbin; 8 mallocs take the tcache LIFO, then the fastbin */
  if (!strcmp(c, "tcache-full")) { void *p[8], *q[8]; for (int i = 0; i < 8; i++) p[i] = malloc(0x48); keep = malloc(0x18);
    for (int i = 0; i < 8; i++) free(p[i]); for (int i = 0; i < 8; i++) q[i] = malloc(0x48);
    r[0] = off(p[7]); r[1] = off(q[0]); r[2] = off(q[6]); r[3] = off(q[7]); }
  /* realloc growth: in place into top, then moved past a blocker (the old chunk to the tcache, reused) */
  if (!strcmp(c, "grow")) { void *a = malloc(0x20); r[0] = off(a); a = realloc(a, 0x100); r[1] = off(a); keep = malloc(0x18);
    r[2] = off(realloc(a, 0x400)); r[3] = off(malloc(0x100)); }
  /* large frees merge into top past the trim threshold: systrim gives back all but top_pad (break offsets) */
  if (!strcmp(c, "trim")) { void *l[4]; for (int i = 0; i < 4; i++) l[i] = malloc(0x10000); r[0] = off(sbrk(0));
    for (int i = 0; i < 4; i++) free(l[i]); r[1] = off(sbrk(0)); r[2] = off(malloc(0x18)); r[3] = off(malloc(0x20000)); }
  (void)keep;
  printf("%s:", c); for (int i = 0; i < 4; i++) printf(" %#lx", r[i]); printf("\n");
  return 0;
}
