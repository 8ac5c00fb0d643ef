/*
 * pit_forkstorm: fork while other threads hold locks, for
 * tests/integration/pitfall_fork_threads.sh (PITFALLS 8).
 *
 * Usage: pit_forkstorm FILE CHILDFILE THREADS FORKS
 * THREADS threads loop over read/pread/malloc/free/mmap/munmap/fopen/fread
 * on FILE while the main thread forks FORKS times; each child allocates,
 * opens CHILDFILE, reads it once (4096 bytes), and _exits 0 when all went
 * well.  Prints "children N ok M" and exits 0 when every child exited 0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *file;
static volatile int stop;

static void *worker(void *arg) {
  unsigned i = (unsigned)(long)arg;
  char buf[8192];
  while (!stop) {
    int fd = open(file, O_RDONLY);
    if (fd >= 0) {
      if (read(fd, buf, sizeof buf) < 0) abort();
      if (pread(fd, buf, 1000, 5000) < 0) abort();
      void *m = mmap(NULL, 16384, PROT_READ, MAP_PRIVATE, fd, 0);
      if (m != MAP_FAILED) munmap(m, 16384);
      close(fd);
    }
    void *a = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a != MAP_FAILED) munmap(a, 65536);
    char *p = malloc(100 + (i++ % 50000));
    if (p) p[0] = 1;
    free(p);
    FILE *fp = fopen(file, "r");
    if (fp) {
      if (fread(buf, 1, 3000, fp) == 0) abort();
      fclose(fp);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) return 2;
  file = argv[1];
  const char *child_file = argv[2];
  int nthreads = atoi(argv[3]), nforks = atoi(argv[4]);
  pthread_t th[64];
  if (nthreads > 64) nthreads = 64;
  for (int i = 0; i < nthreads; i++)
    if (pthread_create(&th[i], NULL, worker, (void *)(long)i) != 0) return 3;
  int ok = 0;
  for (int i = 0; i < nforks; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      break;
    }
    if (pid == 0) {
      char *p = malloc(10000);
      if (!p) _exit(10);
      memset(p, 2, 10000);
      int fd = open(child_file, O_RDONLY);
      if (fd < 0) _exit(11);
      if (read(fd, p, 4096) != 4096) _exit(12);
      free(p);
      _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0) ok++;
    else fprintf(stderr, "child %d: status 0x%x\n", i, st);
  }
  stop = 1;
  for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
  printf("children %d ok %d\n", nforks, ok);
  return ok == nforks ? 0 : 1;
}
