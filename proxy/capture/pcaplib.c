/* pcaplib.c - libpcap through dlopen(3) (see pcaplib.h). */
#include "proxy/capture/pcaplib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pcaplib lib;
static bool lib_ready;

/* Every function of lib from the handle; false with err naming the first one missing. */
static bool resolve(void *h, char *err, size_t errlen)
{
    const char *missing = NULL;
#define SYM(field, name)                                                \
    do {                                                                \
        void *p_ = dlsym(h, name);                                      \
        if (!p_ && !missing)                                            \
            missing = name;                                             \
        /* (POSIX: the function pointer dlsym() returns as a void *) */ \
        *(void **)&lib.field = p_;                                      \
    } while (0)
    SYM(open_offline, "pcap_open_offline");
    SYM(fopen_offline, "pcap_fopen_offline");
    SYM(create, "pcap_create");
    SYM(activate, "pcap_activate");
    SYM(close, "pcap_close");
    SYM(next_ex, "pcap_next_ex");
    SYM(geterr, "pcap_geterr");
    SYM(statustostr, "pcap_statustostr");
    SYM(datalink, "pcap_datalink");
    SYM(datalink_val_to_name, "pcap_datalink_val_to_name");
    SYM(snapshot, "pcap_snapshot");
    SYM(file, "pcap_file");
    SYM(fileno, "pcap_fileno");
    SYM(get_selectable_fd, "pcap_get_selectable_fd");
    SYM(set_timeout, "pcap_set_timeout");
    SYM(set_immediate_mode, "pcap_set_immediate_mode");
    SYM(set_snaplen, "pcap_set_snaplen");
    SYM(set_buffer_size, "pcap_set_buffer_size");
    SYM(set_promisc, "pcap_set_promisc");
    SYM(setnonblock, "pcap_setnonblock");
    SYM(setdirection, "pcap_setdirection");
    SYM(compile, "pcap_compile");
    SYM(setfilter, "pcap_setfilter");
    SYM(freecode, "pcap_freecode");
    SYM(stats, "pcap_stats");
#undef SYM
    if (missing)
        snprintf(err, errlen, "%s: no function %s", PCAPLIB_SONAME, missing);
    return !missing;
}

const struct pcaplib *pcaplib_get(char *err, size_t errlen)
{
    pthread_mutex_lock(&lib_lock);
    if (!lib_ready) {
        void *h = dlopen(PCAPLIB_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *why = dlerror();
            snprintf(err, errlen, "%s: %s", PCAPLIB_SONAME, why ? why : "cannot be loaded");
        } else {
            lib_ready = resolve(h, err, errlen);
            if (!lib_ready) /* a later call tries again */
                dlclose(h);
        }
    }
    pthread_mutex_unlock(&lib_lock);
    return lib_ready ? &lib : NULL;
}
