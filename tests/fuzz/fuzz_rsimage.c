/* fuzz_rsimage.c - the rule set image reader (ruleset_image_open()) on arbitrary files.
 *
 * The input is sealed before it is opened: when it is long enough to have a header, the checksum
 * (XXH64) of its payload is written into the header, so the fuzzer gets past the checksum and explores
 * the checks behind it (a forged image); a bad checksum itself is covered by check_rsimage.
 * Properties: no crash, leak or read outside the mapping, whatever the file; a set that opens
 * answers queries and gives every entry's attributes. Seeds: tests/fuzz/corpus/rsimage (small
 * images written by ruleset_image_write()). */
#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xxhash.h>

#include "rules/match/ruleset.h"

#define HDR_SUM  48 /* rules/match/ruleset.c struct img_header: 8 bytes LE, 24 zero */
#define HDR_SIZE 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size ? size : 1);
    if (!b)
        return 0;
    memcpy(b, data, size);
    if (size >= HDR_SIZE) {
        uint64_t sum = htole64(XXH64(b + HDR_SIZE, size - HDR_SIZE, 0));
        memcpy(b + HDR_SUM, &sum, sizeof(sum));
        memset(b + HDR_SUM + sizeof(sum), 0, 32 - sizeof(sum));
    }
    int fd = memfd_create("rsimage", MFD_CLOEXEC);
    if (fd < 0 || write(fd, b, size) != (ssize_t)size) {
        if (fd >= 0)
            close(fd);
        free(b);
        return 0;
    }
    free(b);
    char path[64], err[512];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    uint64_t version = 0;
    struct ruleset *rs = ruleset_image_open(path, &version, err, sizeof(err));
    close(fd);
    if (!rs) {
        if (strncmp(err, "rules: ", 7) != 0)
            abort(); /* every refusal names the module and the file */
        return 0;
    }
    struct rule_match m;
    static const char *const hosts[] = { "ex.kz", "a.b.ex.kz", "h.kz", "2001:db8::1", "" };
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        size_t l = strlen(hosts[i]);
        ruleset_match_domain(rs, hosts[i], l, &m);
        ruleset_match_url(rs, hosts[i], l, "/p1?x=1", 7, &m);
        ruleset_match_url_host(rs, hosts[i], l, &m);
    }
    uint8_t a[16] = { 10, 1, 2, 3 };
    ruleset_match_ip(rs, 4, a, &m);
    ruleset_match_ip(rs, 6, a, &m);
    size_t n = ruleset_entry_count(rs);
    for (uint32_t e = 0; e < n && e < 256; e++) {
        const char *o[4];
        if (!ruleset_entry_text(rs, e) || !ruleset_entry_category(rs, e))
            abort();
        ruleset_entry_orders(rs, e, o, 4);
        ruleset_entry_kind(rs, e);
    }
    struct ruleset_stats st;
    ruleset_get_stats(rs, &st);
    if (st.version != version)
        abort();
    ruleset_free(rs);
    return 0;
}
