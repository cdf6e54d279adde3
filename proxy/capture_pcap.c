/* capture_pcap.c - the libpcap capture back end (pcap and pcapng files). */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"

struct capture_pcap {
    struct capture base;    /* first: the generic handle */
    pcap_t *pc;
    char *path;
};

static int cpcap_next(struct capture *c, struct capture_frame *fr, char *err, size_t errlen)
{
    struct capture_pcap *cp = (struct capture_pcap *)c;
    struct pcap_pkthdr *h;
    const u_char *data;

    int rc = pcap_next_ex(cp->pc, &h, &data);
    if (rc == 1) {
        fr->data = data;
        fr->caplen = h->caplen;
        fr->wirelen = h->len;
        fr->ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        return 1;
    }
    if (rc == PCAP_ERROR_BREAK)
        return 0;
    if (rc == 0)  /* live timeout: no packet yet */
        return -EAGAIN;
    snprintf(err, errlen, "capture: %s: pcap_next_ex() failed: %s", cp->path, pcap_geterr(cp->pc));
    return -EIO;
}

static int cpcap_linktype(const struct capture *c)
{
    const struct capture_pcap *cp = (const struct capture_pcap *)c;
    return pcap_datalink(cp->pc);
}

static void cpcap_close(struct capture *c)
{
    struct capture_pcap *cp = (struct capture_pcap *)c;
    pcap_close(cp->pc);
    free(cp->path);
    free(cp);
}

static const struct capture_ops capture_pcap_ops = {
    .name = "pcap",
    .next = cpcap_next,
    .linktype = cpcap_linktype,
    .close = cpcap_close,
};

struct capture *capture_pcap_open_file(const char *path, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    struct capture_pcap *cp = calloc(1, sizeof(*cp));
    if (!cp) {
        snprintf(err, errlen, "capture: %s: out of memory", path);
        return NULL;
    }
    cp->pc = pcap_open_offline(path, ebuf);
    if (!cp->pc) {
        snprintf(err, errlen, "capture: %s: cannot open: %s", path, ebuf);
        free(cp);
        return NULL;
    }
    cp->path = strdup(path);
    cp->base.ops = &capture_pcap_ops;
    return &cp->base;
}
