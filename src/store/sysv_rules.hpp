// The System V message-queue rules that the mailbox, seqmqd's queue model and the C API must
// apply alike (ipc/msg.c: do_msgsnd's argument checks, msg_fits_inqueue, do_msgrcv's E2BIG and
// MSG_NOERROR): written once, here.
#pragma once

#include <seqmq/error.hpp>

#include <algorithm>
#include <cstddef>
#include <system_error>

namespace seqmq::detail::sysv {

/// msgsnd's argument checks in Linux's order: a size above msgmax, then a type below 1 (both
/// EINVAL from the kernel; the C++ API tells them apart as message_size and bad_type).
enum class send_check { ok, too_long, bad_type };
constexpr send_check check_send(long type, std::size_t size, std::size_t max_size) noexcept {
    if (size > max_size)
        return send_check::too_long;
    if (type < 1)
        return send_check::bad_type;
    return send_check::ok;
}

/// check_send's verdict as the C++ API reports it (empty when ok): message_size, or
/// errc::bad_type (both EINVAL in the C API, as in Linux).
inline std::error_code send_error(send_check c) noexcept {
    switch (c) {
    case send_check::too_long:
        return std::make_error_code(std::errc::message_size);
    case send_check::bad_type:
        return make_error_code(seqmq::errc::bad_type);
    case send_check::ok:
        break;
    }
    return {};
}

/// What a receive does with the message its selector found, given its buffer.
enum class take_outcome {
    whole,     ///< fits: taken
    truncated, ///< longer than the buffer, MSG_NOERROR: taken, cut to the buffer
    too_big,   ///< longer than the buffer, no MSG_NOERROR: E2BIG, the message stays first in line
};
constexpr take_outcome take_rule(std::size_t size, std::size_t buffer, bool noerror) noexcept {
    if (size <= buffer)
        return take_outcome::whole;
    return noerror ? take_outcome::truncated : take_outcome::too_big;
}
/// The bytes a receive copies out: the message, cut to the buffer.
constexpr std::size_t copied_size(std::size_t size, std::size_t buffer) noexcept {
    return std::min(size, buffer);
}

/// What a queue's capacity (msg_qbytes) bounds. The kernel bounds both the bytes and the
/// number of messages by msg_qbytes (msg_fits_inqueue), so that zero-length messages cannot
/// fill memory; seqmqd does the same. A mailbox's stash is memory of its owner, bounded by
/// bytes only: its senders already pay one socket record per message.
enum class capacity_rule { bytes, bytes_and_messages };

/// What a queue holds or has set aside, in bytes and messages.
struct queue_usage {
    std::size_t bytes = 0;
    std::size_t messages = 0;
};

/// msg_fits_inqueue: whether one more message of `size` bytes fits.
constexpr bool fits_in_queue(queue_usage used, std::size_t capacity, std::size_t size,
                             capacity_rule rule) noexcept {
    if (used.bytes + size > capacity)
        return false;
    return rule == capacity_rule::bytes || used.messages + 1 <= capacity;
}

} // namespace seqmq::detail::sysv
