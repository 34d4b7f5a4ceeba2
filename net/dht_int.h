/* dht_int: what the files of the DHT node share (net/dht.c: the node,
 * its sockets and transactions; net/dht_answer.c: answers to queries;
 * net/dht_lookup.c: iterative lookups). Not for other modules. */
#ifndef MFS_DHT_INT_H
#define MFS_DHT_INT_H

#include "net/dht.h"
#include "net/dht_token.h"

#define DHT_PENDING_MAX 256 /* queries of ours awaiting an answer, at most */
#define DHT_TID_BYTES 4

struct mfs_dht_lookup;

/* A query we sent and wait for. */
struct dht_pending {
	int used;
	uint8_t tid[DHT_TID_BYTES];
	struct sockaddr_storage to;
	uint64_t deadline_ms;
	unsigned sends;                 /* 1 + retries so far */
	uint8_t id[MFS_KRPC_ID_BYTES];  /* the node's id, when has_id */
	int has_id;
	struct mfs_dht_lookup *lookup;  /* NULL: a ping of the table's upkeep */
	int store_phase;                /* a put or announce_peer of the lookup */
	uint8_t query[MFS_KRPC_MSG_MAX];
	size_t query_len;
};

struct mfs_dht {
	uv_loop_t *loop;
	uv_udp_t udp4, udp6;
	int has4, has6;
	uv_timer_t tick;
	int open_handles;               /* closed when 0 after mfs_dht_close */
	int closing;
	uint8_t id[MFS_KRPC_ID_BYTES];
	struct mfs_dht_config cfg;
	struct mfs_dht_table *table;
	struct mfs_dht_tokens *tokens;
	struct mfs_dht_store *store;
	struct dht_pending *pending;    /* DHT_PENDING_MAX */
	struct mfs_dht_lookup *lookups; /* running, a list */
	uint64_t last_expire;
	struct mfs_dht_stats stats;
	uint8_t rx[MFS_KRPC_MSG_MAX];
	struct mfs_bnode arena[MFS_KRPC_ARENA];
};

uint64_t mfs_dht__now(const struct mfs_dht *d);
/* Sends buf to `to` (the socket of its family); 0 or -errno. */
int mfs_dht__send(struct mfs_dht *d, const uint8_t *buf, size_t len, const struct sockaddr *to);
/* Encodes q (its tid and id are set here), sends it to the node of id
 * (NULL: not known yet) at `to` and keeps it pending for lookup. 0,
 * -EBUSY (no free slot) or another send error. */
int mfs_dht__query(struct mfs_dht *d, struct mfs_krpc_msg *q, const struct sockaddr *to,
		   const uint8_t *id, struct mfs_dht_lookup *lookup, int store_phase);
/* The contact of a sender: its id and the address it sent from. */
int mfs_dht__contact(struct mfs_krpc_node *n, const uint8_t id[static 20],
		     const struct sockaddr *from);
void mfs_dht__sockaddr(struct sockaddr_storage *out, const struct mfs_krpc_node *n);

/* dht_answer.c: answers the query q (of q_len bytes) from `from`. */
void mfs_dht__answer(struct mfs_dht *d, const struct mfs_krpc_msg *q, size_t q_len,
		     const struct sockaddr *from);

/* dht_lookup.c: an answer (m of kind 'r' or 'e') or a timeout (m NULL) of
 * a query of lookup sent to `to` (its pending slot is already free). */
void mfs_dht__lookup_reply(struct mfs_dht *d, struct mfs_dht_lookup *lookup,
			   const struct sockaddr *to, int store_phase,
			   const struct mfs_krpc_msg *m);
/* A query of lookup's was sent again after its timeout. */
void mfs_dht__lookup_resent(struct mfs_dht_lookup *lookup);
/* Ends every lookup with -ECANCELED. */
void mfs_dht__lookup_cancel_all(struct mfs_dht *d);

#endif
