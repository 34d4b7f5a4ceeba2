/* dht: a Mainline DHT node (BEP 5, BEP 44) on a libuv loop, over UDP on
 * IPv4 and IPv6.
 *
 * As a server it answers ping, find_node, get_peers, announce_peer, get
 * and put (net/dht_answer.c), hands out and checks write tokens
 * (net/dht_token: a token from another address is refused), and stores
 * other nodes' peers and items within limits for 2 hours
 * (net/dht_store). No answer is more than MFS_DHT_AMPLIFICATION times
 * the size of the query it answers: nodes, then peers, then a value are
 * left out until it fits. A datagram that does not parse is dropped.
 * Nodes that query (unless read-only: BEP 43's "ro") or answer go into
 * the routing table (net/dht_table);
 * when their bucket is full, its stalest node is pinged (one ping at a
 * time) so that a node that went away makes room. Our queries carry
 * random 4-byte transaction ids; an answer counts only from the address
 * the query went to.
 *
 * As a client it runs iterative lookups (net/dht_lookup.c): find_node,
 * get_peers, BEP 44 get (the valid item of the highest seq), and put and
 * announce_peer, which first get write tokens from the MFS_DHT_K nodes
 * nearest the target and then write to them; MFS_DHT_ALPHA queries in
 * flight, each retried MFS_DHT_RETRIES times after its timeout, at most
 * MFS_DHT_LOOKUP_QUERIES queries a lookup. It contacts only the addresses
 * a caller gives (bootstrap) and the nodes they lead to: no well-known
 * router is built in.
 *
 * Threads: every function runs on the loop's thread (from another thread,
 * through mfs_loop_call / mfs_loop_post, net/loop.h); callbacks run
 * there too. A result's pointers live until its callback returns. Keys
 * stay with the caller: a mutable put takes a signature made with
 * net/dht_item. */
#ifndef MFS_DHT_H
#define MFS_DHT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "net/dht_item.h"
#include "net/dht_store.h"
#include "net/dht_table.h"
#include "net/krpc.h"

#define MFS_DHT_AMPLIFICATION 8    /* an answer's bytes <= this * its query's bytes */
#define MFS_DHT_ALPHA 3            /* queries in flight per lookup */
#define MFS_DHT_RETRIES 1          /* sends again of a query that timed out */
#define MFS_DHT_TIMEOUT_MS 2000    /* default wait for an answer */
#define MFS_DHT_LOOKUP_QUERIES 128 /* queries a lookup sends at most (retries too) */
#define MFS_DHT_PEERS_MAX 200      /* peers a get_peers lookup collects at most */

struct mfs_dht;

struct mfs_dht_config {
	/* Where to listen: an AF_INET and/or an AF_INET6 address (port 0:
	 * any free one); NULL for none. A node with neither sends nothing
	 * (the fuzz harness feeds it with mfs_dht_receive). */
	const struct sockaddr *bind4, *bind6;
	const uint8_t *id;             /* 20 bytes; NULL: random */
	/* Bytes of mfs_dht_table_save to start from (our id and the nodes;
	 * the port saved there is not bound unless bind4/bind6 name it), or
	 * NULL. */
	const uint8_t *table;
	size_t table_len;
	struct mfs_dht_limits limits;  /* 0 fields: defaults (net/dht_store.h) */
	unsigned timeout_ms;           /* 0: MFS_DHT_TIMEOUT_MS */
	/* Monotonic seconds for tokens, the table and expiry (tests age the
	 * node with their own); NULL: the loop's clock. */
	uint64_t (*clock)(void *ctx);
	void *clock_ctx;
	/* Called with each datagram the node sends, before it goes (tests,
	 * the fuzz harness); NULL for none. */
	void (*sent)(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to);
	void *sent_ctx;
};

/* A new node on loop: 0, -errno (bind failed, -ENOMEM) or MFS_E_FORMAT
 * (cfg->table not valid saved bytes). After a failed bind the handles
 * opened so far are closed: the loop must run once more to free them.
 * cfg and what it points to are read during the call only. */
int mfs_dht_new(struct mfs_dht **out, uv_loop_t *loop, const struct mfs_dht_config *cfg);
/* Ends every lookup (its callback gets -ECANCELED), closes the sockets and
 * timer; the memory is freed once the loop ran their close callbacks.
 * NULL-safe. */
void mfs_dht_close(struct mfs_dht *d);

