/* The main thread leaves first (pthread_exit), a second thread exits last: release_task() of
 * that thread reaps the zombie leader and signals the parent after the thread's own pid is
 * unhashed, so the kernel's trace events there carry no pid (perf prints ":-1 -1"). */
#include <pthread.h>
#include <unistd.h>

static void *late(void *arg)
{
	(void)arg;
	usleep(2000);
	return NULL;
}

int main(void)
{
	pthread_t t;
	pthread_create(&t, NULL, late, NULL);
	pthread_exit(NULL);
}
