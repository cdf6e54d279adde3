/* orddump.c - registry dump.xml into records, and the delta of two dumps (see orddump.h).
 *
 * libxml2 builds the tree (xmlCtxtReadMemory with XML_PARSE_NONET, never XML_PARSE_NOENT or
 * XML_PARSE_DTDLOAD). A document type declaration stops the parser the moment it starts (a SAX
 * internalSubset hook), so no entity is ever declared, let alone expanded (without the hook
 * libxml2 still parses entity values to build entity reference nodes); an entity reference with
 * no declaration is a well-formedness error. */
#include "rules/orders/orddump.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"

#define DUMP_FILE_MAX ((size_t)INT32_MAX) /* xmlCtxtReadMemory takes an int size */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

struct ctx {
    const char *name;
    char *err;
    size_t errlen;
};

static int bad(const struct ctx *c, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(const struct ctx *c, long line, const char *fmt, ...)
{
    char why[ORDER_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "orders: %s:%ld: %s", c->name, line > 0 ? line : 1, why);
    return -EINVAL;
}

static bool is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* An attribute's value into *out (the caller frees it with xmlFree; NULL when absent). Returns
 * 0, or -ENOMEM when the attribute is there but its copy failed (xmlGetProp() says NULL for
 * both: an attribute lost to memory pressure must not read as absent). */
static int attr(xmlNode *n, const char *name, char **out)
{
    *out = (char *)xmlGetProp(n, (const xmlChar *)name);
    if (!*out && xmlHasProp(n, (const xmlChar *)name))
        return -ENOMEM;
    return 0;
}

/* Copies an optional attribute into *field ("" when absent). */
static int attr_into(xmlNode *n, const char *name, char **field)
{
    char *v;
    int rc = attr(n, name, &v);
    if (!rc)
        rc = order_set(field, v ? v : "", v ? strlen(v) : 0);
    xmlFree(v);
    return rc;
}

/* SAX: the document type declaration starts. Stop before a single declaration of its internal
 * subset is read (no entity is ever declared); the line is noted for the message. */
static void on_dtd(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
    (void)name;
    (void)ext;
    (void)sys;
    xmlParserCtxtPtr pc = ctx;
    long *dtd_line = pc->_private;
    *dtd_line = pc->input ? pc->input->line : 1;
    xmlStopParser(pc);
}

static const char *const res_elems[] = { "url", "domain", "ip", "ipSubnet", "ipv6", "ipv6Subnet" };

static int one_content(const struct ctx *c, xmlNode *cn, size_t num, struct order_list *out)
{
    long line = xmlGetLineNo(cn);
    char *id = NULL, *bt = NULL, *ut = NULL;
    struct order *o = NULL;
    int rc;
    if ((rc = attr(cn, "id", &id)) || (rc = attr(cn, "blockType", &bt)) ||
        (rc = attr(cn, "urgencyType", &ut)))
        goto done;
    if (!id || !id[0]) {
        rc = bad(c, line, "content %zu: missing attribute 'id'", num);
        goto done;
    }
    if (!(o = order_new())) {
        rc = -ENOMEM;
        goto done;
    }
    char oid[300];
    snprintf(oid, sizeof(oid), "dump:%.290s", id);
    if ((rc = order_set(&o->id, oid, strlen(oid))))
        goto done;
    bool mask = false;
    if (bt && strcmp(bt, "domain-mask") == 0)
        mask = true;
    else if (bt && strcmp(bt, "default") != 0 && strcmp(bt, "domain") != 0 &&
             strcmp(bt, "ip") != 0) {
        rc = bad(c, line, "content '%.100s': unknown blockType \"%.40s\"", id, bt);
        goto done;
    }
    o->urgent = ut && strcmp(ut, "1") == 0;
    if ((rc = attr_into(cn, "includeTime", &o->included)))
        goto done;
    int64_t ts;
    if (o->included[0] && !order_time_parse(o->included, &ts)) {
        rc =
            bad(c, line, "content '%.100s': includeTime is not a time: \"%.60s\"", id, o->included);
        goto done;
    }
    xmlNode *dec = NULL;
    for (xmlNode *n = cn->children; n; n = n->next)
        if (is(n, "decision") && !dec)
            dec = n;
    if (!dec) {
        rc = bad(c, line, "content '%.100s': no <decision>", id);
        goto done;
    }
    if ((rc = attr_into(dec, "org", &o->issuer)) || (rc = attr_into(dec, "number", &o->number)) ||
        (rc = attr_into(dec, "date", &o->issued)))
        goto done;
    if (!o->issuer[0]) {
        rc = bad(c, xmlGetLineNo(dec), "content '%.100s': <decision> has no org", id);
        goto done;
    }
    if (o->issued[0] && !order_time_parse(o->issued, &o->issued_ts)) {
        rc = bad(c, xmlGetLineNo(dec), "content '%.100s': decision date is not a date: \"%.60s\"",
                 id, o->issued);
        goto done;
    }
    size_t count[ARRAY_LEN(res_elems)] = { 0 };
    for (xmlNode *n = cn->children; n; n = n->next) {
        size_t k = 0;
        while (k < ARRAY_LEN(res_elems) && !is(n, res_elems[k]))
            k++;
        if (k == ARRAY_LEN(res_elems))
            continue;
        count[k]++;
        char *t = (char *)xmlNodeGetContent(n), why[ORDER_ERR_MAX], pos[96];
        if (!t) {
            rc = -ENOMEM;
            goto done;
        }
        size_t tl = strlen(t);
        rc = order_add_resource(o, t, tl, NULL, mask && k == 1, why, sizeof(why));
        if (rc == -EINVAL) {
            snprintf(pos, sizeof(pos), "content[%zu]/%s[%zu] (line %ld)", num, res_elems[k],
                     count[k], xmlGetLineNo(n));
            rc = order_add_reject(o, pos, t, tl, why);
        }
        xmlFree(t);
        if (rc)
            goto done;
    }
    rc = order_list_push(out, o);
    o = NULL;
done:
    order_free(o);
    xmlFree(id);
    xmlFree(bt);
    xmlFree(ut);
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
static int dup_check(const struct ctx *c, xmlNode *root, const struct order_list *out, size_t first)
{
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
    size_t num = dup - first + 1, k = 0;
    long line = 1;
    for (xmlNode *nd = root->children; nd; nd = nd->next)
        if (is(nd, "content") && ++k == num) {
            line = xmlGetLineNo(nd);
            break;
        }
    const char *id = out->v[dup]->id;
    if (strncmp(id, "dump:", 5) == 0)
        id += 5;
    return bad(c, line, "content %zu: duplicate id '%.100s'", num, id);
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
    struct ctx c = { name, err, errlen };
    size_t first = out->n;
    int rc = 0;
    if (len > DUMP_FILE_MAX)
        return bad(&c, 1, "file too large for the XML parser");
    pthread_once(&xml_once, xml_init);
    xmlParserCtxtPtr pc = xmlNewParserCtxt();
    if (!pc)
        return -ENOMEM;
    long dtd_line = 0;
    pc->_private = &dtd_line;
    pc->sax->internalSubset = on_dtd;
    xmlResetLastError();
    xmlDocPtr doc = xmlCtxtReadMemory(pc, (const char *)buf, (int)len, name, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    const xmlError *ge = xmlGetLastError(), *ce = xmlCtxtGetLastError(pc);
    if ((ge && ge->code == XML_ERR_NO_MEMORY) || (ce && ce->code == XML_ERR_NO_MEMORY)) {
        rc = -ENOMEM; /* even with a document: libxml2 may have dropped a name on the way */
        goto done;
    }
    if (dtd_line || (doc && (doc->intSubset || doc->extSubset))) {
        rc = bad(&c, dtd_line,
                 "a DTD is not allowed in an order file (entities are never declared or expanded)");
        goto done;
    }
    if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(pc), *g = xmlGetLastError();
        /* libxml2 reports some allocation failures (its input buffer) only globally, and a
         * parse that failed with no error recorded at all failed for memory */
        if (!e || e->code == XML_ERR_OK || e->code == XML_ERR_NO_MEMORY ||
            (g && g->code == XML_ERR_NO_MEMORY)) {
            rc = -ENOMEM;
            goto done;
        }
        char msg[256] = "not well-formed XML";
        if (e && e->message) {
            snprintf(msg, sizeof(msg), "%s", e->message);
            size_t ml = strlen(msg);
            while (ml > 0 && (msg[ml - 1] == '\n' || msg[ml - 1] == ' '))
                msg[--ml] = '\0';
        }
        if (e && e->line > 0 && e->int2 > 0)
            snprintf(err, errlen, "orders: %s:%d:%d: invalid XML: %s", name, e->line, e->int2, msg);
        else
            bad(&c, e ? e->line : 1, "invalid XML: %s", msg);
        rc = -EINVAL;
        goto done;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root || !is(root, "register")) {
        rc = bad(&c, root ? xmlGetLineNo(root) : 1,
                 "expected a <register> root element, found <%.40s>",
                 root ? (const char *)root->name : "");
        goto done;
    }
    size_t num = 0, total = 0;
    for (xmlNode *n = root->children; progress && n; n = n->next)
        total += is(n, "content");
    for (xmlNode *n = root->children; n; n = n->next) {
        if (!is(n, "content"))
            continue;
        if ((rc = one_content(&c, n, ++num, out)))
            goto done;
        if (progress)
            progress(pctx, num, total);
    }
    if ((rc = dup_check(&c, root, out, first)))
        goto done;
    rc = order_stamp(out, first, name, buf, len, now);
done:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "orders: %s: out of memory", name);
    if (rc)
        order_list_truncate(out, first);
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(pc);
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
