/*
 * pit_exec: every way of starting a program, for
 * tests/integration/pitfall_exec.sh (PITFALLS 9 and 10).
 *
 * Usage: pit_exec MODE DATA TAG
 *   child      read DATA, print "child TAG read=N mmhint=yes|no jemalloc=yes|no"
 *              (whether those libraries are mapped in this process), exit 0
 *   execl execlp execle execv execvp execvpe fexecve execve
 *              read DATA, then replace this image with "pit_exec child DATA TAG"
 *              (execlp/execvp/execvpe find "pit_exec" through PATH)
 *   posix_spawn system popen
 *              read DATA, start "pit_exec child DATA TAG" that way, wait, exit 0
 *   envi       read DATA, exec "env -i pit_exec child DATA TAG" (no LD_PRELOAD)
 *   failexec   read DATA, execv a path that does not exist, print the errno, exit 0
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static long read_all(const char *path) {
  char buf[4096];
  long total = 0;
  ssize_t r;
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  while ((r = read(fd, buf, sizeof buf)) > 0) total += r;
  close(fd);
  return total;
}

static const char *mapped(const char *needle) {
  FILE *fp = fopen("/proc/self/maps", "r");
  char line[4096];
  int found = 0;
  while (fp && fgets(line, sizeof line, fp))
    if (strstr(line, needle)) found = 1;
  if (fp) fclose(fp);
  return found ? "yes" : "no";
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: pit_exec MODE DATA TAG\n");
    return 2;
  }
  const char *mode = argv[1], *data = argv[2], *tag = argv[3];
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 2;
  self[n] = '\0';
  long got = read_all(data);
  if (!strcmp(mode, "child")) {
    printf("child %s read=%ld mmhint=%s jemalloc=%s\n", tag, got, mapped("libmmhint"), mapped("libjemalloc"));
    return 0;
  }
  char *args[] = {"pit_exec", "child", (char *)data, (char *)tag, NULL};
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "'%s' child '%s' '%s'", self, data, tag);
  fflush(stdout);
  if (!strcmp(mode, "execl")) execl(self, "pit_exec", "child", data, tag, (char *)NULL);
  else if (!strcmp(mode, "execlp")) execlp("pit_exec", "pit_exec", "child", data, tag, (char *)NULL);
  else if (!strcmp(mode, "execle")) execle(self, "pit_exec", "child", data, tag, (char *)NULL, environ);
  else if (!strcmp(mode, "execv")) execv(self, args);
  else if (!strcmp(mode, "execvp")) execvp("pit_exec", args);
  else if (!strcmp(mode, "execvpe")) execvpe("pit_exec", args, environ);
  else if (!strcmp(mode, "execve")) execve(self, args, environ);
  else if (!strcmp(mode, "fexecve")) {
    int fd = open(self, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) fexecve(fd, args, environ);
  } else if (!strcmp(mode, "envi")) {
    execl("/usr/bin/env", "env", "-i", self, "child", data, tag, (char *)NULL);
  } else if (!strcmp(mode, "posix_spawn")) {
    pid_t pid;
    int e = posix_spawn(&pid, self, NULL, NULL, args, environ);
    int st = -1;
    if (e == 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    fprintf(stderr, "posix_spawn: error %d status 0x%x\n", e, st);
    return 1;
  } else if (!strcmp(mode, "system")) {
    int st = system(cmd);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
  } else if (!strcmp(mode, "popen")) {
    FILE *fp = popen(cmd, "r");
    if (!fp) return 1;
    char line[4096];
    while (fgets(line, sizeof line, fp)) fputs(line, stdout);
    return pclose(fp) == 0 ? 0 : 1;
  } else if (!strcmp(mode, "failexec")) {
    execv("/nonexistent/pit_exec", args);
    printf("failexec read=%ld errno=%s\n", got, errno == ENOENT ? "ENOENT" : strerror(errno));
    return 0;
  } else {
    fprintf(stderr, "pit_exec: unknown mode %s\n", mode);
    return 2;
  }
  fprintf(stderr, "pit_exec: %s failed: %s\n", mode, strerror(errno));
  return 1;
}
