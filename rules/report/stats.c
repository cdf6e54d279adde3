/* stats.c - figures over a period of orders (stats.h). */
#include "rules/report/stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"

static int bump(struct stats_table *t, const char *name, uint64_t by)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].name, name) == 0) {
            t->v[i].n += by;
            return 0;
        }
    struct stats_count *nv = realloc(t->v, (t->n + 1) * sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    t->v = nv;
    if (!(t->v[t->n].name = strdup(name)))
        return -ENOMEM;
    t->v[t->n++].n = by;
    return 0;
}

static void table_free(struct stats_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].name);
    free(t->v);
    memset(t, 0, sizeof(*t));
}

void stats_free(struct stats *st)
{
    table_free(&st->by_category);
    table_free(&st->by_basis);
    table_free(&st->by_method);
    table_free(&st->by_day);
}

int stats_date_parse(const char *s, struct deadline_date *d)
{
    int y, m, dd;
    char tail;
    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &dd, &tail) != 3 || m < 1 || m > 12 ||
        dd < 1)
        return -EINVAL;
    struct deadline_date back;
    deadline_civil_from_days(deadline_days_from_civil(y, m, dd), &back);
    if (back.year != y || back.month != m || back.day != dd)
        return -EINVAL;
    *d = back;
    return 0;
}

int stats_add(struct stats *st, const struct report *r)
{
    const struct order *o = r->o;
    int rc = 0;
    st->orders++;
    if (o->action == ORDER_RESTORE)
        st->restore_orders++;
    else
        st->restrict_orders++;
    st->rejected += o->nrej;
    if (r->met == REPORT_MET)
        st->met++;
    else if (r->met == REPORT_MISSED)
        st->missed++;
    else
        st->pending++;
    int32_t off = 0;
    char err[128], day[16];
    deadline_tz_offset(r->tz, o->received_ts, &off, err, sizeof(err));
    int64_t l = o->received_ts + off;
    struct deadline_date d;
    deadline_civil_from_days((l >= 0 ? l : l - 86399) / 86400, &d);
    deadline_date_format(&d, day);
    rc = bump(&st->by_day, day, 1);
    if (o->action == ORDER_RESTRICT) {
        st->resources += r->nres;
        if (!rc)
            rc = bump(&st->by_basis, o->legal_basis[0] ? o->legal_basis : "—", r->nres);
        for (size_t i = 0; i < r->nres && !rc; i++) {
            const char *c = r->res[i].r->category ? r->res[i].r->category : o->category;
            rc = bump(&st->by_category, c && c[0] ? c : "—", 1);
            if (!rc)
                rc = bump(&st->by_method, r->res[i].method, 1);
            st->hits += r->res[i].hits;
        }
    }
    return rc;
}

struct collect {
    char **ids;
    size_t n;
    int rc;
};

static int collect_id(void *ctx, const struct store_order *so)
{
    struct collect *c = ctx;
    char **nv = realloc(c->ids, (c->n + 1) * sizeof(*nv));
    if (!nv || !(nv[c->n] = strdup(so->id))) {
        if (nv)
            c->ids = nv;
        return c->rc = -ENOMEM;
    }
    c->ids = nv;
    c->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_count(const void *a, const void *b)
{
    const struct stats_count *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    return strcmp(x->name, y->name);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const struct stats_count *)a)->name, ((const struct stats_count *)b)->name);
}

