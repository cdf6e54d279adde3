/* notice_host.c - runs one notice page server for tests/bench/notice.sh until SIGTERM.
 *
 * Usage: notice_host ADDR      prints the port, then serves.
 * Built twice by notice.sh: against this tree (libmicrohttpd, proxy/daemon/notice_server.h) and,
 * with -DNOTICE_HOST_OLD, against the hand-written server of an older tree (notice_new ...
 * notice_run from proxy/enforce/notice.h). Same page settings for both. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef NOTICE_HOST_OLD
#include "proxy/enforce/notice.h"
#else
#include "proxy/daemon/notice_server.h"
#endif

static volatile int stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: notice_host ADDR\n");
        return 2;
    }
    struct notice_config cfg = { .url = "http://notice.example/blocked",
                                 .show_order = true,
                                 .contact = "call 1414",
                                 .max_connections = 4096 };
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
#ifdef NOTICE_HOST_OLD
    struct notice *n = notice_new(&cfg);
    if (!n || notice_listen(n, argv[1]) < 0)
        return 1;
    printf("%u\n", notice_port(n));
    fflush(stdout);
    notice_run(n, &stop);
    notice_free(n);
#else
    char err[256];
    struct notice_server *s = notice_server_new(&cfg, argv[1], NULL, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("%u\n", notice_server_port(s));
    fflush(stdout);
    while (!stop)
        pause();
    notice_server_free(s);
#endif
    return 0;
}
