/* guard.c - inputs placed against a PROT_NONE page (see guard.h). */
#include "tests/lib/guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *g_map;
static size_t g_map_len;

void guard_free(void)
{
    if (g_map != NULL)
        munmap(g_map, g_map_len);
    g_map = NULL;
    g_map_len = 0;
}

uint8_t *guard_copy(const void *buf, size_t len)
{
    guard_free();
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (len + page - 1) / page;
    if (data_pages == 0)
        data_pages = 1;
    g_map_len = (data_pages + 1) * page;
    g_map = mmap(NULL, g_map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g_map == MAP_FAILED) {
        perror("guard: mmap");
        abort();
    }
    uint8_t *guard = (uint8_t *)g_map + data_pages * page;
    if (mprotect(guard, page, PROT_NONE) != 0) {
        perror("guard: mprotect");
        abort();
    }
    uint8_t *p = guard - len;
    if (len > 0)
        memcpy(p, buf, len);
    return p;
}
