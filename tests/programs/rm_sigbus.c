/*
 * rm_sigbus: the program's own SIGBUS handler must still fire for faults in
 * the program's own mappings while the shim guards its copies.
 *
 *   rm_sigbus FILE sigaction|signal|default
 *
 * Reads FILE (so read->mmap converts and installs its guard), installs its
 * handler (sigaction or signal; none for "default"), maps a scratch file,
 * truncates it and touches the page beyond the end.  The handler prints and
 * leaves with siglongjmp; "default" must die of SIGBUS.  Then it reads FILE
 * once more (the guard still works) and prints the result.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf jb;
static volatile sig_atomic_t fired;
static void on_bus(int sig) {
  (void)sig;
  fired++;
  siglongjmp(jb, 1);
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  char buf[4096];
  int fd = open(argv[1], O_RDONLY);
  printf("read -> %zd\n", read(fd, buf, sizeof buf));
  if (strcmp(argv[2], "sigaction") == 0) {
    struct sigaction a, old;
    memset(&a, 0, sizeof a);
    a.sa_handler = on_bus;
    sigaction(SIGBUS, &a, &old);
    struct sigaction now;
    sigaction(SIGBUS, NULL, &now);
    printf("sigaction reports our handler: %d\n", now.sa_handler == on_bus);
  } else if (strcmp(argv[2], "signal") == 0) {
    signal(SIGBUS, on_bus);
  }
  char scratch[4200];
  snprintf(scratch, sizeof scratch, "%s.scratch", argv[1]);
  int s = open(scratch, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (s < 0 || ftruncate(s, 8192) != 0) return 1;
  volatile char *m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, s, 0);
  if (m == MAP_FAILED) return 1;
  if (ftruncate(s, 0) != 0) return 1;
  fflush(stdout);
  if (sigsetjmp(jb, 1) == 0) {
    char c = m[4096];
    printf("no fault (%d)\n", c);
  }
  printf("handler fired %d time(s)\n", (int)fired);
  printf("read again -> %zd\n", read(fd, buf, sizeof buf));
  unlink(scratch);
  return 0;
}
