/* fuzz_ipdrop.c - libFuzzer target: the kernel drop table's entry parser, reduction and scripts
 * (proxy/enforce/ipdrop.c) over arbitrary lines.
 *
 * Each line is parsed as an IP entry's text (lines before a "--" line go to list A, after it to
 * list B). Every parsed prefix must print back to a text that parses to the same prefix; each
 * reduced list must be in family order, hold no element inside another, and still cover every
 * prefix that was parsed into it; the difference A -> B must name only elements
 * of A as deletions and of B as additions, and what stays must count the same from both sides.
 * The whole input is also read as a netlink answer to the drop counter's request and as one
 * datagram of the set elements' dump (whatever they return, they may not read past the input). Nothing may over-read or leak. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/enforce/ipdrop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(const struct ipdrop_prefix *outer, const struct ipdrop_prefix *inner)
{
    if (outer->ver != inner->ver || inner->plen < outer->plen)
        return false;
    for (unsigned bit = 0; bit < outer->plen; bit++) {
        unsigned m = 0x80u >> (bit % 8);
        if ((outer->addr[bit / 8] & m) != (inner->addr[bit / 8] & m))
            return false;
    }
    return true;
}

static void check_reduced(const struct ipdrop_list *l, const struct ipdrop_list *raw)
{
    for (size_t i = 0; i < l->n; i++) {
        if (i < l->n4 ? l->p[i].ver != 4 : l->p[i].ver != 6)
            abort();
        for (size_t j = 0; j < l->n; j++)
            if (i != j && inside(&l->p[i], &l->p[j]))
                abort(); /* one element covers another */
    }
    for (size_t i = 0; i < raw->n; i++) {
        bool found = false;
        for (size_t j = 0; j < l->n && !found; j++)
            found = inside(&l->p[j], &raw->p[i]);
        if (!found)
            abort(); /* a parsed prefix lost */
    }
}

/* an element the dump parser gives: a whole key, flags as read */
static void elem_check(void *ctx, const struct ipdrop_elem *e)
{
    (void)ctx;
    if (e->klen != 4 && e->klen != 16)
        abort();
    if (!e->counted && (e->packets || e->bytes))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    {
        uint8_t *copy = malloc(size ? size : 1); /* exact size: ASan sees a read past it */
        if (!copy)
            return 0;
        memcpy(copy, data, size);
        uint64_t pk = 0, by = 0;
        uint32_t seq = size >= 12 ? (uint32_t)data[8] | (uint32_t)data[9] << 8 |
                                        (uint32_t)data[10] << 16 | (uint32_t)data[11] << 24
                                  : 0;
        int rc = ipdrop_counter_parse(copy, size, seq, &pk, &by);
        if (rc > 1)
            abort();
        rc = ipdrop_elems_parse(copy, size, seq, elem_check, NULL);
        if (rc > 1)
            abort();
        free(copy);
    }
    struct ipdrop_list a = { 0 }, b = { 0 }, ra = { 0 }, rb = { 0 };
    bool second = false;
    size_t pos = 0, lines = 0;
    while (pos < size && lines < 256) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - (data + pos)) : size - pos;
        char line[128];
        if (len < sizeof(line)) {
            memcpy(line, data + pos, len);
            line[len] = 0;
            struct ipdrop_prefix p;
            if (strcmp(line, "--") == 0) {
                second = true;
            } else if (ipdrop_parse(line, &p) == 0) {
                char back[64];
                struct ipdrop_prefix q;
                ipdrop_format(&p, back, sizeof(back));
                if (ipdrop_parse(back, &q) != 0 || memcmp(&p, &q, sizeof(p)) != 0)
                    abort(); /* printed text does not parse back */
                if (ipdrop_list_add(second ? &b : &a, &p) < 0 ||
                    ipdrop_list_add(second ? &rb : &ra, &p) < 0)
                    goto out;
            }
        }
        pos += len + 1;
        lines++;
    }
    ipdrop_list_reduce(&a);
    ipdrop_list_reduce(&b);
    check_reduced(&a, &ra);
    check_reduced(&b, &rb);
    char *s = NULL;
    size_t slen = 0;
    FILE *f = open_memstream(&s, &slen);
    if (f) {
        size_t removed = 0, added = 0;
        ipdrop_script_diff(f, "qorgau_ip", &a, &b, &removed, &added);
        ipdrop_script_create(f, "qorgau_ip", true, 0x10000, 0x40000, &b);
        fclose(f);
        if (removed > a.n || added > b.n)
            abort();
        size_t common = a.n - removed;
        if (b.n - added != common)
            abort(); /* what stays is the same from both sides */
    }
    free(s);
out:
    ipdrop_list_free(&a);
    ipdrop_list_free(&b);
    ipdrop_list_free(&ra);
    ipdrop_list_free(&rb);
    return 0;
}
