/* dnsstub.c - test helper: the loopback DNS server as a child process (see dnsstub.h). */
#include "tests/lib/dnsstub.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t dnsstub_start(const char *script, const char *zone, char *servers, size_t cap)
{
    servers[0] = '\0';
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execlp("python3", "python3", script ? script : "tests/tools/dnsstub.py", zone,
               (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    /* the port comes in one write, but a read may still return part of it */
    char line[32] = { 0 };
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(line) - 1 && !memchr(line, '\n', got) &&
           (n = read(p[0], line + got, sizeof(line) - 1 - got)) > 0)
        got += (size_t)n;
    close(p[0]);
    if (!memchr(line, '\n', got)) {
        dnsstub_stop(pid);
        return -1;
    }
    line[strcspn(line, "\n")] = '\0';
    snprintf(servers, cap, "127.0.0.1:%s", line);
    return pid;
}

void dnsstub_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}
