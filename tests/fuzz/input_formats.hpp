// The meaning of the harnesses' input bytes, named once for the harnesses and the seed
// generator (seeds.cpp).
#pragma once

#include "wire/daemon_protocol.hpp"

#include <cstddef>
#include <cstdint>
#include <iterator>

namespace seqmq_fuzz::formats {

namespace proto = seqmq::detail::proto;

// --- fuzz_daemon_protocol: a selector byte (taken modulo protocol_selectors), then a body -----

/// Selectors 0..9: the request bodies seqmqd decodes.
enum class request_body : std::uint8_t {
    open,
    send,
    receive,
    send_many,
    receive_many,
    ack_many,
    peek,
    list,
    set,
    single_u64, ///< cancel, ack, peek_at, attach
};
inline constexpr unsigned request_bodies = 10;

/// Selectors 10..24: the payload of a reply to each of these requests, as a client reads it.
inline constexpr proto::opcode reply_bodies[] = {
    proto::opcode::open,         proto::opcode::send,        proto::opcode::receive,
    proto::opcode::peek,         proto::opcode::peek_at,     proto::opcode::list,
    proto::opcode::stat,         proto::opcode::set,         proto::opcode::remove,
    proto::opcode::info,         proto::opcode::list_queues, proto::opcode::sync,
    proto::opcode::receive_many, proto::opcode::send_many,   proto::opcode::attach,
};

/// Selectors 25..28: the body of each notice.
inline constexpr proto::opcode notice_bodies[] = {proto::opcode::grant, proto::opcode::revoke,
                                                  proto::opcode::removed, proto::opcode::closing};

inline constexpr unsigned protocol_selectors =
    request_bodies + std::size(reply_bodies) + std::size(notice_bodies);

constexpr std::uint8_t selector(request_body b) {
    return std::uint8_t(b);
}
constexpr std::uint8_t reply_selector(proto::opcode op) {
    for (std::size_t i = 0; i < std::size(reply_bodies); ++i)
        if (reply_bodies[i] == op)
            return std::uint8_t(request_bodies + i);
    return 0;
}
constexpr std::uint8_t notice_selector(proto::opcode op) {
    for (std::size_t i = 0; i < std::size(notice_bodies); ++i)
        if (notice_bodies[i] == op)
            return std::uint8_t(request_bodies + std::size(reply_bodies) + i);
    return 0;
}

// --- fuzz_tipc_netlink: the first step's op picks the call, the rest are datagrams -----------

/// The generic netlink family id the fake kernel gives "TIPCv2".
inline constexpr int fake_tipc_family = 0x1c;

/// (op & 15) % 9 of the first step.
enum class tipc_call : std::uint8_t {
    get_node_info,
    set_node_identity, ///< argument: the identity's text
    set_network_id,    ///< argument: u32 (taken modulo 10001)
    enable_eth_bearer, ///< argument: the device
    enable_udp_bearer, ///< argument: name|local ip|remote ip
    disable_bearer,    ///< argument: the bearer's name
    list_bearers,
    list_links,
    dump_name_table,
};
inline constexpr unsigned tipc_calls = 9;
/// op bits 4-5 of the first step: how the family resolves.
enum class tipc_family : std::uint8_t { found = 0, missing = 2, out_of_memory = 3 };
/// op bit 0 of a datagram step: nlmsg_seq counts from the request's sequence number.
inline constexpr std::uint8_t relative_sequence = 1;

constexpr std::uint8_t tipc_first_op(tipc_call c, tipc_family f = tipc_family::found) {
    return std::uint8_t(unsigned(c) | unsigned(f) << 4);
}

// --- fuzz_daemon_session and fuzz_mailbox: op = client | action << 2 -------------------------

enum class session_action : std::uint8_t {
    raw,     ///< a whole record, as it is
    framed,  ///< u8 kind, i64 type, payload: framed with the next sequence number
    request, ///< u8 opcode, body: a control request, framed
    read,    ///< the client reads what is waiting for it
    take,    ///< the client takes one record from its delivery socket
    hang_up, ///< the client closes its connection
    batch,   ///< (u8 type, u8 length, data)...: one data_batch record, framed
    repeat,  ///< u8 n, u8 opcode, body: n such control requests at once (n = 0: a turn only)
};

enum class mailbox_action : std::uint8_t {
    raw,     ///< a whole record, as it is
    framed,  ///< u8 kind, i64 type, payload: framed with the next sequence number
    receive, ///< i64 msgtyp, u8 flags (receive_flag), u16 buffer (modulo 512)
    peek_at, ///< u8 position
    list,    ///< list() and stat()
    read,    ///< the sender reads its notices
    hang_up, ///< the sender closes its connection
    handle,  ///< native_handle(), polled
};
enum receive_flag : std::uint8_t {
    except = 1,
    noerror = 2,
    peek_first = 4, ///< peek() with the same selector first
    owned = 8,      ///< receive() into an owned message, not into a buffer
    wait_zero = 16, ///< wait, with a timeout of 0 ms, instead of nowait
};

template <class Action>
constexpr std::uint8_t op(unsigned client, Action a) {
    return std::uint8_t(client | unsigned(a) << 2);
}

} // namespace seqmq_fuzz::formats
