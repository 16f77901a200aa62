// Checks of the wire decoders that several harnesses share: a batch splits into entries that
// re-encode to exactly the bytes they came from, and a daemon reply or notice reads as
// seqmq::queue reads it, every decoded part re-encoding to the bytes it was read from.
#pragma once

#include "fuzz_support.hpp"

#include "wire/daemon_protocol.hpp"
#include "wire/frame.hpp"

#include <cerrno>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

namespace seqmq_fuzz {

namespace wire = seqmq::detail;
namespace proto = seqmq::detail::proto;

inline bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

inline bool inside(std::span<const std::byte> part, std::span<const std::byte> whole) {
    return part.empty() || (part.data() >= whole.data() &&
                            part.data() + part.size() <= whole.data() + whole.size());
}

/// Splits a batch payload of `count` entries, each at most `max` bytes; checks what split_batch
/// promises of a batch it accepts. True if it split.
inline bool check_batch(std::span<const std::byte> payload, std::uint64_t count, std::size_t max) {
    std::vector<wire::batch_entry> entries;
    auto split = wire::split_batch(payload, count, max, entries);
    if (!split) {
        const auto f = split.error();
        SEQMQ_FUZZ_EXPECT(f == wire::frame_fault::bad_batch || f == wire::frame_fault::too_long ||
                          f == wire::frame_fault::bad_type);
        return false;
    }
    SEQMQ_FUZZ_EXPECT(count >= 1 && entries.size() == count);
    std::vector<std::byte> rebuilt;
    for (const wire::batch_entry& e : entries) {
        SEQMQ_FUZZ_EXPECT(e.type >= 1);
        SEQMQ_FUZZ_EXPECT(e.payload.size() <= max);
        SEQMQ_FUZZ_EXPECT(inside(e.payload, payload));
        std::byte header[wire::batch_entry::header_size];
        wire::encode_batch_entry(header, e.type, std::uint32_t(e.payload.size()));
        rebuilt.insert(rebuilt.end(), std::begin(header), std::end(header));
        rebuilt.insert(rebuilt.end(), e.payload.begin(), e.payload.end());
    }
    SEQMQ_FUZZ_EXPECT(same_bytes(rebuilt, payload));
    return true;
}

/// Bytes `r` has read of `whole` since it had `left_before` bytes left.
inline std::span<const std::byte> consumed(std::span<const std::byte> whole,
                                           std::size_t left_before, const proto::reader& r) {
    const std::size_t start = whole.size() - left_before;
    return whole.subspan(start, left_before - r.left());
}

/// Encodes `value` with the project's encoder.
template <class T>
std::vector<std::byte> encoded(const T& value) {
    std::vector<std::byte> out;
    proto::writer w(out);
    proto::encode(w, value);
    return out;
}

/// A message entry (list, receive_many) decoded from `r`, checked to re-encode to its bytes.
inline std::optional<proto::message_body> checked_entry(std::span<const std::byte> whole,
                                                        proto::reader& r) {
    const std::size_t before = r.left();
    auto e = proto::decode_entry(r);
    if (!e)
        return std::nullopt;
    SEQMQ_FUZZ_EXPECT(e->data.size() <= e->size);
    std::vector<std::byte> again;
    proto::writer w(again);
    proto::encode_entry(w, *e);
    SEQMQ_FUZZ_EXPECT(same_bytes(again, consumed(whole, before, r)));
    return e;
}

/// A stat entry decoded from `r`, checked to re-encode to its bytes.
inline std::optional<proto::stat_body> checked_stat(std::span<const std::byte> whole,
                                                    proto::reader& r) {
    const std::size_t before = r.left();
    auto s = proto::decode_stat(r);
    if (!s)
        return std::nullopt;
    SEQMQ_FUZZ_EXPECT(s->name.size() <= proto::max_name_length);
    SEQMQ_FUZZ_EXPECT(same_bytes(encoded(*s), consumed(whole, before, r)));
    return s;
}

/// What a reply turned out to be.
struct reply_facts {
    int error = 0;
    std::optional<proto::list_part_header> part; ///< list and list_queues replies
    std::uint64_t messages =
        0; ///< messages handed over (receive, receive_many) or queued (send_many)
    std::uint64_t last_arrival = 0; ///< ... the last of them
    bool full_data = true;          ///< every message in it carries its whole text
};

/// Reads the payload of a reply to `op` as seqmq::queue does: the result, then on success the
/// body that `op` answers with, to its end. nullopt if the client would call it malformed.
inline std::optional<reply_facts> check_reply(proto::opcode op,
                                              std::span<const std::byte> payload) {
    using proto::opcode;
    proto::reader r(payload);
    reply_facts facts;
    {
        const std::size_t before = r.left();
        auto e = proto::decode_result(r);
        if (!e)
            return std::nullopt;
        SEQMQ_FUZZ_EXPECT(*e >= 0);
        std::vector<std::byte> again;
        proto::writer(again).i32(*e).u32(0);
        SEQMQ_FUZZ_EXPECT(same_bytes(again, consumed(payload, before, r)));
        facts.error = *e;
    }
    if (facts.error != 0) // an error carries no body
        return r.done() ? std::optional(facts) : std::nullopt;
    const auto body = payload.subspan(payload.size() - r.left());
    switch (op) {
    case opcode::open: {
        auto o = proto::decode_open_reply(r);
        if (!o)
            return std::nullopt;
        SEQMQ_FUZZ_EXPECT(same_bytes(encoded(*o), body));
        return facts;
    }
    case opcode::receive:
    case opcode::peek:
    case opcode::peek_at: {
        auto m = proto::decode_message(r);
        if (!m)
            return std::nullopt;
        SEQMQ_FUZZ_EXPECT(m->data.size() <= m->size && inside(m->data, body));
        SEQMQ_FUZZ_EXPECT(same_bytes(encoded(*m), body));
        facts.messages = op == opcode::receive ? 1 : 0;
        facts.last_arrival = m->arrival;
        facts.full_data = m->data.size() == m->size;
        return facts;
    }
    case opcode::receive_many: {
        const std::size_t before = r.left();
        auto h = proto::decode_batch_header(r);
        if (!h)
            return std::nullopt;
        SEQMQ_FUZZ_EXPECT(h->count >= 1);
        SEQMQ_FUZZ_EXPECT(same_bytes(encoded(*h), consumed(payload, before, r)));
        for (std::uint32_t i = 0; i < h->count; ++i) {
            auto e = checked_entry(payload, r);
            if (!e)
                return std::nullopt;
            facts.last_arrival = e->arrival;
            facts.full_data = facts.full_data && e->data.size() == e->size;
        }
        if (!r.done())
            return std::nullopt;
        facts.messages = h->count;
        return facts;
    }
    case opcode::list:
    case opcode::list_queues: {
        const std::size_t before = r.left();
        auto h = proto::decode_list_part(r);
        if (!h)
            return std::nullopt;
        SEQMQ_FUZZ_EXPECT(h->count <= h->total);
        SEQMQ_FUZZ_EXPECT(same_bytes(encoded(*h), consumed(payload, before, r)));
        for (std::uint32_t i = 0; i < h->count; ++i) {
            if (op == opcode::list) {
                auto e = checked_entry(payload, r);
                if (!e)
                    return std::nullopt;
                facts.full_data = facts.full_data && e->data.size() == e->size;
            } else if (!checked_stat(payload, r)) {
                return std::nullopt;
            }
        }
        if (!r.done())
            return std::nullopt;
        facts.part = *h;
        return facts;
    }
    case opcode::stat:
    case opcode::stat_index: {
        if (!checked_stat(payload, r) || !r.done())
            return std::nullopt;
        return facts;
    }
    case opcode::info: {
        auto i = proto::decode_info(r);
        if (!i)
            return std::nullopt;
        SEQMQ_FUZZ_EXPECT(same_bytes(encoded(*i), body));
        return facts;
    }
    case opcode::send_many: {
        facts.messages = r.u64(); // here: how many it queued
        if (!r.done())
            return std::nullopt;
        return facts;
    }
    default: // send, set, remove, sync, attach: nothing after the result
        return r.done() ? std::optional(facts) : std::nullopt;
    }
}

/// Reads the body of a notice (sequence 0) as seqmq::queue does. False if malformed.
inline bool check_notice(proto::opcode op, std::span<const std::byte> body) {
    using proto::opcode;
    switch (op) {
    case opcode::grant: {
        auto g = proto::decode_grant(body);
        if (!g)
            return false;
        SEQMQ_FUZZ_EXPECT(same_bytes(encoded(*g), body));
        return true;
    }
    case opcode::revoke:
    case opcode::removed:
        return body.empty();
    case opcode::closing: {
        proto::reader r(body);
        const int reason = r.i32();
        const std::uint32_t zero = r.u32();
        return r.done() && reason > 0 && zero == 0;
    }
    default:
        return false;
    }
}

} // namespace seqmq_fuzz
