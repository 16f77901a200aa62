#pragma once

#include <seqmq/address.hpp>
#include <seqmq/error.hpp>

#include "sys/fd.hpp"
#include "sys/syscall.hpp"

#include <cstddef>
#include <sys/types.h>

namespace seqmq::detail {

/// Who is at the other end of a connection, as far as the transport knows.
struct peer_identity {
    pid_t pid = 0; ///< 0 when unknown (TIPC)
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    bool has_credentials = false; ///< SO_PEERCRED was available (AF_UNIX)
};

/// The file a listener put in the file system (an AF_UNIX path socket), so that only that file is
/// removed again: never one that replaced it meanwhile.
struct bound_file {
    dev_t device = 0;
    ino_t inode = 0;
    bool exists = false;
};

/// A listening socket and what it left in the file system.
struct listening {
    unique_fd fd;
    bound_file file;
};

/// The one interface between the queue core and a socket family. The core never names a family;
/// each transport knows how to bind, connect and close its SOCK_SEQPACKET sockets. All sockets
/// returned are non-blocking and close-on-exec.
class transport {
public:
    virtual ~transport() = default;

    /// "unix" or "tipc", for logs.
    virtual const char* name() const noexcept = 0;

    /// Whether its connections can pass file descriptors (SCM_RIGHTS).
    virtual bool passes_descriptors() const noexcept { return false; }

    /// Whether its records can carry the sender's credentials (SCM_CREDENTIALS, verified by
    /// the kernel). TIPC peers carry none.
    virtual bool carries_credentials() const noexcept { return false; }

    /// Largest payload (after the frame header) one record can carry on this transport.
    virtual std::size_t max_payload() const noexcept = 0;

    /// A listening socket bound to `where`. With replace_stale, an AF_UNIX path that is taken by
    /// a socket file of this euid that nobody listens on (its listener died) is replaced; any
    /// other file there (a regular file, a directory, another uid's socket) is left alone.
    /// Errors: address_in_use (the path or name is taken); the errno of socket/bind/listen.
    virtual result<listening> listen(const address& where, int backlog,
                                     bool replace_stale) const = 0;

    /// A socket connected, or (TIPC) connecting, to `where`: on TIPC the connection is
    /// established when the mailbox accepts it, and the socket turns writable then. When nothing
    /// listens there: no_such_file_or_directory, connection_refused or host_unreachable,
    /// depending on the family.
    virtual result<unique_fd> connect(const address& where, const deadline& until) const = 0;

    /// Waits until something may listen at `where`, instead of retrying connect(): on TIPC until
    /// the service is published in this node's name table (through the topology service; for
    /// node scope, published by this node); on an AF_UNIX path until the socket file exists
    /// (through inotify on its directory). Returns at once when that is so already, and when the
    /// family cannot be watched (AF_UNIX abstract names, a path whose directory is missing or
    /// unreadable): the caller then retries connect() with growing pauses. connect() may still
    /// fail after a successful wait (a stale socket file, a service withdrawn again).
    /// Errors: timed_out when the deadline passes first; interrupted by a signal; the errno of
    /// socket/connect/inotify_init1 (TIPC's topology server, inotify) otherwise.
    virtual result<void> wait_for_listener(const address& where, const deadline& until) const = 0;

    /// Credentials of the peer of a connected socket.
    virtual peer_identity peer(int fd) const noexcept = 0;

    /// Ends a connection so the peer sees end of stream rather than a reset.
    virtual void close_connection(unique_fd fd) const noexcept { fd.reset(); }

    /// Undoes what listen() left behind in the file system, if anything: removes `file` if it is
    /// still at `where`.
    virtual void unbind(const address&, const bound_file&) const noexcept {}
};

/// The transport of a resolved (not auto:) address.
/// Errors: backend_unavailable for TIPC on a kernel without it.
result<const transport*> transport_for(const address& where);

/// Connects to the listener at `where` (a mailbox or seqmqd). With a wait, a listener that is
/// not there yet is waited for by watching for it (TIPC topology service, inotify) rather than
/// retrying; where the transport cannot watch (abstract names), or a connect still fails after
/// the watch said the listener is there (a stale socket file), it connects again after growing
/// pauses, up to 50 ms apart. Without a wait (std::nullopt), one attempt.
/// Errors: as transport::connect; timed_out; interrupted.
result<unique_fd> connect_waiting(const transport& via, const address& where, timeout wait);

/// Accepts one pending connection (non-blocking, close-on-exec).
/// Errors: resource_unavailable_try_again when none is pending; the errno of accept4.
result<unique_fd> accept_connection(int listener) noexcept;

const transport& unix_transport() noexcept;
const transport* tipc_transport() noexcept; ///< nullptr when the kernel has no TIPC

} // namespace seqmq::detail
