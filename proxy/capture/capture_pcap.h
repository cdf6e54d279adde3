/* capture_pcap.h - what the pcap file back end offers beyond struct capture_ops: frames that
 * stay valid while the next few are read (so a caller can look ahead, e.g. to prefetch flow
 * state). */
#ifndef QG_CAPTURE_PCAP_H
#define QG_CAPTURE_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/capture/capture.h"

/* A frame read by this back end's own reader (capture_pcap_frame_kept()) stays valid while at
 * least this many more frames are read from the same capture. */
#define CAPTURE_PCAP_KEEP 16

/* c must come from capture_pcap_open_file(). Fills fr[0..n) with the next n <= max frames
 * (max >= 1) and returns n; 0 at end of input; a negative errno with a message in err. All n
 * frames stay valid until the next call of this function or of capture_next() on c. A classic
 * pcap file in host byte order is read by this back end's own reader and gives up to max frames
 * per call (each valid while CAPTURE_PCAP_KEEP more are read); anything else (pcapng, other
 * byte order, another link type, a record libpcap must judge) is read by libpcap one frame per
 * call. So the frames of one call are all read the same way:
 * capture_pcap_frame_kept() says the same of each. */
int capture_pcap_next_batch(struct capture *c, struct capture_frame *fr, size_t max, char *err,
                            size_t errlen);

/* The next frame of c (from capture_pcap_open_file()) into *fr: 1, 0 at end of input, a negative
 * errno with a message in err, as capture_pcap_next_batch() with max 1. *kept tells what
 * capture_pcap_frame_kept() would of it (set when 1 is returned). */
int capture_pcap_next_frame(struct capture *c, struct capture_frame *fr, bool *kept, char *err,
                            size_t errlen);

/* Whether fr (from c, which must come from capture_pcap_open_file()) was read by this back
 * end's own reader: its bytes then stay valid while CAPTURE_PCAP_KEEP more frames are read, not
 * only until the next read (so a reader may look a few frames ahead). */
bool capture_pcap_frame_kept(const struct capture *c, const struct capture_frame *fr);

/* How far into the file c has read, in bytes (for progress lines); 0 if unknown. */
uint64_t capture_pcap_offset(struct capture *c);

#endif
