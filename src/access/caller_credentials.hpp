// The identity each request to seqmqd is made with: SCM_CREDENTIALS on every record a client
// sends on its daemon connection, read back by seqmqd record by record. Client and daemon call
// this one piece of code, so that they agree on the buffer, the ids and their meaning.
//
// What the kernel guarantees (net/core/scm.c, scm_check_creds): a process may put in
// SCM_CREDENTIALS only its own pid (thread-group id) and one of its real, effective or saved
// uid, and one of its real, effective or saved gid — anything else fails sendmsg with EPERM,
// unless it has CAP_SYS_ADMIN (pid), CAP_SETUID (uid) or CAP_SETGID (gid). A record sent with
// nothing attached is stamped by the kernel with the sender's *real* uid and gid
// (scm_send: current_uid(), current_gid()), so a client attaches its effective ids explicitly.
#pragma once

#include <cstddef>
#include <optional>
#include <sys/socket.h>
#include <sys/types.h>
#include <vector>

namespace seqmq::detail {

/// The ids a call is made with, as SysV checks them: the effective uid and gid.
struct caller_ids {
    pid_t pid = 0;
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);

    friend bool operator==(const caller_ids&, const caller_ids&) = default;
};

/// This process's pid (cached; refresh_pid() after fork), geteuid() and getegid(). Two system
/// calls (the pid is not read again).
caller_ids current_caller() noexcept;
/// Reads the pid again (a forked child's first EPERM from sendmsg says it is stale).
void refresh_pid() noexcept;

/// A fixed control buffer for one SCM_CREDENTIALS message: no allocation per record.
struct credentials_control {
    alignas(cmsghdr) std::byte bytes[CMSG_SPACE(sizeof(ucred))]{};

    /// Points `m`'s control at this buffer, filled with `ids`, for sendmsg.
    void attach(msghdr& m, const caller_ids& ids) noexcept;
    /// Points `m`'s control at this buffer, empty, for recvmsg/recvmmsg.
    void prepare(msghdr& m) noexcept;
};

/// The credentials a received record carried (the first SCM_CREDENTIALS in `m`); nullopt
/// without one (the socket has no SO_PASSCRED, or not AF_UNIX).
std::optional<caller_ids> credentials_in(const msghdr& m) noexcept;

/// Sets SO_PASSCRED on a connected AF_UNIX socket: each record read from it then carries its
/// sender's credentials. Errors: the errno of setsockopt.
bool pass_credentials(int fd) noexcept;

/// The supplementary groups of process `pid` ("Groups:" of /proc/PID/status, its main
/// thread's), provided that process has `ids.uid` among its real/effective/saved/fs uids and
/// `ids.gid` among its gids (a check against a pid reused since the record was sent); nullopt
/// when it cannot be read or does not match.
std::optional<std::vector<gid_t>> groups_of_process(const caller_ids& ids);

} // namespace seqmq::detail
