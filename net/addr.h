/* addr: what the network limits need to know about an IP address: the
 * range it belongs to (one /24 of IPv4, one /64 of IPv6, by default), so
 * that limits hold per range and not per exact address (one host of IPv6
 * has a whole /64), and whether it is special (loopback, private, link
 * local...) and so not to be dialled on a stranger's word.
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, what a socket listening on
 * "::" sees of an IPv4 client) count as the IPv4 address they carry.
 *
 * And how the tracker's answers are drawn from many ranges
 * (mfs_addr_mix), so that one range holds few places in them.
 * Pure functions but for the randomness; any thread. */
#ifndef MFS_ADDR_H
#define MFS_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define MFS_ADDR_RANGE_BYTES 17
#define MFS_ADDR_DEFAULT_V4_BITS 24
#define MFS_ADDR_DEFAULT_V6_BITS 64

/* The range of sa as a key: a family byte, then the address with every bit
 * past the prefix cleared (v4_bits of 32 for IPv4, v6_bits of 128 for
 * IPv6; 0 for either means its default, /24 or /64; more than the address
 * has means the whole address). Two addresses are in one range exactly
 * when their keys are equal. Returns 0, or -EAFNOSUPPORT (key zeroed). */
int mfs_addr_range(uint8_t out[static MFS_ADDR_RANGE_BYTES], const struct sockaddr *sa,
		   unsigned v4_bits, unsigned v6_bits);

/* 1 when sa is not a public unicast address: unspecified, loopback,
 * private (10/8, 172.16/12, 192.168/16, fc00::/7), carrier-grade NAT
 * (100.64/10), link local (169.254/16, fe80::/10), multicast, broadcast,
 * reserved (0/8, 240/4), documentation and benchmarking ranges; else 0. */
int mfs_addr_is_special(const struct sockaddr *sa);

/* Draws up to want of n items, each of a range (range[i]: item i's range
 * key, MFS_ADDR_RANGE_BYTES bytes), never one whose skip[i] is nonzero
 * (skip may be NULL): their indices into pick[] (*npick of them), in a
 * random order where the k-th item of any range comes after the (k-1)-th
 * of every range. So a range that has many items holds at most one place
 * in want when want ranges or more have items. 0 or -ENOMEM. */
int mfs_addr_mix(size_t *pick, size_t *npick, size_t want, size_t n,
		 const uint8_t *const *range, const uint8_t *skip);

#endif
