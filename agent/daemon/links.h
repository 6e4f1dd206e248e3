/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Interface changes, as rtnetlink announces them: the agent learns that one
 * of its interfaces went away or came back without looking for it.
 */
#ifndef TKO_LINKS_H
#define TKO_LINKS_H

#include <stdbool.h>

/* A socket on the link notifications (RTMGRP_LINK), non-blocking; -errno. */
int links_open(void);
/* Read what is pending: true if an interface was added, changed or removed. */
bool links_changed(int fd);

#endif /* TKO_LINKS_H */
