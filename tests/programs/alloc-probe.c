/* A program for the recording tests (tests/MmTrace.Tests/Ingest/Recording): a little of everything each recorder
 * sees — malloc, free, realloc, calloc (mtrace), brk and mmap/munmap (strace), page touches (faults, lackey) —
 * and an exit code from argv[1], so a test can check that it is reported. Runs in milliseconds, natively. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
    char *small[64];
    for (int i = 0; i < 64; i++) {
        small[i] = malloc(16 + i * 24);
        memset(small[i], i, 16 + i * 24);
    }
    for (int i = 0; i < 64; i += 2) free(small[i]);

    char *big = malloc(256 << 10); /* above the mmap threshold: an mmap of its own */
    memset(big, 1, 256 << 10);
    char *grown = realloc(small[1], 4000);
    grown[3999] = 1;
    int *zeroed = calloc(512, sizeof *zeroed);

    size_t len = 1 << 20;
    char *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return 99;
    for (size_t off = 0; off < len; off += 4096) map[off] = 1;
    munmap(map, len);

    free(zeroed);
    free(big);
    free(grown);
    for (int i = 3; i < 64; i += 2) free(small[i]);
    printf("alloc-probe: done\n");
    return argc > 1 ? atoi(argv[1]) : 0;
}
