/* report_render.c - HTML, JSON and CSV of a report (report_render.h). */
#include "rules/report/report_render.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"

/* ---- labels --------------------------------------------------------------------------------- */

struct label {
    const char *key, *t[3]; /* ru, kk, en */
};

/* clang-format off */
static const struct label labels[] = {
    { "title", { "Отчёт об исполнении предписания", "Нұсқаманың орындалуы туралы есеп", "Order execution report" } },
    { "identity", { "Предписание", "Нұсқама", "The order" } },
    { "order_id", { "Идентификатор", "Сәйкестендіргіш", "Order ID" } },
    { "number", { "Номер", "Нөмірі", "Number" } },
    { "issuer", { "Орган, выдавший предписание", "Нұсқаманы берген орган", "Issuer" } },
    { "basis", { "Правовое основание", "Құқықтық негіз", "Legal basis" } },
    { "category", { "Категория", "Санат", "Category" } },
    { "action", { "Действие", "Әрекет", "Action" } },
    { "restrict", { "ограничение доступа", "қолжетімділікті шектеу", "restrict access" } },
    { "restore", { "восстановление доступа", "қолжетімділікті қалпына келтіру", "restore access" } },
    { "issued", { "Дата выдачи", "Берілген күні", "Issued" } },
    { "received", { "Получено", "Алынды", "Received" } },
    { "source", { "Файл предписания (SHA-256)", "Нұсқама файлы (SHA-256)", "Source file (SHA-256)" } },
    { "signature", { "Электронная подпись предписания", "Нұсқаманың электрондық қолтаңбасы", "Signature of the order" } },
    { "state", { "Состояние", "Күйі", "State" } },
    { "active", { "действует", "қолданыста", "active" } },
    { "revoked", { "отозвано", "кері қайтарылды", "revoked" } },
    { "deadline", { "Срок исполнения (включительно)", "Орындау мерзімі (қоса алғанда)", "Deadline (inclusive)" } },
    { "days", { "дн.", "күн", "days" } },
    { "outcome", { "Соблюдение срока", "Мерзімнің сақталуы", "Deadline outcome" } },
    { "met", { "срок соблюдён", "мерзім сақталды", "deadline met" } },
    { "missed", { "срок нарушен", "мерзім бұзылды", "deadline missed" } },
    { "pending", { "исполняется, срок не истёк", "орындалуда, мерзімі өтпеді", "in progress, deadline not passed" } },
    { "published", { "Опубликовано в хранилище", "Қоймаға жарияланды", "Published to the store" } },
    { "enforced_all", { "Исполняется на всех узлах с", "Барлық түйіндерде орындалады", "Enforced on every node since" } },
    { "not_yet", { "ещё не на всех узлах", "әлі барлық түйіндерде емес", "not yet on every node" } },
    { "history", { "Хронология", "Хронология", "History" } },
    { "event", { "Событие", "Оқиға", "Event" } },
    { "version", { "Версия", "Нұсқа", "Version" } },
    { "time", { "Время", "Уақыты", "Time" } },
    { "reached_all", { "Дошло до всех узлов", "Барлық түйіндерге жетті", "Reached every node" } },
    { "nodes", { "Узлы (начало исполнения)", "Түйіндер (орындаудың басталуы)", "Nodes (enforcing since)" } },
    { "import", { "получено и опубликовано", "алынды және жарияланды", "imported" } },
    { "revoke", { "отзыв", "кері қайтару", "revoked" } },
    { "restore_ev", { "восстановление", "қалпына келтіру", "restored" } },
    { "resources", { "Ресурсы", "Ресурстар", "Resources" } },
    { "resource", { "Ресурс (нормализованный)", "Ресурс (қалыпқа келтірілген)", "Resource (normalized)" } },
    { "written", { "Как указан", "Жазылғандай", "As written" } },
    { "method", { "Способ", "Тәсілі", "Method" } },
    { "fallback", { "Адреса (IP fallback)", "Мекенжайлар (IP fallback)", "IP fallback addresses" } },
    { "seen", { "имён в трафике к этому адресу: ~%s", "осы мекенжайға трафикте көрінген атаулар: ~%s", "names seen in traffic to this address: ~%s" } },
    { "acks", { "Подтвердившие узлы", "Растаған түйіндер", "Acknowledging nodes" } },
    { "hits", { "Срабатывания", "Іске қосылулар", "Hits" } },
    { "first_hit", { "первое", "алғашқы", "first" } },
    { "last_hit", { "последнее", "соңғы", "last" } },
    { "kdrops", { "отброшено ядром на других портах, пакетов: %s", "ядро басқа порттарда тастаған пакеттер: %s", "dropped by the kernel on other ports, packets: %s" } },
    { "verify", { "Самопроверка", "Өзін-өзі тексеру", "Self-verification" } },
    { "blocked", { "заблокирован", "бұғатталған", "blocked" } },
    { "not_blocked", { "ДОСТУПЕН", "ҚОЛЖЕТІМДІ", "REACHABLE" } },
    { "not_verified", { "не проверялся", "тексерілмеген", "not verified" } },
    { "rejected", { "Отклонённые ресурсы", "Қабылданбаған ресурстар", "Rejected resources" } },
    { "position", { "Позиция", "Орны", "Position" } },
    { "reason", { "Причина", "Себебі", "Reason" } },
    { "none", { "нет", "жоқ", "none" } },
    { "risks", { "Остаточные риски", "Қалдық тәуекелдер", "Residual risks" } },
    { "generated", { "Отчёт сформирован", "Есеп жасалды", "Report generated" } },
    { "zone", { "Часовой пояс", "Уақыт белдеуі", "Time zone" } },
    { "officer", { "Ответственный сотрудник (Ф.И.О., должность)", "Жауапты қызметкер (Т.А.Ә., лауазымы)", "Compliance officer (name, title)" } },
    { "sign", { "Подпись", "Қолы", "Signature" } },
    { "date", { "Дата", "Күні", "Date" } },
    { "risk_node", { "Узел %s не подтвердил исполнение", "%s түйіні орындауды растамады", "Node %s has not acknowledged the order" } },
    { "risk_unverified", { "Ресурс %s не проверен самопроверкой", "%s ресурсы өзін-өзі тексеруден өтпеді", "Resource %s was not self-verified" } },
    { "risk_noverify", { "Самопроверка не проводилась", "Өзін-өзі тексеру жүргізілмеді", "No self-verification was run" } },
    { "risk_reachable", { "По результатам самопроверки ресурс %s доступен", "Өзін-өзі тексеру бойынша %s ресурсы қолжетімді", "Self-verification found %s reachable" } },
    { "risk_ip", { "Блокировка IP-адреса %s затрагивает все сайты на этом адресе", "%s IP-мекенжайын бұғаттау осы мекенжайдағы барлық сайттарға әсер етеді", "Blocking IP address %s affects every site on that address" } },
    { "risk_shared", { "Общий адрес не заблокирован (удержан): %s", "Ортақ мекенжай бұғатталмады (ұсталды): %s", "Shared address held back: %s" } },
    { "risk_ech", { "Замечены соединения с ECH (имя скрыто), всего: %s", "ECH қосылымдары байқалды (атауы жасырын), барлығы: %s", "ECH connections seen (name hidden): %s" } },
    { "risk_unassessed", { "Общие адреса и трафик ECH не оценивались", "Ортақ мекенжайлар мен ECH трафигі бағаланбады", "Shared addresses and ECH traffic were not assessed" } },
};
/* clang-format on */

