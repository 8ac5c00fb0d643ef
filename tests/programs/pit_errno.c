/*
 * pit_errno: errno, EINTR and cancellation through the wrappers, for
 * tests/integration/pitfall_errno.sh (PITFALLS 12).  Prints one line per
 * check; the script compares the whole output with and without the shim
 * and also checks the expected values.
 *
 * Usage: pit_errno FILE
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#define SENTINEL 4242

static const char *ename(int e) {
  switch (e) {
    case SENTINEL: return "SENTINEL";
    case 0: return "0";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    default: return strerror(e);
  }
}

#define AFTER_SUCCESS(name, expr)                             \
  do {                                                        \
    errno = SENTINEL;                                         \
    int ok_ = (expr);                                         \
    printf("%-24s ok=%d errno=%s\n", name, ok_, ename(errno)); \
  } while (0)

#define FAILING(name, expr)                                        \
  do {                                                             \
    errno = SENTINEL;                                              \
    long r_ = (long)(expr);                                        \
    printf("%-24s r=%ld errno=%s\n", name, r_, ename(errno));      \
  } while (0)

/* Kept out of the compiler's sight so it does not warn about, or fold, the deliberate misuse. */
static void *volatile bad_pointer = (void *)16;
static volatile size_t huge = (size_t)-1 / 2;

static void on_alarm(int sig) { (void)sig; }

static int pipe_fds[2];
static volatile int cleanup_ran;
static void cleanup(void *arg) {
  (void)arg;
  cleanup_ran = 1;
}
static void *blocked_reader(void *arg) {
  (void)arg;
  char c;
  pthread_cleanup_push(cleanup, NULL);
  for (;;) read(pipe_fds[0], &c, 1); /* never returns data: nobody writes */
  pthread_cleanup_pop(0);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  const char *path = argv[1];
  setvbuf(stdout, NULL, _IOLBF, 0);
  char buf[4096];
  int fd = -1;
  FILE *fp = NULL;
  void *p = NULL;

  /* errno is unchanged by calls that succeed. */
  AFTER_SUCCESS("open", (fd = open(path, O_RDONLY)) >= 0);
  AFTER_SUCCESS("read", read(fd, buf, 100) == 100);
  AFTER_SUCCESS("pread", pread(fd, buf, 100, 50) == 100);
  AFTER_SUCCESS("lseek", lseek(fd, 10, SEEK_SET) == 10);
  AFTER_SUCCESS("read_to_eof", ({ while (read(fd, buf, sizeof buf) > 0) {} 1; }));
  void *m = NULL;
  AFTER_SUCCESS("mmap", (m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0)) != MAP_FAILED);
  AFTER_SUCCESS("munmap", munmap(m, 4096) == 0);
  AFTER_SUCCESS("dup2", dup2(fd, 100) == 100);
  AFTER_SUCCESS("close_dup", close(100) == 0);
  AFTER_SUCCESS("close", close(fd) == 0);
  AFTER_SUCCESS("malloc", (p = malloc(1000)) != NULL);
  AFTER_SUCCESS("realloc", (p = realloc(p, 100000)) != NULL);
  AFTER_SUCCESS("free", (free(p), 1));
  AFTER_SUCCESS("calloc", (p = calloc(10, 10)) != NULL);
  free(p);
  AFTER_SUCCESS("fopen", (fp = fopen(path, "r")) != NULL);
  AFTER_SUCCESS("fread", fread(buf, 1, 100, fp) == 100);
  AFTER_SUCCESS("fgets", fgets(buf, 50, fp) != NULL);
  AFTER_SUCCESS("fseek", fseek(fp, 0, SEEK_SET) == 0);
  AFTER_SUCCESS("fclose", fclose(fp) == 0);

  /* Failures carry the kernel's errno, exactly. */
  fd = open(path, O_RDONLY);
  close(fd);
  FAILING("read_closed_fd", read(fd, buf, 10));
  FAILING("pread_closed_fd", pread(fd, buf, 10, 0));
  FAILING("lseek_closed_fd", lseek(fd, 0, SEEK_CUR));
  FAILING("close_closed_fd", close(fd));
  fd = open(path, O_RDONLY);
  FAILING("read_bad_pointer", read(fd, bad_pointer, 10));
  FAILING("pread_bad_pointer", pread(fd, bad_pointer, 10, 0));
  FAILING("lseek_bad_whence", lseek(fd, 0, 12345));
  close(fd);
  FAILING("open_missing", open("/nonexistent/pit_errno", O_RDONLY));
  FAILING("fopen_missing", fopen("/nonexistent/pit_errno", "r") != NULL);
  FAILING("openat_missing", openat(AT_FDCWD, "/nonexistent/pit_errno", O_RDONLY));
  FAILING("mmap_bad_fd", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 999, 0) == MAP_FAILED);
  FAILING("malloc_huge", malloc(huge) != NULL);
  FAILING("calloc_overflow", calloc(huge, 4) != NULL);

  /* EINTR passes through: a blocking pipe read interrupted by a handler without SA_RESTART. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  if (pipe(pipe_fds) != 0) return 3;
  struct itimerval it = {{0, 0}, {0, 100000}};
  setitimer(ITIMER_REAL, &it, NULL);
  FAILING("read_interrupted", read(pipe_fds[0], buf, 1));

  /* read stays a cancellation point. */
  pthread_t th;
  pthread_create(&th, NULL, blocked_reader, NULL);
  usleep(100000);
  pthread_cancel(th);
  void *res = NULL;
  int j = pthread_join(th, &res);
  printf("%-24s join=%d canceled=%d cleanup=%d\n", "cancel_blocked_read", j, res == PTHREAD_CANCELED, cleanup_ran);
  return 0;
}
