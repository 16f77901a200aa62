#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <sys/types.h>
#include <vector>

namespace seqmq {

/// Which message a receive or peek takes — Linux msgrcv's msgtyp and MSG_EXCEPT, exactly:
///   type == 0               the first message;
///   type > 0                the first message of that type;
///   type > 0 and except     the first message whose type is not `type`;
///   type < 0                the first message of the lowest type <= |type|.
/// "First" is arrival order at the mailbox. `except` is ignored when type <= 0, as in Linux.
struct selector {
    long type = 0;
    bool except = false;

    static constexpr selector any() noexcept { return {}; }
    static constexpr selector of_type(long t) noexcept { return {t, false}; }
    static constexpr selector except_type(long t) noexcept { return {t, true}; }
    /// The lowest type that is <= max_type (msgtyp = -max_type).
    static constexpr selector lowest_up_to(long max_type) noexcept { return {-max_type, false}; }

    /// Whether a message of type `t` can be taken by this selector at all (ignores "lowest").
    constexpr bool admits(long t) const noexcept {
        if (type == 0)
            return true;
        if (type > 0)
            return except ? t != type : t == type;
        return type == std::numeric_limits<long>::min() || t <= -type;
    }
    friend constexpr bool operator==(selector, selector) = default;
};

/// Flags of a receive, as msgrcv's.
enum class receive_flags : unsigned {
    none = 0,
    nowait = 1u << 0,  ///< IPC_NOWAIT: no_message instead of waiting
    noerror = 1u << 1, ///< MSG_NOERROR: truncate a message too long for the buffer, and take it
};

/// Flags of a send, as msgsnd's.
enum class send_flags : unsigned {
    none = 0,
    nowait = 1u << 0, ///< IPC_NOWAIT: resource_unavailable_try_again instead of waiting
};

constexpr receive_flags operator|(receive_flags a, receive_flags b) noexcept {
    return receive_flags(unsigned(a) | unsigned(b));
}
constexpr bool operator&(receive_flags a, receive_flags b) noexcept {
    return (unsigned(a) & unsigned(b)) != 0;
}
constexpr send_flags operator|(send_flags a, send_flags b) noexcept {
    return send_flags(unsigned(a) | unsigned(b));
}
constexpr bool operator&(send_flags a, send_flags b) noexcept {
    return (unsigned(a) & unsigned(b)) != 0;
}

/// How long a blocking call may wait; std::nullopt waits for ever.
using timeout = std::optional<std::chrono::milliseconds>;

/// What a receive into a caller's buffer delivered. Truncation is data, not an error.
struct received {
    long type = 0;
    std::size_t size = 0;             ///< bytes written to the buffer
    std::size_t untruncated_size = 0; ///< the message's true length
    pid_t sender_pid = 0;             ///< 0 where the transport has no credentials (TIPC)
    bool truncated() const noexcept { return size < untruncated_size; }
};

/// One message of a send_many() call (sender, queue).
struct outgoing_message {
    long type;
    std::span<const std::byte> payload;
};

/// One message taken by queue::receive_many(): its payload was written to `data`, a part of the
/// caller's buffer. Truncation (noerror) is data, not an error.
struct incoming_message {
    long type = 0;
    std::span<std::byte> data;
    std::size_t untruncated_size = 0; ///< the message's true length
    pid_t sender_pid = 0;             ///< 0 where the transport has no credentials (TIPC)
    bool truncated() const noexcept { return data.size() < untruncated_size; }
};

/// An owned copy of a message.
struct message {
    long type = 0;
    std::vector<std::byte> data;
    pid_t sender_pid = 0;
    std::uint64_t arrival = 0; ///< arrival number at the mailbox, increasing from 1
};

/// One waiting message as list() reports it.
struct message_info {
    long type = 0;
    std::size_t size = 0;
    std::uint64_t arrival = 0;
    pid_t sender_pid = 0;
};

} // namespace seqmq
