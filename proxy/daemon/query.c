/* query.c - one query judged against a rule set; the admin line protocol (see query.h). */
#include "proxy/daemon/query.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "common/jsonw.h"
#include "rules/match/normalize.h"

#define QUERY_ORDERS_MAX 64

enum query_line query_line_parse(const char *line, size_t len, const char **q, size_t *qlen,
                                 const char **why)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (len > QUERY_LINE_MAX) {
        *why = "line too long";
        return QUERY_LINE_BAD;
    }
    size_t a = 0, b = len;
    while (a < b && (line[a] == ' ' || line[a] == '\t'))
        a++;
    while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t'))
        b--;
    for (size_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c == 0x7f) {
            *why = "control byte in the query";
            return QUERY_LINE_BAD;
        }
    }
    if (a == b)
        return QUERY_LINE_EMPTY;
    *q = line + a;
    *qlen = b - a;
    return QUERY_LINE_OK;
}

size_t query_lines(const char *buf, size_t len, query_answer_fn fn, void *ctx, FILE *out)
{
    size_t answered = 0, start = 0;
    while (start < len) {
        const char *nl = memchr(buf + start, '\n', len - start);
        size_t ll = nl ? (size_t)(nl - (buf + start)) : len - start;
        const char *q = NULL, *why = NULL;
        size_t ql = 0;
        enum query_line ls = query_line_parse(buf + start, ll, &q, &ql, &why);
        if (ls == QUERY_LINE_OK) {
            fn(ctx, q, ql, out);
            answered++;
        } else if (ls == QUERY_LINE_BAD && ll > QUERY_LINE_MAX + 1) {
            fputs("{\"query\":null,\"error\":\"line too long\"}\n", out);
            answered++;
        } else if (ls == QUERY_LINE_BAD) {
            query_error(out, buf + start, ll, why);
            answered++;
        }
        start += ll + 1;
    }
    return answered;
}

void query_error(FILE *out, const char *q, size_t len, const char *why)
{
    fputs("{\"query\":", out);
    jsonw_str(out, q, len);
    fputs(",\"error\":", out);
    jsonw_cstr(out, why);
    fputs("}\n", out);
}

/* An address literal (IPv6 possibly in brackets) into dst; returns 4, 6 or 0. */
static int parse_ip(const char *s, size_t len, uint8_t dst[16])
{
    char tmp[64];
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(tmp))
        return 0;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    memset(dst, 0, 16);
    if (inet_pton(AF_INET, tmp, dst) == 1)
        return 4;
    if (inet_pton(AF_INET6, tmp, dst) == 1)
        return 6;
    return 0;
}

int query_judge(const struct ruleset *rs, const struct verdict_policy *pol, uint64_t version,
                const char *q, size_t len, FILE *out)
{
    struct verdict_facts f;
    memset(&f, 0, sizeof(f));
    uint8_t dst[16];
    char host[NORM_HOST_MAX];
    char path[NORM_PATH_MAX];
    size_t hlen = 0;
    enum norm_host_kind hk = NORM_HOST_NAME;
    int ipver = parse_ip(q, len, dst);
    if (ipver) {
        f.app = APP_UNKNOWN;
        f.ipver = ipver;
        f.dst = dst;
    } else {
        bool http = len > 7 && strncasecmp(q, "http://", 7) == 0;
        bool https = len > 8 && strncasecmp(q, "https://", 8) == 0;
        const char *h = q;
        size_t rest = len;
        if (http || https) {
            size_t skip = http ? 7 : 8;
            h = q + skip;
            rest = len - skip;
        }
        size_t hl = 0;
        while (hl < rest && h[hl] != '/' && h[hl] != '?' && h[hl] != '#')
            hl++;
        const char *p = h + hl;
        size_t pl = rest - hl;
        if (!http && !https && pl) {
            query_error(out, q, len, "not a name, an http(s):// URL or an address");
            return -EINVAL;
        }
        /* the port (not after an IPv6 literal's closing bracket) is not part of the name */
        size_t nl = hl;
        for (size_t i = hl; i > 0; i--) {
            if (h[i - 1] == ']')
                break;
            if (h[i - 1] == ':') {
                nl = i - 1;
                break;
            }
        }
        enum norm_status st = norm_host((const uint8_t *)h, nl, host, &hlen, &hk);
        if (st != NORM_OK) {
            query_error(out, q, len, norm_strerror(st));
            return -EINVAL;
        }
        f.name = host;
        f.name_len = hlen;
        f.app = http ? APP_HTTP : APP_TLS;
        if (hk != NORM_HOST_NAME) {
            f.name_is_ip = true;
            f.ipver = parse_ip(host, hlen, dst);
            f.dst = f.ipver ? dst : NULL;
        }
        if (http) {
            size_t plen = 0;
            st = norm_path((const uint8_t *)(pl ? p : "/"), pl ? pl : 1, path, sizeof(path), &plen);
            if (st != NORM_OK) {
                query_error(out, q, len, norm_strerror(st));
                return -EINVAL;
            }
            f.path = path;
            f.path_len = plen;
            f.path_visible = true;
        }
    }
    struct verdict_decision d;
    verdict_decide(rs, pol, &f, &d);
    fputs("{\"query\":", out);
    jsonw_str(out, q, len);
    fputs(",\"verdict\":", out);
    jsonw_cstr(out, verdict_name(d.verdict));
    fputs(",\"method\":", out);
    jsonw_cstr(out, verdict_method_name(d.method));
    fputs(",\"rule\":", out);
    if (d.entry != RULESET_NO_ENTRY) {
        jsonw_cstr(out, ruleset_entry_text(rs, d.entry));
        fputs(",\"orders\":[", out);
        const char *ids[QUERY_ORDERS_MAX];
        size_t n = ruleset_entry_orders(rs, d.entry, ids, QUERY_ORDERS_MAX);
        size_t shown = n < QUERY_ORDERS_MAX ? n : QUERY_ORDERS_MAX;
        for (size_t i = 0; i < shown; i++) {
            if (i)
                fputc(',', out);
            jsonw_cstr(out, ids[i]);
        }
        fputs("],\"category\":", out);
        const char *cat = ruleset_entry_category(rs, d.entry);
        jsonw_cstr(out, cat && cat[0] ? cat : NULL);
    } else {
        fputs("null,\"orders\":[],\"category\":null", out);
    }
    if (d.held_entry != RULESET_NO_ENTRY) { /* a shared resolved address its policy let pass */
        fputs(",\"held\":", out);
        jsonw_cstr(out, ruleset_entry_text(rs, d.held_entry));
    }
    fputs(",\"judged_as\":", out);
    jsonw_cstr(out, ipver ? "address" : verdict_app_name(f.app));
    fprintf(out, ",\"version\":%" PRIu64 "}\n", version);
    return 0;
}
