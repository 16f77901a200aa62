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

/** An open mailbox (receiving end), sender (sending end) or daemon-hosted queue. */
typedef struct seqmq_handle seqmq_t;

/** Options for seqmq_mailbox_open and seqmq_connect; fill with seqmq_options_init. */
typedef struct seqmq_options {
    size_t capacity;         /* mailbox: bytes queued before senders wait (msg_qbytes), 16384 */
    size_t max_message_size; /* both: largest mtext (msgmax), 8192 */
    int connect_timeout_ms;  /* sender: wait this long for the mailbox to appear; 0: fail at once,
                                -1: wait for ever */
    int mode;            /* mailbox: who may send, as msgsnd's ipcperms(): the write bits of `mode`
                            (0200 owner, 0020 group, 0002 other) against each sender's SO_PEERCRED;
                            root passes; a refused sender's msgsnd fails with EACCES. -1: the
                            default — 0600 on unix:@name, 0666 on unix:/path (the socket file's mode
                            decides) and on TIPC (TIPC senders carry no credentials: "other") */
    uid_t owner_uid;     /* mailbox: the owner for that check; (uid_t)-1: the effective uid */
    gid_t owner_gid;     /* mailbox: its group; (gid_t)-1: the effective gid */
    uid_t require_owner; /* sender: connect fails with EACCES unless the mailbox's process has
                            this uid (SO_PEERCRED: tells a squatter on an abstract name from the
                            real mailbox; EOPNOTSUPP over TIPC); (uid_t)-1: not checked */
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
 *  EAFNOSUPPORT without TIPC, EACCES when opts->require_owner is not the mailbox's uid. */
seqmq_t* seqmq_connect(const char* address, const seqmq_options_t* opts);

/** Opens a queue hosted by seqmqd, as msgget(2): `name` NULL makes a private queue (IPC_PRIVATE);
 *  flags IPC_CREAT creates it if missing, IPC_CREAT|IPC_EXCL fails if it exists; the low 9 bits
 *  of `mode` (and of `flags`) are its permissions when created, and the access asked for when it
 *  exists. The daemon is at $SEQMQ_DAEMON, else $XDG_RUNTIME_DIR/seqmq/seqmqd.sock, else
 *  /run/seqmq/seqmqd.sock. Returns NULL and sets errno: ENOENT (no such queue without IPC_CREAT,
 *  or no daemon), EEXIST, EACCES, ENOSPC (the daemon's queue limit), EINVAL (bad name),
 *  ECONNREFUSED (no daemon), EUSERS (the daemon's client limit). */
seqmq_t* seqmq_queue_open(const char* name, int flags, int mode);

/** As msgctl(2) on a queue from seqmq_queue_open: IPC_STAT fills *buf (msg_perm uid, gid, cuid,
 *  cgid, mode; msg_qnum, msg_cbytes, msg_qbytes, msg_lspid, msg_lrpid, msg_stime, msg_rtime,
 *  msg_ctime); IPC_SET takes msg_perm.uid, msg_perm.gid, msg_perm.mode and msg_qbytes from *buf;
 *  IPC_RMID removes the queue (waiters get EIDRM). Returns 0, or -1 with errno: EINVAL (another
 *  cmd, a mailbox or sender handle, the queue already removed), EFAULT (buf NULL for
 *  IPC_STAT/IPC_SET), EACCES (IPC_STAT without read permission), EPERM (IPC_SET/IPC_RMID by
 *  neither owner, creator nor root; msg_qbytes above the daemon's limit), ECONNRESET (the daemon
 *  went away). IPC_INFO, MSG_INFO, MSG_STAT and MSG_STAT_ANY: seqmq_daemon_msgctl. IPC_SET with
 * msg_qbytes 0 succeeds, as on Linux; then no message fits, and every later send waits (EAGAIN with
 * IPC_NOWAIT). */
int seqmq_msgctl(seqmq_t* q, int cmd, struct msqid_ds* buf);

/** As msgctl(2)'s IPC_INFO, MSG_INFO, MSG_STAT and MSG_STAT_ANY (<sys/msg.h> names them with
 *  _DEFAULT_SOURCE or _GNU_SOURCE), on the queues of the daemon seqmq_queue_open uses. These take
 *  no queue handle — IPC_INFO and MSG_INFO ignore msqid, MSG_STAT and MSG_STAT_ANY take an index
 *  (only its low 15 bits count, as on Linux) — so they are not seqmq_msgctl commands (it refuses
 *  them with EINVAL). IPC_INFO and MSG_INFO fill the struct msginfo at buf (cast, as with
 *  msgctl): msgmni, msgmax and msgmnb are the daemon's --max-queues, --max-message-size and
 *  --default-capacity; msgssz 16; msgseg min(msgpool * 1024 / 16, 65535) with IPC_INFO's
 *  msgpool; MSG_INFO's msgpool is the queues in use, msgmap the messages queued in all, msgtql
 *  their bytes; IPC_INFO's msgpool, msgmap and msgtql are Linux's MSGPOOL, MSGMAP and MSGTQL
 *  computed from those limits (msgmni * msgmnb / 1024, msgmnb, msgmnb). Both return the highest
 *  index in use (0 if none). MSG_STAT and MSG_STAT_ANY fill *buf as IPC_STAT does and return
 *  the queue's id. Returns -1 with errno: EINVAL (msqid < 0, another cmd, no queue at that
 *  index), EFAULT (buf NULL, once the rest succeeded, as on Linux), EACCES (MSG_STAT
 *  without read permission; MSG_STAT_ANY checks none), ENOENT / ECONNREFUSED (no daemon), EUSERS
 * (the daemon's client limit). */
int seqmq_daemon_msgctl(int msqid, int cmd, struct msqid_ds* buf);

/** Closes and frees. Returns 0; -1 and EINVAL if q is NULL. */
int seqmq_close(seqmq_t* q);

/** As msgsnd(2): msgp points at { long mtype; char mtext[msgsz]; }.
 *  Returns 0, or -1 with errno: EINVAL (mtype < 1, msgsz above the maximum; a queue removed
 *  before the call), EAGAIN (full and IPC_NOWAIT), EINTR (signal while waiting), EIDRM (the
 *  mailbox went away; the queue was removed while waiting), EACCES (queue without write
 *  permission; a mailbox whose mode refused this sender), EUSERS (the mailbox refused the
 *  connection at its connection limit), EFAULT (msgp NULL), EPROTO (the mailbox cut the
 *  connection for a malformed record), EOPNOTSUPP (q is a mailbox), ECONNRESET (the daemon went
 * away: the handle stays dead, close it and open the queue again). */
int seqmq_msgsnd(seqmq_t* q, const void* msgp, size_t msgsz, int msgflg);

/** As msgrcv(2) on Linux, including MSG_EXCEPT and MSG_COPY (copy the message at position msgtyp,
 *  needs IPC_NOWAIT). Returns the bytes copied to mtext, or -1 with errno: ENOMSG (IPC_NOWAIT and
 *  nothing matches), E2BIG (message longer than msgsz without MSG_NOERROR; it stays queued),
 *  EINVAL (MSG_COPY without IPC_NOWAIT or with MSG_EXCEPT; msgsz too large; a queue removed
 *  before the call), EINTR, EFAULT, EIDRM (queue removed while waiting), EACCES (queue without
 *  read permission), EOPNOTSUPP (q is a sender), ECONNRESET (the daemon went away, as for
 *  seqmq_msgsnd). */
ssize_t seqmq_msgrcv(seqmq_t* q, void* msgp, size_t msgsz, long msgtyp, int msgflg);

/** A descriptor for poll(2): readable when msgrcv could make progress (mailbox), writable when
 *  msgsnd would not block (sender). -1 and EINVAL if q is NULL. */
int seqmq_fd(seqmq_t* q);

#ifdef __cplusplus
}
#endif

#endif /* SEQMQ_SEQMQ_H */
