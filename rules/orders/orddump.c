/* orddump.c - registry dump.xml into records, and the delta of two dumps (see orddump.h).
 *
 * expat reads the file as a stream of events and the records are built as they go: nothing of
 * the document is kept but the <content> being read and the line of each record. Names are
 * compared by their local part (XML_ParserCreateNS), so the registry's
 * <reg:register xmlns:reg="..."> is a <register>.
 *
 * Entities: a document type declaration stops the parser at its start (the start-doctype
 * handler runs before the first declaration of an internal subset is read), so no entity is
 * ever declared, let alone expanded; parameter entities are never parsed and no external
 * entity handler is set, so nothing but the buffer is ever read; a reference to an undeclared
 * entity is a well-formedness error.
 *
 * Encodings: expat's own (UTF-8, UTF-16, ISO-8859-1, US-ASCII) and windows-1251, a single-byte
 * encoding given to expat as a table (XML_SetUnknownEncodingHandler); any other is refused by
 * name.
 *
 * Which error a bad file gets: a well-formedness error anywhere wins over a record error (the
 * first record error is kept, records stop, and the parse goes on to the end of the file); so
 * does a DTD. The progress callback needs the number of records first: with one, a first pass
 * counts the <content> elements (no record is built), a second builds them. */
#include "rules/orders/orddump.h"

#include <errno.h>
#include <expat.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/compiler.h"

#define DUMP_CHUNK     ((size_t)1 << 30) /* XML_Parse() takes an int length */
#define DUMP_DEPTH_MAX 256u              /* elements nested deeper: refused */
#define DUMP_TEXT_MAX  10000000u         /* bytes of one resource's text */
#define DUMP_NS_SEP    ' '               /* "URI local" (neither part holds a space) */

/* windows-1251 bytes 0x80-0xFF as Unicode code points (0x98 is no character: -1). Bytes below
 * 0x80 are ASCII. check_orddump compares every byte with iconv(3). */
static const int cp1251_high[128] = {
    0x0402, 0x0403, 0x201a, 0x0453, 0x201e, 0x2026, 0x2020, 0x2021, /* 0x80 */
    0x20ac, 0x2030, 0x0409, 0x2039, 0x040a, 0x040c, 0x040b, 0x040f, /* 0x88 */
    0x0452, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, /* 0x90 */
    -1,     0x2122, 0x0459, 0x203a, 0x045a, 0x045c, 0x045b, 0x045f, /* 0x98 */
    0x00a0, 0x040e, 0x045e, 0x0408, 0x00a4, 0x0490, 0x00a6, 0x00a7, /* 0xa0 */
    0x0401, 0x00a9, 0x0404, 0x00ab, 0x00ac, 0x00ad, 0x00ae, 0x0407, /* 0xa8 */
    0x00b0, 0x00b1, 0x0406, 0x0456, 0x0491, 0x00b5, 0x00b6, 0x00b7, /* 0xb0 */
    0x0451, 0x2116, 0x0454, 0x00bb, 0x0458, 0x0405, 0x0455, 0x0457, /* 0xb8 */
    0x0410, 0x0411, 0x0412, 0x0413, 0x0414, 0x0415, 0x0416, 0x0417, /* 0xc0 */
    0x0418, 0x0419, 0x041a, 0x041b, 0x041c, 0x041d, 0x041e, 0x041f, /* 0xc8 */
    0x0420, 0x0421, 0x0422, 0x0423, 0x0424, 0x0425, 0x0426, 0x0427, /* 0xd0 */
    0x0428, 0x0429, 0x042a, 0x042b, 0x042c, 0x042d, 0x042e, 0x042f, /* 0xd8 */
    0x0430, 0x0431, 0x0432, 0x0433, 0x0434, 0x0435, 0x0436, 0x0437, /* 0xe0 */
    0x0438, 0x0439, 0x043a, 0x043b, 0x043c, 0x043d, 0x043e, 0x043f, /* 0xe8 */
    0x0440, 0x0441, 0x0442, 0x0443, 0x0444, 0x0445, 0x0446, 0x0447, /* 0xf0 */
    0x0448, 0x0449, 0x044a, 0x044b, 0x044c, 0x044d, 0x044e, 0x044f, /* 0xf8 */
};

static const char *const res_elems[] = { "url", "domain", "ip", "ipSubnet", "ipv6", "ipv6Subnet" };

