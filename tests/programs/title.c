/*
 * tests/programs/title.c: programs that do what servers do to their process
 * identity, run under the shim by tests/integration/stats_names.sh.
 *
 *   title rewrite FILE PAD...  reads FILE, then rewrites its argv in place into
 *                              a title with '/', spaces and more bytes than
 *                              argv[0] had (as nginx and PostgreSQL do), exits
 *   title fork FILE MS         sleeps MS ms, forks; the child reads FILE and
 *                              exits at once; the parent waits for it
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void read_all(const char *path) {
  char buf[4096];
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    perror(path);
    exit(2);
  }
  while (read(fd, buf, sizeof buf) > 0) {
  }
  close(fd);
}

int main(int argc, char **argv) {
  if (argc >= 4 && !strcmp(argv[1], "rewrite")) {
    read_all(argv[2]);
    /* The argv strings are contiguous: the title may use all of them. */
    char *start = argv[0], *end = argv[argc - 1] + strlen(argv[argc - 1]);
    const char *title = "title: master process /usr/sbin/title -c /etc/title/title.conf";
    size_t room = (size_t)(end - start);
    size_t n = strlen(title) < room ? strlen(title) : room;
    memcpy(start, title, n);
    memset(start + n, 0, room - n + 1);
    printf("%s\n", start);
    return 0;
  }
  if (argc == 4 && !strcmp(argv[1], "fork")) {
    struct timespec ts = {atoi(argv[3]) / 1000, (long)(atoi(argv[3]) % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    pid_t pid = fork();
    if (pid == 0) {
      read_all(argv[2]);
      return 0;
    }
    int st;
    waitpid(pid, &st, 0);
    printf("child %d\n", (int)pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
  }
  fprintf(stderr, "usage: title rewrite FILE PAD... | title fork FILE MS\n");
  return 2;
}