int stats_collect(struct store *s, const struct deadline_date *from, const struct deadline_date *to,
                  const struct report_opts *opt, struct stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof(*st));
    st->from = *from;
    st->to = *to;
    snprintf(st->tz, sizeof(st->tz), "%s",
             opt && opt->tz && opt->tz[0] ? opt->tz : DEADLINE_DEFAULT_TZ);
    int64_t d0 = deadline_days_from_civil(from->year, from->month, from->day),
            d1 = deadline_days_from_civil(to->year, to->month, to->day);
    struct collect c = { 0 };
    struct report_fleet fleet;
    int rc = store_list(s, collect_id, &c, err, errlen);
    if (!rc && c.rc)
        rc = c.rc;
    if (!rc)
        rc = report_fleet_load(s, &fleet, err, errlen);
    if (rc) {
        for (size_t i = 0; i < c.n; i++)
            free(c.ids[i]);
        free(c.ids);
        return rc;
    }
    if (c.n > 1)
        qsort(c.ids, c.n, sizeof(*c.ids), cmp_str);
    for (size_t i = 0; i < c.n; i++) {
        struct report *r = NULL;
        if (!rc) {
            rc = report_build(s, &fleet, c.ids[i], opt, &r, err, errlen);
            if (rc == -ENOENT || rc == -EBADMSG) /* gone meanwhile, or a record from elsewhere */
                rc = 0;
        }
        if (!rc && r) {
            int32_t off = 0;
            deadline_tz_offset(st->tz, r->o->received_ts, &off, err, errlen);
            int64_t l = r->o->received_ts + off, day = (l >= 0 ? l : l - 86399) / 86400;
            if (day >= d0 && day <= d1)
                rc = stats_add(st, r);
        }
        report_free(r);
        free(c.ids[i]);
    }
    free(c.ids);
    report_fleet_free(&fleet);
    if (!rc) {
        qsort(st->by_category.v, st->by_category.n, sizeof(struct stats_count), cmp_count);
        qsort(st->by_basis.v, st->by_basis.n, sizeof(struct stats_count), cmp_count);
        qsort(st->by_method.v, st->by_method.n, sizeof(struct stats_count), cmp_count);
        qsort(st->by_day.v, st->by_day.n, sizeof(struct stats_count), cmp_name);
    }
    return rc;
}

/* ---- rendering ------------------------------------------------------------------------------ */

static void json_table(FILE *f, const char *key, const struct stats_table *t)
{
    jsonw_key(f, key, false);
    fputc('{', f);
    for (size_t i = 0; i < t->n; i++) {
        jsonw_key(f, t->v[i].name, i == 0);
        fprintf(f, "%llu", (unsigned long long)t->v[i].n);
    }
    fputc('}', f);
}

static void json_u64(FILE *f, const char *key, uint64_t v)
{
    jsonw_key(f, key, false);
    fprintf(f, "%llu", (unsigned long long)v);
}

/* A horizontal bar chart of t as inline SVG: one bar per row, scaled to the largest. */
static void svg_bars(FILE *f, const struct stats_table *t, const char *title)
{
    uint64_t max = 1;
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].n > max)
            max = t->v[i].n;
    unsigned h = 22u * (unsigned)t->n + 10u;
    fprintf(f, "<figure><figcaption>");
    report_html_text(f, title);
    fprintf(f,
            "</figcaption>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"%u\" "
            "viewBox=\"0 0 640 %u\" role=\"img\">\n",
            h, h);
    for (size_t i = 0; i < t->n; i++) {
        unsigned y = 5u + 22u * (unsigned)i;
        unsigned w = (unsigned)(t->v[i].n * 380 / max);
        fprintf(f, "<text x=\"0\" y=\"%u\" font-size=\"11\">", y + 14);
        char name[48];
        snprintf(name, sizeof(name), "%.40s", t->v[i].name);
        report_html_text(f, name);
        fprintf(f,
                "</text><rect x=\"200\" y=\"%u\" width=\"%u\" height=\"16\" fill=\"#3a6ea5\"/>"
                "<text x=\"%u\" y=\"%u\" font-size=\"11\">%llu</text>\n",
                y + 2, w ? w : 1, 206 + w, y + 14, (unsigned long long)t->v[i].n);
    }
    fputs("</svg></figure>\n", f);
}

static void html_kv(FILE *f, const char *k, uint64_t v)
{
    fputs("<tr><th>", f);
    report_html_text(f, k);
    fprintf(f, "</th><td>%llu</td></tr>\n", (unsigned long long)v);
}

