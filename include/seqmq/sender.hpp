#pragma once

#include <seqmq/address.hpp>
#include <seqmq/error.hpp>
#include <seqmq/message.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <sys/types.h>

namespace seqmq {

/// Options of a sender.
struct sender_options {
    /// How long connect() waits for the mailbox to appear; std::nullopt fails at once.
    timeout wait_for_mailbox = std::nullopt;
    /// The largest payload this sender will send until the mailbox has told its own limit
    /// (it does so right after accepting the connection). Default as the mailbox's default.
    std::size_t max_message_size = 8192;
    /// The uid the mailbox's process must have (SO_PEERCRED of the connection, checked right
    /// after connect, before anything is sent): on an abstract name anyone can bind first, and
    /// this tells such a squatter from the real mailbox. std::nullopt: not checked.
    /// Errors of connect: permission_denied when another uid listens there;
    /// operation_not_supported over TIPC, whose peers carry no credentials.
    std::optional<uid_t> require_owner;
};

/// A connection to one mailbox. Move-only; not thread-safe.
class sender {
public:
    /// Connects to the mailbox at `where` (auto: resolved).
    /// Errors: no_such_file_or_directory / connection_refused when nothing listens there (after
    /// waiting, if options.wait_for_mailbox), timed_out, interrupted (a signal while waiting),
    /// backend_unavailable, or the errno of socket/connect.
    static result<sender> connect(const address& where, const sender_options& options = {});

    sender(sender&&) noexcept;
    sender& operator=(sender&&) noexcept;
    ~sender();

    /// Sends one message of `type` (>= 1). Blocks while the mailbox is full unless nowait.
    /// Errors: bad_type (invalid_argument) if type < 1; message_size if payload is longer than
    /// the mailbox's maximum; resource_unavailable_try_again when full with nowait; timed_out;
    /// interrupted if a signal arrives while waiting; mailbox_closed (identifier_removed) when the
    /// mailbox has gone away; bad_frame if the mailbox cut this connection for a malformed record;
    /// permission_denied (EACCES) when the mailbox's mode refused this sender; EUSERS (generic
    /// category) when it refused the connection at its max_connections.
    result<void> send(long type, std::span<const std::byte> payload,
                      send_flags flags = send_flags::none, timeout limit = {});

    /// Sends `messages` in order, packing consecutive ones into batch records of at most the
    /// mailbox's maximum message size, so a burst costs one system call per batch instead of one
    /// per message. The mailbox splits them again: each is received on its own, with its type,
    /// boundaries and place in arrival order.
    /// Returns how many were sent: all, or fewer when nowait, the timeout or an error stopped it
    /// after some had gone (the error then shows again on the next call).
    /// Errors (nothing sent): as send(); every message is checked (type, size) before any goes.
    result<std::size_t> send_many(std::span<const outgoing_message> messages,
                                  send_flags flags = send_flags::none, timeout limit = {});

    /// The largest payload the mailbox accepts, as far as this sender knows.
    std::size_t max_message_size() const noexcept;

    /// The socket, for poll (POLLOUT: a send would not block).
    int native_handle() const noexcept;

    struct impl;

private:
    explicit sender(std::unique_ptr<impl> p) noexcept;
    std::unique_ptr<impl> impl_;
};

} // namespace seqmq
