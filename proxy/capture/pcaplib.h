/* pcaplib.h - libpcap loaded when a capture needs it rather than by every command.
 *
 * A classic pcap file in host byte order is read by capture_pcap.c's own reader, and queue and
 * inline modes capture nothing through libpcap; linked in, libpcap and what Debian's build of it
 * brings (libdbus, libsystemd, libgcrypt, liblzma, libzstd, liblz4, libgpg-error: 8 shared
 * objects and 3,500 relocations) cost every start of `qorgau` about 2.4 ms, 3 % of a scan of
 * the mobile-shaped benchmark capture (docs/BENCHMARKS.md "Reading the file"), and put D-Bus
 * and systemd's journal code in every daemon's address space. They are loaded by tap mode's
 * live capture, by pcapng files and by any file or record the own reader leaves to libpcap.
 * The table's types are the header's own (__typeof__), so a call through it is checked as a
 * direct call would be. */
#ifndef QG_PCAPLIB_H
#define QG_PCAPLIB_H

#include <pcap/pcap.h>
#include <stddef.h>

#define PCAPLIB_SONAME "libpcap.so.0.8" /* Debian 12: libpcap0.8 */

struct pcaplib {
    __typeof__(pcap_open_offline) *open_offline;
    __typeof__(pcap_fopen_offline) *fopen_offline;
    __typeof__(pcap_create) *create;
    __typeof__(pcap_activate) *activate;
    __typeof__(pcap_close) *close;
    __typeof__(pcap_next_ex) *next_ex;
    __typeof__(pcap_geterr) *geterr;
    __typeof__(pcap_statustostr) *statustostr;
    __typeof__(pcap_datalink) *datalink;
    __typeof__(pcap_datalink_val_to_name) *datalink_val_to_name;
    __typeof__(pcap_file) *file;
    __typeof__(pcap_fileno) *fileno;
    __typeof__(pcap_get_selectable_fd) *get_selectable_fd;
    __typeof__(pcap_set_timeout) *set_timeout;
    __typeof__(pcap_set_immediate_mode) *set_immediate_mode;
    __typeof__(pcap_set_snaplen) *set_snaplen;
    __typeof__(pcap_set_buffer_size) *set_buffer_size;
    __typeof__(pcap_set_promisc) *set_promisc;
    __typeof__(pcap_setnonblock) *setnonblock;
    __typeof__(pcap_setdirection) *setdirection;
    __typeof__(pcap_compile) *compile;
    __typeof__(pcap_setfilter) *setfilter;
    __typeof__(pcap_freecode) *freecode;
    __typeof__(pcap_stats) *stats;
};

/* The functions, libpcap loaded at the first call (thread-safe; it stays loaded for the life of
 * the process). NULL with err = "libpcap.so.0.8: dlerror() text" when it cannot be loaded or
 * lacks a function; a later call tries again. */
const struct pcaplib *pcaplib_get(char *err, size_t errlen);

#endif