/* The bound port of the family (4 or 6), or 0 without such a socket. */
uint16_t mfs_dht_port(const struct mfs_dht *d, int family);
/* Our node id (20 bytes, as long as the node lives). */
const uint8_t *mfs_dht_id(const struct mfs_dht *d);

/* One datagram as if it came from `from`: what the sockets call for each
 * one they read (public for the fuzz harness). Never fails: what is not
 * a valid message is counted and dropped. */
void mfs_dht_receive(struct mfs_dht *d, const uint8_t *buf, size_t len,
		     const struct sockaddr *from);

/* The routing table as bytes (mfs_dht_table_save's form), with the port
 * bound for IPv4, else for IPv6 (0 with neither). */
int mfs_dht_save_table(const struct mfs_dht *d, uint8_t *out, size_t cap, size_t *len);

struct mfs_dht_stats {
	size_t nodes;                  /* in the routing table */
	size_t items, peers;           /* stored for others */
	uint64_t received, dropped;    /* datagrams, and those that did not parse */
	uint64_t answered, refused;    /* queries answered, and with an error */
	uint64_t sent;                 /* datagrams sent */
	size_t largest_ratio_x100;     /* the largest answer/query size ratio seen, * 100 */
};
void mfs_dht_stats(const struct mfs_dht *d, struct mfs_dht_stats *out);

/* What a lookup found. */
struct mfs_dht_result {
	int status;                    /* 0, or why it found nothing (below) */
	size_t queries;                /* datagrams sent, retries included */
	size_t answered;               /* nodes that answered */
	struct mfs_krpc_node closest[MFS_DHT_K]; /* nodes that answered, nearest first */
	size_t n_closest;
	const struct mfs_dht_peer *peers; /* get_peers: distinct peers found */
	size_t n_peers;
	int found;                     /* get: an item that checked out */
	const uint8_t *v;              /* its bencoded value */
	size_t v_len;
	int has_seq;                   /* mutable: its seq, k and sig */
	int64_t seq;
	const uint8_t *k, *sig;
	size_t stored;                 /* put, announce: nodes that accepted */
	int64_t error_code;            /* put, announce: a refusal's BEP 44 code, or 0 */
};
typedef void (*mfs_dht_done_fn)(void *arg, const struct mfs_dht_result *r);

/* Each starts a lookup and returns 0 (done is called once, later), or
 * MFS_E_NOTFOUND when the node knows no other node, -ENOMEM, MFS_E_FORMAT
 * for a bad value or salt, -ECANCELED after mfs_dht_close (done is then
 * never called). A finished lookup's
 * status: 0; MFS_E_NOTFOUND when no node answered (get, get_peers: nothing
 * found is status 0 with found 0 / n_peers 0); for put and announce,
 * when no node accepted: MFS_E_CAS or MFS_E_REPLAY when a node said so
 * (301, 302), else MFS_E_NOTFOUND; -ECANCELED when the node closed. */

/* Pings each of addrs[n], then looks up our own id through them (and the
 * nodes of a loaded table). */
int mfs_dht_bootstrap(struct mfs_dht *d, const struct sockaddr_storage *addrs, size_t n,
		      mfs_dht_done_fn done, void *arg);
int mfs_dht_find_node(struct mfs_dht *d, const uint8_t target[static 20], mfs_dht_done_fn done,
		      void *arg);
int mfs_dht_get_peers(struct mfs_dht *d, const uint8_t info_hash[static 20],
		      mfs_dht_done_fn done, void *arg);
/* port 0: implied_port (the peer is at the address and port we send from). */
int mfs_dht_announce(struct mfs_dht *d, const uint8_t info_hash[static 20], uint16_t port,
		     mfs_dht_done_fn done, void *arg);
int mfs_dht_get_immutable(struct mfs_dht *d, const uint8_t target[static 20],
			  mfs_dht_done_fn done, void *arg);
int mfs_dht_get_mutable(struct mfs_dht *d, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			const uint8_t *salt, size_t salt_len, mfs_dht_done_fn done, void *arg);
int mfs_dht_put_immutable(struct mfs_dht *d, const uint8_t *v, size_t v_len,
			  mfs_dht_done_fn done, void *arg);
/* item signed with the key of pk (mfs_dht_item_sign); cas when has_cas. */
int mfs_dht_put_mutable(struct mfs_dht *d, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			const uint8_t sig[static MFS_SIGN_BYTES], const struct mfs_dht_mutable *item,
			int has_cas, int64_t cas, mfs_dht_done_fn done, void *arg);

#endif
