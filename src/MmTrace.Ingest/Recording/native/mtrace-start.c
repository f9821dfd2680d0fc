/* libmtstart.so: starts glibc's mtrace() before main, for `mmtrace record --heap`.
 * Preloaded after libc_malloc_debug.so.0 (glibc >= 2.34 keeps mtrace there), with MALLOC_TRACE naming
 * the log. As traces/real/programs/mtrace-start.c, plus one thing: the variables are removed once the log
 * is open, so that child processes neither truncate the log (mtrace opens it with "w") nor interleave
 * their lines with this process's (an mtrace line carries no pid). Only the first process is traced. */
#include <mcheck.h>
#include <stdlib.h>

__attribute__((constructor)) static void start(void)
{
    mtrace();
    unsetenv("MALLOC_TRACE");
    unsetenv("LD_PRELOAD");
}
