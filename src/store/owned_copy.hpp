#pragma once

#include <seqmq/error.hpp>
#include <seqmq/message.hpp>

#include <cstddef>
#include <span>

namespace seqmq::detail {

/// The receive() that returns an owned copy, for the mailbox and the queue alike: receives into
/// a buffer of the largest message size (so it never truncates nor meets E2BIG) and trims it.
/// `into(buffer, m)` is the receive into a buffer; it may fill in more of `m` (its arrival).
template <class ReceiveInto>
result<message> receive_owned(std::size_t max_message_size, ReceiveInto into) {
    message m;
    m.data.resize(max_message_size);
    result<received> r = into(std::span<std::byte>(m.data), m);
    if (!r)
        return std::unexpected(r.error());
    m.type = r->type;
    m.sender_pid = r->sender_pid;
    m.data.resize(r->size);
    return m;
}

} // namespace seqmq::detail
