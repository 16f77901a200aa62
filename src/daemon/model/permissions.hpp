// Access to a queue, as the kernel's ipcperms() and ipcctl_obtain_check() decide it.
#pragma once

#include <optional>
#include <sys/types.h>
#include <vector>

namespace seqmq::daemon::model {

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

} // namespace seqmq::daemon::model
