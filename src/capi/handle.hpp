// The C API's handle, and what of seqmq_c.cpp the SysV shim (src/shim) calls as well: one
// mapping from seqmq's stat and errors to msqid_ds and errno.
#pragma once

#include <seqmq/mailbox.hpp>
#include <seqmq/queue.hpp>
#include <seqmq/sender.hpp>

#include <sys/msg.h>
#include <system_error>
#include <variant>

struct seqmq_handle {
    std::variant<seqmq::mailbox, seqmq::sender, seqmq::queue> end;
    /// How long a msgsnd or msgrcv on a daemon queue may wait; std::nullopt: for ever. A
    /// limit makes every wait a poll, which the kernel never restarts after a signal handler,
    /// even one installed with SA_RESTART (as msgsnd/msgrcv): the shim sets one of decades.
    seqmq::timeout wait_limit = std::nullopt;
};

namespace seqmq::detail::capi {

/// errno for an error code: system codes as they are, seqmq's as their std::errc condition.
int errno_of(const std::error_code& e) noexcept;

/// IPC_STAT's msqid_ds from a daemon queue's stat. msg_perm.__key is the queue's id (seqmq
/// queues have no key; the shim puts the key back).
void fill_msqid_ds(const queue_stat& st, msqid_ds& buf) noexcept;

/// msgctl's IPC_INFO or MSG_INFO (`cmd`) from the daemon's info, as Linux's msgctl_info fills
/// struct msginfo from its namespace's limits and counts. Returns what msgctl returns: the
/// highest index in use, 0 without queues.
int fill_msginfo(const daemon_info& d, int cmd, msginfo& out) noexcept;

} // namespace seqmq::detail::capi