int stats_render(FILE *f, const struct stats *st, enum report_format fmt, enum report_lang lang)
{
    char a[16], b[16];
    deadline_date_format(&st->from, a);
    deadline_date_format(&st->to, b);
    static const struct {
        const char *t[3];
    } tl[] = {
        { { "Статистика исполнения предписаний", "Нұсқамаларды орындау статистикасы",
            "Order statistics" } },
        { { "Получено предписаний", "Алынған нұсқамалар", "Orders received" } },
        { { "об ограничении", "шектеу туралы", "restrict" } },
        { { "о восстановлении", "қалпына келтіру туралы", "restore" } },
        { { "Ограничено ресурсов", "Шектелген ресурстар", "Resources restricted" } },
        { { "Отклонено ресурсов", "Қабылданбаған ресурстар", "Resources rejected" } },
        { { "Сроки соблюдены", "Мерзімдер сақталды", "Deadlines met" } },
        { { "Сроки нарушены", "Мерзімдер бұзылды", "Deadlines missed" } },
        { { "Исполняются", "Орындалуда", "In progress" } },
        { { "Срабатываний", "Іске қосылулар", "Hits" } },
        { { "Ресурсы по категориям", "Санаттар бойынша ресурстар", "Resources by category" } },
        { { "Ресурсы по правовому основанию", "Құқықтық негіз бойынша ресурстар",
            "Resources by legal basis" } },
        { { "Ресурсы по способу", "Тәсіл бойынша ресурстар", "Resources by method" } },
        { { "Предписания по дням получения", "Алынған күндер бойынша нұсқамалар",
            "Orders by day received" } },
        { { "Сроки", "Мерзімдер", "Deadlines" } },
    };
    int li = lang <= REPORT_EN ? (int)lang : 2;
    if (fmt == REPORT_JSON) {
        fputc('{', f);
        jsonw_key(f, "from", true);
        jsonw_cstr(f, a);
        jsonw_key(f, "to", false);
        jsonw_cstr(f, b);
        jsonw_key(f, "timezone", false);
        jsonw_cstr(f, st->tz);
        json_u64(f, "orders", st->orders);
        json_u64(f, "restrict_orders", st->restrict_orders);
        json_u64(f, "restore_orders", st->restore_orders);
        json_u64(f, "resources_restricted", st->resources);
        json_u64(f, "resources_rejected", st->rejected);
        json_u64(f, "deadlines_met", st->met);
        json_u64(f, "deadlines_missed", st->missed);
        json_u64(f, "deadlines_pending", st->pending);
        json_u64(f, "hits", st->hits);
        json_table(f, "by_category", &st->by_category);
        json_table(f, "by_legal_basis", &st->by_basis);
        json_table(f, "by_method", &st->by_method);
        json_table(f, "by_day", &st->by_day);
        fputs("}\n", f);
        return ferror(f) ? -EIO : 0;
    }
    report_html_head(f, tl[0].t[li], lang);
    fputs("<h1>", f);
    report_html_text(f, tl[0].t[li]);
    fprintf(f, " %s — %s</h1>\n<p class=\"small\">", a, b);
    report_html_text(f, report_label("zone", lang));
    fputs(": ", f);
    report_html_text(f, st->tz);
    fputs("</p>\n<table class=\"kv\">\n", f);
    html_kv(f, tl[1].t[li], st->orders);
    html_kv(f, tl[2].t[li], st->restrict_orders);
    html_kv(f, tl[3].t[li], st->restore_orders);
    html_kv(f, tl[4].t[li], st->resources);
    html_kv(f, tl[5].t[li], st->rejected);
    html_kv(f, tl[6].t[li], st->met);
    html_kv(f, tl[7].t[li], st->missed);
    html_kv(f, tl[8].t[li], st->pending);
    html_kv(f, tl[9].t[li], st->hits);
    fputs("</table>\n", f);
    struct stats_count dl[3] = { { (char *)tl[6].t[li], st->met },
                                 { (char *)tl[7].t[li], st->missed },
                                 { (char *)tl[8].t[li], st->pending } };
    struct stats_table dt = { dl, 3 };
    svg_bars(f, &dt, tl[14].t[li]);
    svg_bars(f, &st->by_category, tl[10].t[li]);
    svg_bars(f, &st->by_basis, tl[11].t[li]);
    svg_bars(f, &st->by_method, tl[12].t[li]);
    svg_bars(f, &st->by_day, tl[13].t[li]);
    report_html_foot(f);
    return ferror(f) ? -EIO : 0;
}
