/* fuzz_report.c - libFuzzer target: everything a report reads that another program may have
 * written, and the renderers over it.
 *
 * One directory store is made per process with one order ("F-1", three resources) and a node.
 * An input is split at NUL bytes into up to six parts written as: the "verify", "risks" and
 * "fallback" documents (JSON, rules/report/report.c), the hits file, the evidence record and the
 * node's enforcement log (the directory store's line formats, rules/store/store_dir.c). Then the
 * report is built (a refusal must carry a message) and rendered as HTML, JSON and CSV; the JSON
 * must parse back and the HTML must not contain a raw "<script" from the inputs. */
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules/orders/order.h"
#include "rules/report/report_render.h"
#include "rules/store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[64];
static struct store *g_s;

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static void cleanup(void)
{
    store_free(g_s);
    nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void init(void)
{
    char err[512];
    snprintf(g_dir, sizeof(g_dir), "/tmp/qg-fuzz-report-%d", (int)getpid());
    g_s = store_open(g_dir, NULL, err, sizeof(err));
    if (!g_s)
        abort();
    atexit(cleanup);
    struct order *o = order_new();
    static const char *const res[] = { "casino.kz", "http://x.kz/a", "10.0.0.1" };
    if (!o || order_set(&o->id, "F-1", 3) || order_set(&o->issuer, "I", 1) ||
        order_set(&o->received, "2026-01-25T10:00:00+05:00", 25))
        abort();
    o->received_ts = 1769317200;
    for (size_t i = 0; i < 3; i++)
        if (order_add_resource(o, res[i], strlen(res[i]), NULL, false, err, sizeof(err)))
            abort();
    char *js = order_to_json(o);
    order_free(o);
    if (!js)
        abort();
    struct store_order so = { .id = "F-1", .record = js, .record_len = strlen(js) };
    struct store_change c = { .kind = STORE_CHANGE_IMPORT, .orders = &so, .n_orders = 1 };
    if (store_publish(g_s, &c, err, sizeof(err)) <= 0)
        abort();
    free(js);
    if (store_node_ack(g_s, "n1", 1, 1000, 600000, err, sizeof(err)) != 0)
        abort();
}

static void put_file(const char *rel, const uint8_t *b, size_t n)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", g_dir, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return;
    if (n && write(fd, b, n) < 0) {
        /* nothing: the report reads what is there */
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_s)
        init();
    const uint8_t *part[6] = { 0 };
    size_t plen[6] = { 0 }, np = 0, a = 0;
    for (size_t i = 0; i <= size && np < 6; i++)
        if (i == size || data[i] == 0) {
            part[np] = data + a;
            plen[np++] = i - a;
            a = i + 1;
        }
    char err[512];
    static const char *const kinds[3] = { "verify", "risks", "fallback" };
    for (size_t k = 0; k < 3; k++) {
        if (k < np)
            store_doc_put(g_s, kinds[k], "F-1", (const char *)part[k], plen[k], err, sizeof(err));
        else
            put_file(k == 0   ? "docs/verify/F-1"
                     : k == 1 ? "docs/risks/F-1"
                              : "docs/fallback/F-1",
                     NULL, 0);
    }
    put_file("hits/F-1", np > 3 ? part[3] : NULL, np > 3 ? plen[3] : 0);
    put_file("evidence/F-1", np > 4 ? part[4] : (const uint8_t *)"import 1 5\n",
             np > 4 ? plen[4] : 11);
    put_file("enforced/n1", np > 5 ? part[5] : (const uint8_t *)"1 1000\n", np > 5 ? plen[5] : 7);

    struct report *r = NULL;
    struct report_opts opt = { .now_ms = 1770000000000ull };
    err[0] = '\0';
    int rc = report_build(g_s, NULL, "F-1", &opt, &r, err, sizeof(err));
    if (rc != 0) {
        if (!err[0] || r)
            abort();
        return 0;
    }
    for (int f = 0; f < 3; f++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        if (!m)
            break;
        report_render(m, r, (enum report_format)f, (enum report_lang)(size % 3));
        fclose(m);
        if (f == REPORT_HTML && strstr(buf, "<script"))
            abort();
        if (f == REPORT_JSON) {
            json_error_t je;
            json_t *j = json_loadb(buf, len, 0, &je);
            if (!j)
                abort();
            json_decref(j);
        }
        free(buf);
    }
    report_free(r);
    return 0;
}
