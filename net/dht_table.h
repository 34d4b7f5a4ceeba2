/* dht_table: a DHT node's routing table (BEP 5, after Kademlia).
 *
 * Nodes sit in 160 buckets by the first bit in which their id differs
 * from ours, at most MFS_DHT_K (8) a bucket. A node is good while it has
 * answered or queried us within MFS_DHT_GOOD_SECS (15 minutes),
 * questionable after that, bad after MFS_DHT_BAD_FAILS queries in a row
 * that it did not answer. A full bucket takes a new node only in the place
 * of a bad one; a node already known keeps its address (another address
 * claiming its id is ignored while it is not bad), so no one takes over a
 * known id by sending from elsewhere. Time is passed in (monotonic
 * seconds). One owner, no locks; what it hands out are copies. */
#ifndef MFS_DHT_TABLE_H
#define MFS_DHT_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "net/krpc.h"

#define MFS_DHT_K 8
#define MFS_DHT_GOOD_SECS (15 * 60)
#define MFS_DHT_BAD_FAILS 2

struct mfs_dht_table;

/* An empty table for a node of id self. 0 or -ENOMEM. */
int mfs_dht_table_new(struct mfs_dht_table **out, const uint8_t self[static MFS_KRPC_ID_BYTES]);
void mfs_dht_table_free(struct mfs_dht_table *t); /* NULL-safe */

/* We heard from n at now (an answer to our query, or a query of its own):
 * 0 when n is now in the table (added, or known and refreshed); MFS_E_FULL
 * when its bucket holds MFS_DHT_K nodes none of which is bad (the caller
 * may ping the stalest, mfs_dht_table_stalest, and try again);
 * MFS_E_EXISTS when its id is known at another address that is not bad;
 * -EINVAL for our own id or an address family other than 4 or 6. */
int mfs_dht_table_heard(struct mfs_dht_table *t, const struct mfs_krpc_node *n, uint64_t now);

/* A query to the node of id went unanswered: one failure more (nothing
 * when the id is unknown). */
void mfs_dht_table_failed(struct mfs_dht_table *t, const uint8_t id[static MFS_KRPC_ID_BYTES]);

/* The node heard from longest ago in the bucket where id would go, when it
 * is not good at now: 0 with *out, or MFS_E_NOTFOUND. */
int mfs_dht_table_stalest(const struct mfs_dht_table *t, const uint8_t id[static MFS_KRPC_ID_BYTES],
			  uint64_t now, struct mfs_krpc_node *out);

/* Up to max nodes that are not bad, nearest to target first (XOR
 * distance), into out; returns how many. */
size_t mfs_dht_table_closest(const struct mfs_dht_table *t,
			     const uint8_t target[static MFS_KRPC_ID_BYTES],
			     struct mfs_krpc_node *out, size_t max);

/* How many nodes the table holds (bad ones included). */
size_t mfs_dht_table_count(const struct mfs_dht_table *t);

/* The table as bytes, to keep (in the volume) and start from next time:
 *
 *   "MDT2" (4 bytes), our id (20 bytes), the UDP port the node was bound
 *   on (2 bytes, big-endian; 0: none known), then for each node that is
 *   not bad, nearest bucket last: its family (one byte, 4 or 6) and its
 *   compact node info (BEP 5: id, address, port; 26 or 38 bytes).
 *
 * The port is kept so that a node starts again where the others knew it
 * (net/swarm_dht reuses it). Times and failure counts are not kept: they
 * mean nothing in another process. At most MFS_DHT_TABLE_SAVE_MAX bytes.
 * 0 with *len, or -ENOBUFS when cap is too small. */
#define MFS_DHT_TABLE_HEAD (4 + MFS_KRPC_ID_BYTES + 2)
#define MFS_DHT_TABLE_SAVE_MAX (MFS_DHT_TABLE_HEAD + 160 * MFS_DHT_K * (1 + MFS_KRPC_NODE6_BYTES))
int mfs_dht_table_save(const struct mfs_dht_table *t, uint16_t port, uint8_t *out, size_t cap,
		       size_t *len);
/* A new table from saved bytes: our id and the nodes, each as heard at now
 * (so questionable once MFS_DHT_GOOD_SECS passed; a node that does not
 * answer goes bad as any other), and *port (may be NULL) the port saved.
 * The older form "MDT1" (the same without the port, before megafs saved
 * one) loads too, with *port 0. 0, MFS_E_FORMAT for bytes of neither form
 * (the reason in why), or -ENOMEM. */
int mfs_dht_table_load(struct mfs_dht_table **out, uint16_t *port, const uint8_t *bytes,
		       size_t len, uint64_t now, char *why, size_t why_len);

/* The id the table is built around (ours; as long as t lives). */
const uint8_t *mfs_dht_table_id(const struct mfs_dht_table *t);

#endif