const char *report_label(const char *key, enum report_lang lang)
{
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
        if (strcmp(labels[i].key, key) == 0)
            return labels[i].t[lang <= REPORT_EN ? lang : REPORT_EN];
    return key;
}

#define L(k) report_label(k, lang)

bool report_lang_parse(const char *s, enum report_lang *l)
{
    static const char *const n[] = { "ru", "kk", "en" };
    for (int i = 0; i < 3; i++)
        if (strcmp(s, n[i]) == 0) {
            *l = (enum report_lang)i;
            return true;
        }
    return false;
}

bool report_format_parse(const char *s, enum report_format *f)
{
    static const char *const n[] = { "html", "json", "csv" };
    for (int i = 0; i < 3; i++)
        if (strcmp(s, n[i]) == 0) {
            *f = (enum report_format)i;
            return true;
        }
    return false;
}

void report_time(uint64_t ms, const char *zone, char out[40])
{
    if (!ms) {
        out[0] = '\0';
        return;
    }
    deadline_local_format((int64_t)(ms / 1000), zone, out);
}

/* ---- escaping ------------------------------------------------------------------------------- */

void report_html_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

void report_csv_field(FILE *f, const char *s)
{
    if (!s)
        s = "";
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* A label with "%s" replaced by arg (escaped for HTML when html). */
static void subst(FILE *f, const char *tmpl, const char *arg, bool html)
{
    const char *p = strstr(tmpl, "%s");
    if (!p) {
        html ? report_html_text(f, tmpl) : (void)fputs(tmpl, f);
        return;
    }
    fwrite(tmpl, 1, (size_t)(p - tmpl), f);
    html ? report_html_text(f, arg) : (void)fputs(arg ? arg : "", f);
    fputs(p + 2, f);
}

/* "N (a, b, ...)": the names seen in traffic to address (merged "fbseen" documents), or false
 * when none were. */
static bool seen_text(const struct report *r, const char *address, char *buf, size_t len)
{
    const struct seendoc_addr *a = seendoc_find(r->seen, r->nseen, address);
    uint64_t est = seendoc_names(a);
    if (!est)
        return false;
    size_t n = (size_t)snprintf(buf, len, "%llu", (unsigned long long)est);
    for (unsigned k = 0; k < a->nex && n < len; k++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", k ? ", " : " (", a->ex[k]);
    if (a->nex && n < len)
        snprintf(buf + n, len - n, ")");
    return true;
}

static const char *risk_key(const struct report_risk *k)
{
    switch (k->kind) {
    case RISK_NODE_PENDING: return "risk_node";
    case RISK_NOT_VERIFIED: return k->arg ? "risk_unverified" : "risk_noverify";
    case RISK_NOT_BLOCKED: return "risk_reachable";
    case RISK_IP_WIDE: return "risk_ip";
    case RISK_SHARED_HELD: return "risk_shared";
    case RISK_ECH: return "risk_ech";
    case RISK_UNASSESSED: return "risk_unassessed";
    }
    return "risk_unassessed";
}

static const char *risk_code(enum report_risk_kind k)
{
    static const char *const n[] = { "",        "node-pending", "not-verified", "not-blocked",
                                     "ip-wide", "shared-held",  "ech",          "unassessed" };
    return (size_t)k < sizeof(n) / sizeof(n[0]) ? n[k] : "";
}

static const char *verdict_name(enum report_verdict v)
{
    return v == REPORT_BLOCKED       ? "blocked"
           : v == REPORT_NOT_BLOCKED ? "not-blocked"
                                     : "not-verified";
}

static const char *verdict_key(enum report_verdict v)
{
    return v == REPORT_BLOCKED       ? "blocked"
           : v == REPORT_NOT_BLOCKED ? "not_blocked"
                                     : "not_verified";
}

static const char *met_name(enum report_met m)
{
    return m == REPORT_MET ? "met" : m == REPORT_MISSED ? "missed" : "pending";
}

static const char *event_key(enum store_change_kind k)
{
    return k == STORE_CHANGE_IMPORT ? "import" : k == STORE_CHANGE_REVOKE ? "revoke" : "restore_ev";
}

/* The event whose nodes acknowledge the resources: the latest import or restore. */
static const struct report_event *enforcing_event(const struct report *r)
{
    const struct report_event *e = NULL;
    for (size_t i = 0; i < r->nev; i++)
        if (r->ev[i].kind != STORE_CHANGE_REVOKE)
            e = &r->ev[i];
    return e;
}

/* ---- HTML ----------------------------------------------------------------------------------- */

void report_html_head(FILE *f, const char *title, enum report_lang lang)
{
    static const char *const code[] = { "ru", "kk", "en" };
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
            code[lang <= REPORT_EN ? lang : REPORT_EN]);
    report_html_text(f, title);
    fputs("</title>\n<style>\n"
          "body{font-family:'DejaVu Sans','Liberation Sans',Arial,sans-serif;font-size:10.5pt;"
          "color:#000;margin:2em auto;max-width:60em}\n"
          "h1{font-size:15pt;margin:0 0 .6em}h2{font-size:12pt;margin:1.4em 0 .4em;"
          "border-bottom:1px solid #444}\n"
          "table{border-collapse:collapse;width:100%;margin:.3em 0}\n"
          "th,td{border:1px solid #888;padding:3px 5px;text-align:left;vertical-align:top;"
          "word-break:break-word}\n"
          "th{background:#eee}table.kv th{width:32%}\n"
          ".met{color:#060;font-weight:bold}.missed,.bad{color:#a00;font-weight:bold}"
          ".pending{color:#850;font-weight:bold}\n"
          ".sign td{height:3em;border:none;border-bottom:1px solid #000}"
          ".sign th{border:none;background:none;width:auto}\n"
          ".small{font-size:9pt;color:#333}.mono{font-family:'DejaVu Sans Mono',monospace}\n"
          "@media print{body{margin:0;max-width:none}h2{break-after:avoid}"
          "tr{break-inside:avoid}@page{size:A4;margin:15mm}}\n"
          "</style>\n</head>\n<body>\n",
          f);
}

void report_html_foot(FILE *f)
{
    fputs("</body>\n</html>\n", f);
}

/* before, text escaped, after. */
static void wrap(FILE *f, const char *before, const char *text, const char *after)
{
    fputs(before, f);
    report_html_text(f, text);
    fputs(after, f);
}

/* A header row of the labels keys[0..n). */
static void th_row(FILE *f, const char *const *keys, size_t n, enum report_lang lang)
{
    fputs("<tr>", f);
    for (size_t i = 0; i < n; i++)
        wrap(f, "<th>", report_label(keys[i], lang), "</th>");
    fputs("</tr>\n", f);
}

static void kv(FILE *f, const char *label, const char *value)
{
    wrap(f, "<tr><th>", label, "</th><td>");
    report_html_text(f, value && value[0] ? value : "—");
    fputs("</td></tr>\n", f);
}

/* "first: T1<br>last: T2</span>" (a span opened by the caller), a line break first when after
 * text of its own */
static void first_last(FILE *f, uint64_t first_ms, uint64_t last_ms, const char *tz,
                       enum report_lang lang, bool after_text)
{
    char t[40];
    report_time(first_ms, tz, t);
    wrap(f, after_text ? "<br>" : "", L("first_hit"), ": ");
    report_html_text(f, t);
    report_time(last_ms, tz, t);
    wrap(f, "<br>", L("last_hit"), ": ");
    report_html_text(f, t);
    fputs("</span>", f);
}

static void html(FILE *f, const struct report *r, enum report_lang lang)
{
    const struct order *o = r->o;
    char t[40], t2[40], dd[16];
    report_html_head(f, L("title"), lang);
    wrap(f, "<h1>", L("title"), " ");
    report_html_text(f, o->number[0] ? o->number : o->id);
    wrap(f, "</h1>\n<h2>", L("identity"), "</h2>\n<table class=\"kv\">\n");
    kv(f, L("order_id"), o->id);
    kv(f, L("number"), o->number);
    kv(f, L("issuer"), o->issuer);
    kv(f, L("basis"), o->legal_basis);
    kv(f, L("category"), o->category);
    kv(f, L("action"), L(o->action == ORDER_RESTORE ? "restore" : "restrict"));
    kv(f, L("issued"), o->issued);
    report_time((uint64_t)o->received_ts * 1000, r->tz, t);
    kv(f, L("received"), t);
    char src[256];
    snprintf(src, sizeof(src), "%s%s%s%s", o->source, o->sha256[0] ? " (" : "", o->sha256,
             o->sha256[0] ? ")" : "");
    kv(f, L("source"), src);
    char sig[512];
    snprintf(sig, sizeof(sig), "%s%s%s%s%s", order_sig_status_name(o->sig.status),
             o->sig.signer ? ": " : "", o->sig.signer ? o->sig.signer : "",
             o->sig.reason ? " — " : "", o->sig.reason ? o->sig.reason : "");
    kv(f, L("signature"), sig);
    kv(f, L("state"), L(r->state == STORE_REVOKED ? "revoked" : "active"));
    deadline_date_format(&r->deadline_date, dd);
    char dl[96];
    snprintf(dl, sizeof(dl), "%s (%u %s)", dd, r->deadline_days, L("days"));
    kv(f, L("deadline"), dl);
    fputs("<tr><th>", f);
    report_html_text(f, L("outcome"));
    fprintf(f, "</th><td class=\"%s\">", met_name(r->met));
    report_html_text(f, L(met_name(r->met)));
    fputs("</td></tr>\n", f);
    report_time(r->published_ms, r->tz, t);
    kv(f, L("published"), t);
    report_time(r->enforced_ms, r->tz, t);
    kv(f, L("enforced_all"), r->enforced_ms ? t : L("not_yet"));
    kv(f, L("zone"), r->tz);
    fputs("</table>\n", f);

    /* history */
    wrap(f, "<h2>", L("history"), "</h2>\n<table>\n");
    static const char *const hcols[] = { "event", "version", "time", "reached_all", "nodes" };
    th_row(f, hcols, 5, lang);
    for (size_t i = 0; i < r->nev; i++) {
        const struct report_event *e = &r->ev[i];
        report_time(e->time_ms, r->tz, t);
        report_time(e->all_ms, r->tz, t2);
        fputs("<tr><td>", f);
        report_html_text(f, L(event_key(e->kind)));
        fprintf(f, "</td><td>%llu</td><td>", (unsigned long long)e->version);
        report_html_text(f, t);
        wrap(f, "</td><td>", e->all_ms ? t2 : L("not_yet"), "</td><td class=\"small\">");
        for (size_t j = 0; j < e->nreach; j++) {
            report_time(e->reach[j].since_ms, r->tz, t);
            report_html_text(f, e->reach[j].node);
            fputs(": ", f);
            if (e->reach[j].since_ms)
                report_html_text(f, t);
            else
                fputs("<span class=\"bad\">—</span>", f);
            fputs("<br>", f);
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);

    /* resources */
    const struct report_event *ee = enforcing_event(r);
    fputs("<h2>", f);
    report_html_text(f, L("resources"));
    fprintf(f, " (%zu)</h2>\n<table>\n", r->nres);
    static const char *const cols[] = { "#",    "resource", "method", "enforced_all",
                                        "acks", "hits",     "verify" };
    th_row(f, cols, 7, lang);
    for (size_t i = 0; i < r->nres; i++) {
        const struct report_resource *rr = &r->res[i];
        fprintf(f, "<tr><td>%zu</td><td class=\"mono\">", i + 1);
        report_html_text(f, rr->r->norm);
        if (strcmp(rr->r->text, rr->r->norm) != 0) {
            wrap(f, "<br><span class=\"small\">", L("written"), ": ");
            report_html_text(f, rr->r->text);
            fputs("</span>", f);
        }
        fputs("</td><td>", f);
        report_html_text(f, rr->method);
        if (rr->nfallback) {
            wrap(f, "<br><span class=\"small\">", L("fallback"), ":");
            for (size_t j = 0; j < rr->nfallback; j++) {
                char seen[1024];
                fputs(" ", f);
                report_html_text(f, rr->fallback[j]);
                if (seen_text(r, rr->fallback[j], seen, sizeof(seen))) {
                    fputs(" [", f);
                    subst(f, L("seen"), seen, true);
                    fputs("]", f);
                }
            }
            fputs("</span>", f);
        }
        fputs("</td><td>", f);
        report_time(ee ? ee->all_ms : 0, r->tz, t);
        report_html_text(f, ee && ee->all_ms ? t : L("not_yet"));
        fputs("</td><td class=\"small\">", f);
        for (size_t j = 0; ee && j < ee->nreach; j++)
            if (ee->reach[j].since_ms) {
                report_html_text(f, ee->reach[j].node);
                fputs("<br>", f);
            }
        fprintf(f, "</td><td>%llu", (unsigned long long)rr->hits);
        if (rr->hits) {
            fputs("<br><span class=\"small\">", f);
            first_last(f, rr->first_hit_ms, rr->last_hit_ms, r->tz, lang, false);
        }
        if (rr->kdrop_packets) {
            char num[24];
            snprintf(num, sizeof(num), "%llu", (unsigned long long)rr->kdrop_packets);
            fputs("<br><span class=\"small\">", f);
            subst(f, L("kdrops"), num, true);
            first_last(f, rr->first_kdrop_ms, rr->last_kdrop_ms, r->tz, lang, true);
        }
        fprintf(f, "</td><td class=\"%s\">", rr->verdict == REPORT_NOT_BLOCKED ? "bad" : "");
        report_html_text(f, L(verdict_key(rr->verdict)));
        for (size_t j = 0; j < rr->nchecks; j++) {
            wrap(f, "<br><span class=\"small\">", rr->checks[j].probe, " ");
            report_html_text(f, rr->checks[j].target);
            wrap(f, ": ", rr->checks[j].how, "</span>");
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);

    /* rejected */
    fputs("<h2>", f);
    report_html_text(f, L("rejected"));
    fprintf(f, " (%zu)</h2>\n", o->nrej);
    if (!o->nrej) {
        wrap(f, "<p>", L("none"), "</p>\n");
    } else {
        static const char *const rcols[] = { "position", "written", "reason" };
        fputs("<table>\n", f);
        th_row(f, rcols, 3, lang);
        for (size_t i = 0; i < o->nrej; i++) {
            wrap(f, "<tr><td>", o->rej[i].pos, "</td><td class=\"mono\">");
            report_html_text(f, o->rej[i].text);
            wrap(f, "</td><td>", o->rej[i].reason, "</td></tr>\n");
        }
        fputs("</table>\n", f);
    }

    /* risks */
    wrap(f, "<h2>", L("risks"), "</h2>\n<ul>\n");
    for (size_t i = 0; i < r->nrisks; i++) {
        fputs("<li>", f);
        subst(f, L(risk_key(&r->risks[i])), r->risks[i].arg, true);
        fputs("</li>\n", f);
    }
    if (!r->nrisks) {
        wrap(f, "<li>", L("none"), "</li>\n");
    }
    fputs("</ul>\n", f);

    /* signature block */
    report_time(r->generated_ms, r->tz, t);
    wrap(f, "<p class=\"small\">", L("generated"), ": ");
    report_html_text(f, t);
    fputs(" · Qorgau</p>\n<table class=\"sign\">\n", f);
    static const char *const sl[] = { "officer", "sign", "date" };
    for (size_t i = 0; i < 3; i++) {
        wrap(f, "<tr><th>", L(sl[i]), "</th><td></td></tr>\n");
    }
    fputs("</table>\n", f);
    report_html_foot(f);
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static void jkey_str(FILE *f, const char *k, const char *v, bool first)
{
    jsonw_key(f, k, first);
    jsonw_cstr(f, v);
}

static void jkey_u64(FILE *f, const char *k, uint64_t v)
{
    jsonw_key(f, k, false);
    fprintf(f, "%llu", (unsigned long long)v);
}

static void json(FILE *f, const struct report *r)
{
    const struct order *o = r->o;
    char dd[16];
    fputc('{', f);
    jkey_str(f, "order", o->id, true);
    jkey_str(f, "number", o->number, false);
    jkey_str(f, "issuer", o->issuer, false);
    jkey_str(f, "legal_basis", o->legal_basis, false);
    jkey_str(f, "category", o->category, false);
    jkey_str(f, "action", order_action_name(o->action), false);
    jkey_str(f, "issued", o->issued, false);
    jkey_str(f, "received", o->received, false);
    jkey_u64(f, "received_ms", (uint64_t)(o->received_ts > 0 ? o->received_ts : 0) * 1000);
    jkey_str(f, "source", o->source, false);
    jkey_str(f, "sha256", o->sha256, false);
    jkey_str(f, "signature", order_sig_status_name(o->sig.status), false);
    jkey_str(f, "signer", o->sig.signer, false);
    jkey_str(f, "state", r->state == STORE_REVOKED ? "revoked" : "active", false);
    jkey_u64(f, "version", r->version);
    jkey_str(f, "timezone", r->tz, false);
    jkey_u64(f, "deadline_days", r->deadline_days);
    deadline_date_format(&r->deadline_date, dd);
    jkey_str(f, "deadline", dd, false);
    jkey_u64(f, "deadline_end_ms", (uint64_t)(r->deadline_end > 0 ? r->deadline_end : 0) * 1000);
    jkey_str(f, "deadline_outcome", met_name(r->met), false);
    jsonw_key(f, "overdue", false);
    fputs(r->overdue ? "true" : "false", f);
    jkey_u64(f, "published_ms", r->published_ms);
    jkey_u64(f, "enforced_all_ms", r->enforced_ms);
    jsonw_key(f, "events", false);
    fputc('[', f);
    for (size_t i = 0; i < r->nev; i++) {
        const struct report_event *e = &r->ev[i];
        fputs(i ? ",{" : "{", f);
        jkey_str(f, "kind", store_change_kind_name(e->kind), true);
        jkey_u64(f, "version", e->version);
        jkey_u64(f, "time_ms", e->time_ms);
        jkey_u64(f, "reached_all_ms", e->all_ms);
        jsonw_key(f, "nodes", false);
        fputc('[', f);
        for (size_t j = 0; j < e->nreach; j++) {
            fputs(j ? ",{" : "{", f);
            jkey_str(f, "node", e->reach[j].node, true);
            jsonw_key(f, "alive", false);
            fputs(e->reach[j].alive ? "true" : "false", f);
            jkey_u64(f, "since_ms", e->reach[j].since_ms);
            fputc('}', f);
        }
        fputs("]}", f);
    }
    fputc(']', f);
    const struct report_event *ee = enforcing_event(r);
    jsonw_key(f, "resources", false);
    fputc('[', f);
    for (size_t i = 0; i < r->nres; i++) {
        const struct report_resource *rr = &r->res[i];
        fputs(i ? ",{" : "{", f);
        jkey_str(f, "resource", rr->r->norm, true);
        jkey_str(f, "written", rr->r->text, false);
        jkey_str(f, "category", rr->r->category ? rr->r->category : o->category, false);
        jkey_str(f, "method", rr->method, false);
        jsonw_key(f, "ip_fallback_addresses", false);
        fputc('[', f);
        for (size_t j = 0; j < rr->nfallback; j++) {
            if (j)
                fputc(',', f);
            jsonw_cstr(f, rr->fallback[j]);
        }
        fputc(']', f);
        jsonw_key(f, "ip_fallback_names_seen", false);
        fputc('[', f);
        for (size_t j = 0, w = 0; j < rr->nfallback; j++) {
            const struct seendoc_addr *a = seendoc_find(r->seen, r->nseen, rr->fallback[j]);
            if (!seendoc_names(a))
                continue;
            fputs(w++ ? ",{" : "{", f);
            jkey_str(f, "address", rr->fallback[j], true);
            jkey_u64(f, "names", seendoc_names(a));
            jsonw_key(f, "examples", false);
            fputc('[', f);
            for (unsigned k = 0; k < a->nex; k++) {
                if (k)
                    fputc(',', f);
                jsonw_cstr(f, a->ex[k]);
            }
            fputs("]}", f);
        }
        fputc(']', f);
        jkey_u64(f, "enforced_all_ms", ee ? ee->all_ms : 0);
        jsonw_key(f, "acknowledged_by", false);
        fputc('[', f);
        bool first = true;
        for (size_t j = 0; ee && j < ee->nreach; j++)
            if (ee->reach[j].since_ms) {
                if (!first)
                    fputc(',', f);
                first = false;
                jsonw_cstr(f, ee->reach[j].node);
            }
        fputc(']', f);
        jkey_u64(f, "hits", rr->hits);
        jkey_u64(f, "first_hit_ms", rr->first_hit_ms);
        jkey_u64(f, "last_hit_ms", rr->last_hit_ms);
        jkey_u64(f, "kernel_dropped_packets", rr->kdrop_packets);
        jkey_u64(f, "kernel_dropped_bytes", rr->kdrop_bytes);
        jkey_u64(f, "first_kernel_drop_ms", rr->first_kdrop_ms);
        jkey_u64(f, "last_kernel_drop_ms", rr->last_kdrop_ms);
        jkey_str(f, "verification", verdict_name(rr->verdict), false);
        jsonw_key(f, "checks", false);
        fputc('[', f);
        for (size_t j = 0; j < rr->nchecks; j++) {
            const struct report_check *c = &rr->checks[j];
            fputs(j ? ",{" : "{", f);
            jkey_str(f, "probe", c->probe, true);
            jkey_str(f, "target", c->target, false);
            jsonw_key(f, "blocked", false);
            fputs(c->blocked ? "true" : "false", f);
            jkey_str(f, "how", c->how, false);
            jkey_u64(f, "time_ms", c->time_ms);
            fputc('}', f);
        }
        fputs("]}", f);
    }
    fputc(']', f);
    jsonw_key(f, "rejected", false);
    fputc('[', f);
    for (size_t i = 0; i < o->nrej; i++) {
        fputs(i ? ",{" : "{", f);
        jkey_str(f, "position", o->rej[i].pos, true);
        jkey_str(f, "text", o->rej[i].text, false);
        jkey_str(f, "reason", o->rej[i].reason, false);
        fputc('}', f);
    }
    fputc(']', f);
    jsonw_key(f, "verification_ms", false);
    fprintf(f, "%llu", (unsigned long long)r->verify_ms);
    jsonw_key(f, "ech_passed_fleet", false);
    fprintf(f, "%llu", (unsigned long long)r->ech_passed);
    jsonw_key(f, "risks", false);
    fputc('[', f);
    for (size_t i = 0; i < r->nrisks; i++) {
        fputs(i ? ",{" : "{", f);
        jkey_str(f, "kind", risk_code(r->risks[i].kind), true);
        jkey_str(f, "subject", r->risks[i].arg, false);
        jsonw_key(f, "text", false);
        char *txt = NULL;
        size_t tl = 0;
        FILE *m = open_memstream(&txt, &tl);
        if (m) {
            subst(m, report_label(risk_key(&r->risks[i]), REPORT_EN), r->risks[i].arg, false);
            fclose(m);
        }
        jsonw_cstr(f, txt);
        free(txt);
        fputc('}', f);
    }
    fputc(']', f);
    jkey_u64(f, "generated_ms", r->generated_ms);
    fputs("}\n", f);
}

/* ---- CSV ------------------------------------------------------------------------------------ */

static void csv_u64(FILE *f, uint64_t v)
{
    fprintf(f, ",%llu", (unsigned long long)v);
}

static void csv_next(FILE *f, const char *s)
{
    fputc(',', f);
    report_csv_field(f, s);
}

static void csv(FILE *f, const struct report *r)
{
    const struct order *o = r->o;
    const struct report_event *ee = enforcing_event(r);
    char t[40], dd[16];
    deadline_date_format(&r->deadline_date, dd);
    fputs("order,status,resource,written,method,ip_fallback_addresses,enforced_all,"
          "acknowledged_by,hits,first_hit,last_hit,verification,position,reason,deadline,"
          "deadline_outcome,ip_fallback_names_seen,kernel_dropped_packets,first_kernel_drop,"
          "last_kernel_drop\r\n",
          f);
    for (size_t i = 0; i < r->nres; i++) {
        const struct report_resource *rr = &r->res[i];
        report_csv_field(f, o->id);
        csv_next(f, "accepted");
        csv_next(f, rr->r->norm);
        csv_next(f, rr->r->text);
        csv_next(f, rr->method);
        fputc(',', f);
        char buf[1024];
        size_t n = 0;
        buf[0] = '\0';
        for (size_t j = 0; j < rr->nfallback && n < sizeof(buf); j++)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", j ? " " : "", rr->fallback[j]);
        report_csv_field(f, buf);
        report_time(ee ? ee->all_ms : 0, r->tz, t);
        csv_next(f, t);
        n = 0;
        buf[0] = '\0';
        for (size_t j = 0; ee && j < ee->nreach && n < sizeof(buf); j++)
            if (ee->reach[j].since_ms)
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? " " : "",
                                      ee->reach[j].node);
        csv_next(f, buf);
        csv_u64(f, rr->hits);
        report_time(rr->first_hit_ms, r->tz, t);
        csv_next(f, t);
        report_time(rr->last_hit_ms, r->tz, t);
        csv_next(f, t);
        csv_next(f, verdict_name(rr->verdict));
        fputs(",,", f);
        csv_next(f, dd);
        csv_next(f, met_name(r->met));
        n = 0;
        buf[0] = '\0';
        for (size_t j = 0; j < rr->nfallback && n < sizeof(buf); j++) {
            char seen[512];
            if (seen_text(r, rr->fallback[j], seen, sizeof(seen)))
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s ~%s", n ? "; " : "",
                                      rr->fallback[j], seen);
        }
        csv_next(f, buf);
        csv_u64(f, rr->kdrop_packets);
        report_time(rr->first_kdrop_ms, r->tz, t);
        csv_next(f, t);
        report_time(rr->last_kdrop_ms, r->tz, t);
        csv_next(f, t);
        fputs("\r\n", f);
    }
    for (size_t i = 0; i < o->nrej; i++) {
        report_csv_field(f, o->id);
        csv_next(f, "rejected");
        fputc(',', f);
        csv_next(f, o->rej[i].text);
        fputs(",,,,,,,,", f);
        csv_next(f, o->rej[i].pos);
        csv_next(f, o->rej[i].reason);
        csv_next(f, dd);
        csv_next(f, met_name(r->met));
        fputs(",,,,\r\n", f);
    }
}

int report_render(FILE *f, const struct report *r, enum report_format fmt, enum report_lang lang)
{
    if (fmt == REPORT_JSON)
        json(f, r);
    else if (fmt == REPORT_CSV)
        csv(f, r);
    else
        html(f, r, lang);
    return ferror(f) ? -EIO : 0;
}
