// Access to a queue or a mailbox, as the kernel's ipcperms() and ipcctl_obtain_check() decide
// it: the one rule seqmqd's queues and the mailbox's senders are checked by.
#pragma once

#include <optional>
#include <sys/socket.h>
#include <sys/types.h>
#include <vector>

namespace seqmq::detail {

/// Who a client is, as far as the daemon can tell.
struct credentials {
    bool known = false; ///< SO_PEERCRED was available (AF_UNIX); TIPC peers carry none
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    /// Supplementary groups (SO_PEERGROUPS); std::nullopt when they could not be read.
    std::optional<std::vector<gid_t>> groups = std::vector<gid_t>{};

    bool is_root() const noexcept { return known && uid == 0; }
};

/// A queue's msg_perm.
struct ipc_perm {
    uid_t uid = 0, cuid = 0; ///< owner, creator
    gid_t gid = 0, cgid = 0;
    unsigned mode = 0; ///< the low 9 bits
};

/// Access bits as msgget's and ipcperms' `flag`: 0444 read, 0222 write (any triplet counts).
inline constexpr unsigned read_access = 0444;
inline constexpr unsigned write_access = 0222;

/// ipcperms: whether `who` may have `flag` on a queue with `perm`. Root passes. A client whose
/// supplementary groups are unknown gets only what both the group and the other bits grant
/// (fail closed: it might be a member, or not).
bool permitted(const credentials& who, const ipc_perm& perm, unsigned flag) noexcept;

/// IPC_SET and IPC_RMID: the owner, the creator or root (else EPERM).
bool owns(const credentials& who, const ipc_perm& perm) noexcept;

/// The credentials of the peer of a connected AF_UNIX socket: SO_PEERCRED's uid and gid (in
/// `peer`, from the transport) and SO_PEERGROUPS' supplementary groups (std::nullopt when they
/// cannot be read: group bits then fail closed). Unknown (known == false) without credentials.
credentials credentials_of(int fd, bool has_credentials, uid_t uid, gid_t gid);

} // namespace seqmq::detail
