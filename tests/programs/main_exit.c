/*
 * tests/programs/main_exit.c: a program whose main thread ends with
 * pthread_exit while a worker goes on (some servers and thread pools end
 * main that way); the process ends, with status 0, when the worker returns.
 *
 *   main_exit MS FILE   the worker sleeps MS milliseconds, reads FILE,
 *                       prints "worker done N" (bytes read) and returns
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long ms;
static const char *path;

static void *worker(void *arg) {
  (void)arg;
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
  char buf[4096];
  long total = 0;
  int fd = open(path, O_RDONLY);
  if (fd >= 0) {
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) total += n;
    close(fd);
  }
  printf("worker done %ld\n", total);
  fflush(stdout);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: main_exit MS FILE\n");
    return 2;
  }
  ms = strtol(argv[1], NULL, 10);
  path = argv[2];
  pthread_t t;
  if (pthread_create(&t, NULL, worker, NULL) != 0) return 1;
  puts("main exits");
  fflush(stdout);
  pthread_exit(NULL);
}
