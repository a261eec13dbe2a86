/* ARP and ICMP echo answers for the hvt test unikernels (10.77.0.2): the network part that
 * net.c (hypercalls) and net_ring.c (the 0.12 ring) share; how a frame travels is theirs. */
#ifndef HVT_PING_H
#define HVT_PING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Turns an ARP request for us or an echo request to us in frame[0..len) around in place, from
 * mac; returns the reply's length (0: nothing to answer) and sets *echo for an echo reply. */
size_t ping_answer(uint8_t *frame, size_t len, const uint8_t mac[6], bool *echo);

#endif
