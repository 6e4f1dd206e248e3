/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Waking sleeping endpoints (tko agent --wake-iface, --on-wake-exec): what
 * the agent does with a wake signal of the datapath (struct tko_wake,
 * bpf/lib/wake.h). Magic packets for the endpoint's MAC on the link it is
 * on, as etherwake and wakeonlan send them (EtherType 0x0842, and UDP to
 * port 9 broadcast), then the hook, a program run with the session in its
 * environment and killed after its timeout. Nothing here runs on a clock:
 * a running hook is watched through its pidfd and one timerfd, both in
 * waker.epoll_fd, which the agent's loop watches.
 */
#ifndef TKO_WAKE_H
#define TKO_WAKE_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "tko_types.h"

#define WAKE_TIMEOUT_S_DEFAULT 10
#define WAKE_TIMEOUT_S_MAX 3600
#define WAKE_HOOKS_MAX 16	/* running at once; more wait their turn */
#define WAKE_QUEUE_MAX 1024	/* waiting; beyond, a hook is not run (counted) */
/* A wake asked this long ago (while no agent read the ring) is not sent. */
#define WAKE_STALE_NS (30ULL * 1000000000ULL)

/* The magic packet's payload: 6 x 0xff, then 16 x the MAC. */
#define WAKE_MAGIC_LEN (6 + 16 * 6)
/* Ethernet + IPv4 + UDP + the payload: the longer of the two frames. */
#define WAKE_FRAME_MAX (14 + 20 + 8 + WAKE_MAGIC_LEN)

struct wake_iface {
	char name[IF_NAMESIZE];
	int ifindex;		/* 0 while absent */
	__u8 mac[6];
	__u32 addr;		/* its IPv4 address (network order), 0 if none */
};

struct wake_hook {
	pid_t pid;		/* 0: slot free */
	int pidfd;
	bool killed;		/* its time was up */
	unsigned long long deadline_ns;	/* CLOCK_MONOTONIC */
	struct tko_wake w;
};

struct waker {
	struct wake_iface ifaces[TKO_MAX_IFACES];
	int nifaces;
	char exec[PATH_MAX];	/* the hook, "" if none */
	char pin_dir[PATH_MAX];	/* given to the hook (TKO_PIN_DIR) */
	unsigned int timeout_s;
	int packet_fd;		/* AF_PACKET, raw frames */
	int epoll_fd;		/* running hooks' pidfds and timer_fd */
	int timer_fd;		/* the earliest deadline of a running hook */
	struct wake_hook hooks[WAKE_HOOKS_MAX];
	struct tko_wake *queue;	/* ring of WAKE_QUEUE_MAX */
	size_t qhead, qlen;
	bool exiting;		/* waker_close: what is killed now is not late */
};

/* What was done (TKO_WAKE_*): for tko_wake_done, now or when a hook ends. */
typedef void (*wake_done_fn)(void *ctx, const struct tko_wake *w, __u32 result);

/* Before waker_open: a zeroed waker, the hook's default timeout. */
void waker_init(struct waker *w);

/* "IF[,IF...]": the wake interfaces, by name (checked by waker_open). */
int waker_set_ifaces(struct waker *w, const char *list, char *err, size_t errlen);

/* Does this agent wake anybody (an interface or a hook)? */
bool waker_on(const struct waker *w);

/*
 * Check the interfaces (they exist, they are Ethernet) and the hook (an
 * absolute path to an executable): 0, or -errno after saying what is
 * wrong. Before anything is loaded: a wrong option changes nothing.
 */
int waker_check(struct waker *w);

/* waker_check(), then open what sending and watching need. */
int waker_open(struct waker *w, const char *pin_dir);

/*
 * Read the interfaces again (ifindex, MAC, address), after a link change:
 * true if an ifindex changed (the datapath's list must follow).
 */
bool waker_refresh(struct waker *w);

/* The wake interfaces' ifindexes, 0-terminated as the datapath keeps them. */
void waker_ifindexes(const struct waker *w, __u32 out[TKO_MAX_IFACES]);

/*
 * Do what the datapath asked: magic packets on the endpoint's interface
 * (on every wake interface if it is not known), then the hook. done() gets
 * what was done now (unless the hook waits for a free slot: then when it
 * starts); a hook's outcome comes later, from waker_poll().
 */
void waker_wake(struct waker *w, const struct tko_wake *wk, wake_done_fn done, void *ctx);

/* epoll_fd is readable: hooks that ended, hooks whose time is up. */
void waker_poll(struct waker *w, wake_done_fn done, void *ctx);

/* Kill the hooks still running (the agent exits); reported as failed. */
void waker_close(struct waker *w, wake_done_fn done, void *ctx);

/* The two frames, broadcast from src: their length. */
size_t wake_frame_ether(__u8 *frame, const __u8 src[6], const __u8 target[6]);
size_t wake_frame_udp(__u8 *frame, const __u8 src[6], __u32 saddr, const __u8 target[6]);

/*
 * The hook's environment for wk (ifname: its interface, NULL if unknown):
 * up to max - 1 "NAME=value" strings in env, written in buf, NULL-ended.
 * Returns the count, or -ENOSPC.
 */
int wake_hook_env(const struct tko_wake *wk, const char *ifname, const char *pin_dir,
		  char **env, int max, char *buf, size_t len);

#endif /* TKO_WAKE_H */
