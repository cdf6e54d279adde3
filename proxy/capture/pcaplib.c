/* pcaplib.c - libpcap through dlopen(3) (see pcaplib.h). */
#include "proxy/capture/pcaplib.h"

#include <pthread.h>
#include <stdbool.h>

#include "common/dlib.h"

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pcaplib lib;
static bool lib_ready;

const struct pcaplib *pcaplib_get(char *err, size_t errlen)
{
    /* every field of struct pcaplib is libpcap's function of that name with "pcap_" before it */
#define PCAP_SYM(f) DLIB_SYM(lib, f, "pcap_" #f)
    static const struct dlib_sym syms[] = {
        PCAP_SYM(open_offline),
        PCAP_SYM(fopen_offline),
        PCAP_SYM(create),
        PCAP_SYM(activate),
        PCAP_SYM(close),
        PCAP_SYM(next_ex),
        PCAP_SYM(geterr),
        PCAP_SYM(statustostr),
        PCAP_SYM(datalink),
        PCAP_SYM(datalink_val_to_name),
        PCAP_SYM(file),
        PCAP_SYM(fileno),
        PCAP_SYM(get_selectable_fd),
        PCAP_SYM(set_timeout),
        PCAP_SYM(set_immediate_mode),
        PCAP_SYM(set_snaplen),
        PCAP_SYM(set_buffer_size),
        PCAP_SYM(set_promisc),
        PCAP_SYM(setnonblock),
        PCAP_SYM(setdirection),
        PCAP_SYM(compile),
        PCAP_SYM(setfilter),
        PCAP_SYM(freecode),
        PCAP_SYM(stats),
    };
#undef PCAP_SYM
    pthread_mutex_lock(&lib_lock);
    if (!lib_ready) /* (a failure is not for ever: a later call tries again) */
        lib_ready =
            dlib_open(PCAPLIB_SONAME, syms, sizeof(syms) / sizeof(syms[0]), err, errlen) != NULL;
    pthread_mutex_unlock(&lib_lock);
    return lib_ready ? &lib : NULL;
}
