/* seqmq C API: msgsnd/msgrcv on seqmq mailboxes, call for call, flags and errno included. */
#ifndef SEQMQ_SEQMQ_H
#define SEQMQ_SEQMQ_H

#include <stddef.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Linux's values; the same as MSG_EXCEPT and MSG_COPY from <sys/msg.h> with _GNU_SOURCE. */
#define SEQMQ_MSG_EXCEPT 020000
#define SEQMQ_MSG_COPY 040000

/** An open mailbox (receiving end) or sender (sending end). */
typedef struct seqmq_handle seqmq_t;

/** Options for seqmq_mailbox_open and seqmq_connect; fill with seqmq_options_init. */
typedef struct seqmq_options {
    size_t capacity;         /* mailbox: bytes queued before senders wait (msg_qbytes), 16384 */
    size_t max_message_size; /* both: largest mtext (msgmax), 8192 */
    int connect_timeout_ms;  /* sender: wait this long for the mailbox to appear; 0: fail at once,
                                -1: wait for ever */
} seqmq_options_t;

/** Fills *opts with the defaults. */
void seqmq_options_init(seqmq_options_t* opts);

/** Opens a mailbox bound to `address` (unix:/path, unix:@name, tipc:T:I[/node], auto:NAME).
 *  opts may be NULL. Returns NULL and sets errno: EINVAL for a bad address or options,
 *  EADDRINUSE if the address is taken, EAFNOSUPPORT without TIPC, or the errno of the socket call.
 */
seqmq_t* seqmq_mailbox_open(const char* address, const seqmq_options_t* opts);

/** Connects a sender to the mailbox at `address`. opts may be NULL. Returns NULL and sets errno:
 *  EINVAL for a bad address, ENOENT/ECONNREFUSED if no mailbox is there, ETIMEDOUT after waiting,
 *  EAFNOSUPPORT without TIPC. */
seqmq_t* seqmq_connect(const char* address, const seqmq_options_t* opts);

/** Closes and frees. Returns 0; -1 and EINVAL if q is NULL. */
int seqmq_close(seqmq_t* q);

/** As msgsnd(2): msgp points at { long mtype; char mtext[msgsz]; }.
 *  Returns 0, or -1 with errno: EINVAL (mtype < 1, msgsz above the maximum), EAGAIN (full and
 *  IPC_NOWAIT), EINTR (signal while waiting), EIDRM (the mailbox went away), EFAULT (msgp NULL),
 *  EPROTO (the mailbox cut the connection for a malformed record), EOPNOTSUPP (q is a mailbox). */
int seqmq_msgsnd(seqmq_t* q, const void* msgp, size_t msgsz, int msgflg);

/** As msgrcv(2) on Linux, including MSG_EXCEPT and MSG_COPY (copy the message at position msgtyp,
 *  needs IPC_NOWAIT). Returns the bytes copied to mtext, or -1 with errno: ENOMSG (IPC_NOWAIT and
 *  nothing matches), E2BIG (message longer than msgsz without MSG_NOERROR; it stays queued),
 *  EINVAL (MSG_COPY without IPC_NOWAIT or with MSG_EXCEPT; msgsz too large), EINTR, EFAULT,
 *  EOPNOTSUPP (q is a sender). */
ssize_t seqmq_msgrcv(seqmq_t* q, void* msgp, size_t msgsz, long msgtyp, int msgflg);

/** A descriptor for poll(2): readable when msgrcv could make progress (mailbox), writable when
 *  msgsnd would not block (sender). -1 and EINVAL if q is NULL. */
int seqmq_fd(seqmq_t* q);

#ifdef __cplusplus
}
#endif

#endif /* SEQMQ_SEQMQ_H */