struct dump {
    XML_Parser p;
    const char *name;
    char *err;
    size_t errlen;
    struct order_list *out;
    orddump_progress_fn progress;
    void *pctx;
    bool count_only;        /* the counting pass: total, no records */
    size_t total;           /* <content> elements in the file (the counting pass) */
    int rc;                 /* -ENOMEM stops the parse; -EINVAL (err says why) waits for its end */
    unsigned long dtd_line; /* a DTD began here and stopped the parse (0: none) */
    const char *limit;      /* the bound that stopped the parse, or NULL */
    char enc[48];           /* the encoding refused, or "" */
    unsigned depth;         /* of the element open (the root is 1) */
    /* the <content> being read: o is NULL outside one and after an error */
    struct order *o;
    size_t num; /* its number, from 1 */
    unsigned long line;
    bool mask, has_dec;
    size_t count[ARRAY_LEN(res_elems)];
    int res; /* the resource element open (index in res_elems), -1: none */
    unsigned long res_line;
    char *text; /* its text so far (NUL-terminated) */
    size_t tlen, tcap;
    unsigned long *lines; /* the line of each record's <content> (the duplicate check) */
    size_t nlines, lcap;
};

static int bad(struct dump *d, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(struct dump *d, unsigned long line, const char *fmt, ...)
{
    char why[ORDER_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(d->err, d->errlen, "orders: %s:%lu: %s", d->name, line > 0 ? line : 1, why);
    return -EINVAL;
}

/* The first failure stays. The record being read is dropped and no other is built; -ENOMEM
 * stops the parse, -EINVAL lets it go on (a well-formedness error further on wins). */
static void fail(struct dump *d, int rc)
{
    if (!d->rc)
        d->rc = rc;
    order_free(d->o);
    d->o = NULL;
    if (rc == -ENOMEM)
        XML_StopParser(d->p, XML_FALSE);
}

static unsigned long line_now(const struct dump *d)
{
    return (unsigned long)XML_GetCurrentLineNumber(d->p);
}

static const char *local_name(const XML_Char *name)
{
    const char *s = strrchr(name, DUMP_NS_SEP);
    return s ? s + 1 : name;
}

/* The value of the first attribute named name (local part), or NULL. */
static const char *attr(const XML_Char **atts, const char *name)
{
    for (; atts[0]; atts += 2)
        if (strcmp(local_name(atts[0]), name) == 0)
            return atts[1];
    return NULL;
}

static int set(char **field, const char *v)
{
    return order_set(field, v ? v : "", v ? strlen(v) : 0);
}

static void content_start(struct dump *d, const XML_Char **atts)
{
    d->num++;
    d->line = line_now(d);
    d->has_dec = false;
    d->res = -1;
    memset(d->count, 0, sizeof(d->count));
    const char *id = attr(atts, "id"), *bt = attr(atts, "blockType");
    if (!id || !id[0]) {
        fail(d, bad(d, d->line, "content %zu: missing attribute 'id'", d->num));
        return;
    }
    struct order *o = d->o = order_new();
    if (!o) {
        fail(d, -ENOMEM);
        return;
    }
    char oid[300];
    snprintf(oid, sizeof(oid), "dump:%.290s", id);
    if (order_set(&o->id, oid, strlen(oid))) {
        fail(d, -ENOMEM);
        return;
    }
    d->mask = bt && strcmp(bt, "domain-mask") == 0;
    if (bt && !d->mask && strcmp(bt, "default") != 0 && strcmp(bt, "domain") != 0 &&
        strcmp(bt, "ip") != 0) {
        fail(d, bad(d, d->line, "content '%.100s': unknown blockType \"%.40s\"", id, bt));
        return;
    }
    const char *ut = attr(atts, "urgencyType");
    o->urgent = ut && strcmp(ut, "1") == 0;
    if (set(&o->included, attr(atts, "includeTime"))) {
        fail(d, -ENOMEM);
        return;
    }
    int64_t ts;
    if (o->included[0] && !order_time_parse(o->included, &ts))
        fail(d, bad(d, d->line, "content '%.100s': includeTime is not a time: \"%.60s\"", id,
                    o->included));
}

/* The first <decision> of a <content> (any later one is ignored). */
static void decision_start(struct dump *d, const XML_Char **atts)
{
    struct order *o = d->o;
    const char *id = o->id + 5; /* after "dump:" */
    unsigned long line = line_now(d);
    d->has_dec = true;
    if (set(&o->issuer, attr(atts, "org")) || set(&o->number, attr(atts, "number")) ||
        set(&o->issued, attr(atts, "date"))) {
        fail(d, -ENOMEM);
        return;
    }
    if (!o->issuer[0])
        fail(d, bad(d, line, "content '%.100s': <decision> has no org", id));
    else if (o->issued[0] && !order_time_parse(o->issued, &o->issued_ts))
        fail(d, bad(d, line, "content '%.100s': decision date is not a date: \"%.60s\"", id,
                    o->issued));
}

/* A resource element ends: its whole text (all text within it) is a resource or a reject. */
static void resource_end(struct dump *d)
{
    size_t k = (size_t)d->res;
    d->res = -1;
    d->count[k]++;
    const char *t = d->tlen ? d->text : "";
    char why[ORDER_ERR_MAX], pos[96];
    int rc = order_add_resource(d->o, t, d->tlen, NULL, d->mask && k == 1, why, sizeof(why));
    if (rc == -EINVAL) {
        snprintf(pos, sizeof(pos), "content[%zu]/%s[%zu] (line %lu)", d->num, res_elems[k],
                 d->count[k], d->res_line);
        rc = order_add_reject(d->o, pos, t, d->tlen, why);
    }
    if (rc)
        fail(d, rc);
}

static void content_end(struct dump *d)
{
    struct order *o = d->o;
    if (!d->has_dec) {
        fail(d, bad(d, d->line, "content '%.100s': no <decision>", o->id + 5));
        return;
    }
    if (d->nlines == d->lcap) {
        size_t nc = d->lcap ? d->lcap * 2 : 64;
        unsigned long *v = realloc(d->lines, nc * sizeof(*v));
        if (!v) {
            fail(d, -ENOMEM);
            return;
        }
        d->lines = v;
        d->lcap = nc;
    }
    d->o = NULL;
    int rc = order_list_push(d->out, o); /* takes o, even when it fails */
    if (rc) {
        fail(d, rc);
        return;
    }
    d->lines[d->nlines++] = d->line;
    if (d->progress)
        d->progress(d->pctx, d->num, d->total);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct dump *d = ud;
    if (++d->depth > DUMP_DEPTH_MAX) {
        d->limit = "elements nested deeper than 256";
        XML_StopParser(d->p, XML_FALSE);
        return;
    }
    if (d->rc)
        return;
    const char *n = local_name(name);
    if (d->depth == 1) {
        if (strcmp(n, "register") != 0)
            fail(d, bad(d, line_now(d), "expected a <register> root element, found <%.40s>", n));
    } else if (d->depth == 2) {
        if (strcmp(n, "content") != 0)
            return;
        if (d->count_only)
            d->total++;
        else
            content_start(d, atts);
    } else if (d->depth == 3 && d->o) {
        if (strcmp(n, "decision") == 0) {
            if (!d->has_dec)
                decision_start(d, atts);
            return;
        }
        for (size_t k = 0; k < ARRAY_LEN(res_elems); k++)
            if (strcmp(n, res_elems[k]) == 0) {
                d->res = (int)k;
                d->res_line = line_now(d);
                d->tlen = 0;
                break;
            }
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    (void)name;
    struct dump *d = ud;
    if (d->depth == 3 && d->res >= 0 && d->o)
        resource_end(d);
    else if (d->depth == 2 && d->o)
        content_end(d);
    d->depth--;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct dump *d = ud;
    if (d->res < 0 || !d->o || len <= 0)
        return;
    size_t n = (size_t)len;
    if (n > DUMP_TEXT_MAX - d->tlen) {
        d->limit = "a resource's text is longer than 10000000 bytes";
        XML_StopParser(d->p, XML_FALSE);
        return;
    }
    if (d->tlen + n + 1 > d->tcap) {
        size_t nc = d->tcap ? d->tcap * 2 : 256;
        while (nc < d->tlen + n + 1)
            nc *= 2;
        char *t = realloc(d->text, nc);
        if (!t) {
            fail(d, -ENOMEM);
            return;
        }
        d->text = t;
        d->tcap = nc;
    }
    memcpy(d->text + d->tlen, s, n);
    d->tlen += n;
    d->text[d->tlen] = '\0';
}

/* A document type declaration begins: stop before any of it is read. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    struct dump *d = ud;
    d->dtd_line = line_now(d);
    XML_StopParser(d->p, XML_FALSE);
}

/* An encoding expat does not know: windows-1251 (a table), or the file is refused. */
static int XMLCALL on_encoding(void *ud, const XML_Char *name, XML_Encoding *info)
{
    struct dump *d = ud;
    if (strcasecmp(name, "windows-1251") != 0 && strcasecmp(name, "cp1251") != 0) {
        snprintf(d->enc, sizeof(d->enc), "%.40s", name);
        return XML_STATUS_ERROR;
    }
    for (int b = 0; b < 0x80; b++)
        info->map[b] = b;
    for (int b = 0x80; b < 0x100; b++)
        info->map[b] = cp1251_high[b - 0x80];
    info->data = NULL;
    info->convert = NULL;
    info->release = NULL;
    return XML_STATUS_OK;
}

/* One pass of expat over the file. Returns 0, -EINVAL (err set) or -ENOMEM. */
static int dump_pass(struct dump *d, const uint8_t *buf, size_t len)
{
    XML_Parser p = d->p = XML_ParserCreateNS(NULL, DUMP_NS_SEP);
    if (!p)
        return -ENOMEM;
    XML_SetUserData(p, d);
    XML_SetElementHandler(p, on_start, on_end);
    if (!d->count_only)
        XML_SetCharacterDataHandler(p, on_text);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    XML_SetUnknownEncodingHandler(p, on_encoding, d);
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
    enum XML_Status st;
    size_t off = 0;
    do {
        size_t n = len - off < DUMP_CHUNK ? len - off : DUMP_CHUNK;
        st = XML_Parse(p, (const char *)buf + off, (int)n, off + n == len);
        off += n;
    } while (st == XML_STATUS_OK && off < len);
    int rc = d->rc;
    enum XML_Error e = st == XML_STATUS_OK ? XML_ERROR_NONE : XML_GetErrorCode(p);
    if (rc == -ENOMEM || e == XML_ERROR_NO_MEMORY) {
        rc = -ENOMEM;
    } else if (d->dtd_line) {
        rc = bad(d, d->dtd_line,
                 "a DTD is not allowed in an order file (entities are never declared or expanded)");
    } else if (e != XML_ERROR_NONE) {
        char why[200];
        if (d->limit)
            snprintf(why, sizeof(why), "%s", d->limit);
        else if (e == XML_ERROR_UNKNOWN_ENCODING && d->enc[0])
            snprintf(why, sizeof(why),
                     "invalid XML: encoding \"%s\" is not supported (UTF-8, UTF-16, ISO-8859-1, "
                     "US-ASCII, windows-1251)",
                     d->enc);
        else
            snprintf(why, sizeof(why), "invalid XML: %s", XML_ErrorString(e));
        snprintf(d->err, d->errlen, "orders: %s:%lu:%lu: %s", d->name,
                 (unsigned long)XML_GetCurrentLineNumber(p),
                 (unsigned long)XML_GetCurrentColumnNumber(p) + 1, why);
        rc = -EINVAL;
    }
    XML_ParserFree(p);
    d->p = NULL;
    return rc;
}

static int by_id_then_pos(const void *a, const void *b, void *arg)
{
    const struct order *const *v = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int d = strcmp(v[x]->id, v[y]->id);
    return d ? d : (x > y) - (x < y);
}

/* Refuses a dump in which two contents have the same id, naming the first content (in file
 * order) whose id an earlier one has. Sorted, not compared pairwise: dumps have 10^5-10^6
 * contents. */
static int dup_check(struct dump *d, size_t first)
{
    const struct order_list *out = d->out;
    size_t n = out->n - first;
    if (n < 2)
        return 0;
    size_t *ix = malloc(n * sizeof(*ix));
    if (!ix)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        ix[i] = first + i;
    qsort_r(ix, n, sizeof(*ix), by_id_then_pos, out->v);
    size_t dup = SIZE_MAX;
    for (size_t i = 1; i < n; i++)
        if (strcmp(out->v[ix[i]]->id, out->v[ix[i - 1]]->id) == 0 && ix[i] < dup)
            dup = ix[i];
    free(ix);
    if (dup == SIZE_MAX)
        return 0;
    return bad(d, d->lines[dup - first], "content %zu: duplicate id '%.100s'", dup - first + 1,
               out->v[dup]->id + 5);
}

int orddump_parse(const char *name, const uint8_t *buf, size_t len, int64_t now,
                  struct order_list *out, char *err, size_t errlen)
{
    return orddump_parse_progress(name, buf, len, now, out, NULL, NULL, err, errlen);
}

int orddump_parse_progress(const char *name, const uint8_t *buf, size_t len, int64_t now,
                           struct order_list *out, orddump_progress_fn progress, void *pctx,
                           char *err, size_t errlen)
{
    struct dump d = { .name = name,
                      .err = err,
                      .errlen = errlen,
                      .out = out,
                      .progress = progress,
                      .pctx = pctx,
                      .count_only = progress != NULL,
                      .res = -1 };
    size_t first = out->n;
    int rc = 0;
    if (d.count_only) {
        rc = dump_pass(&d, buf, len);
        d.count_only = false;
    }
    if (!rc)
        rc = dump_pass(&d, buf, len);
    if (!rc)
        rc = dup_check(&d, first);
    if (!rc)
        rc = order_stamp(out, first, name, buf, len, now);
    if (rc == -ENOMEM)
        snprintf(err, errlen, "orders: %s: out of memory", name);
    if (rc)
        order_list_truncate(out, first);
    order_free(d.o);
    free(d.text);
    free(d.lines);
    return rc;
}

/* ---- delta ---- */

static int by_id(const void *a, const void *b)
{
    const struct order *x = *(const struct order *const *)a, *y = *(const struct order *const *)b;
    return strcmp(x->id, y->id);
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Same resources (as a multiset of normalized texts) and the same decision. */
static int same(const struct order *a, const struct order *b, bool *eq)
{
    *eq = false;
    if (strcmp(a->issuer, b->issuer) || strcmp(a->number, b->number) ||
        strcmp(a->issued, b->issued) || a->nres != b->nres)
        return 0;
    const char **x = malloc((a->nres + 1) * sizeof(*x)), **y = malloc((b->nres + 1) * sizeof(*y));
    if (!x || !y) {
        free(x);
        free(y);
        return -ENOMEM;
    }
    for (size_t i = 0; i < a->nres; i++) {
        x[i] = a->res[i].norm;
        y[i] = b->res[i].norm;
    }
    qsort(x, a->nres, sizeof(*x), by_str);
    qsort(y, b->nres, sizeof(*y), by_str);
    *eq = true;
    for (size_t i = 0; i < a->nres && *eq; i++)
        *eq = strcmp(x[i], y[i]) == 0;
    free(x);
    free(y);
    return 0;
}

static const struct order **sorted(const struct order_list *l)
{
    const struct order **v = malloc((l->n + 1) * sizeof(*v));
    if (!v)
        return NULL;
    for (size_t i = 0; i < l->n; i++)
        v[i] = l->v[i];
    qsort(v, l->n, sizeof(*v), by_id);
    return v;
}

int orddump_delta(const struct order_list *prev, const struct order_list *next,
                  struct orddump_delta *d)
{
    memset(d, 0, sizeof(*d));
    const struct order **p = sorted(prev), **n = sorted(next);
    d->added = malloc((next->n + 1) * sizeof(*d->added));
    d->changed = malloc((next->n + 1) * sizeof(*d->changed));
    d->removed = malloc((prev->n + 1) * sizeof(*d->removed));
    int rc = -ENOMEM;
    if (!p || !n || !d->added || !d->changed || !d->removed)
        goto done;
    size_t i = 0, j = 0;
    while (i < prev->n || j < next->n) {
        int cmp = i == prev->n ? 1 : j == next->n ? -1 : strcmp(p[i]->id, n[j]->id);
        if (cmp < 0) {
            d->removed[d->nremoved++] = p[i++];
        } else if (cmp > 0) {
            d->added[d->nadded++] = n[j++];
        } else {
            bool eq;
            if (same(p[i], n[j], &eq))
                goto done;
            if (eq)
                d->unchanged++;
            else
                d->changed[d->nchanged++] = n[j];
            i++;
            j++;
        }
    }
    rc = 0;
done:
    free(p);
    free(n);
    if (rc)
        orddump_delta_free(d);
    return rc;
}

void orddump_delta_free(struct orddump_delta *d)
{
    if (!d)
        return;
    free(d->added);
    free(d->changed);
    free(d->removed);
    memset(d, 0, sizeof(*d));
}
