#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string_view>

namespace seqmq::detail {

/// What a record is.
enum class frame_kind : std::uint8_t {
    data = 1,            ///< a message: type tag + payload
    control_request = 2, ///< client to server (the daemon); opcode in the type field
    control_reply = 3,   ///< server to client; opcode in the type field
    data_batch = 4,      ///< several messages in one record; message count in the type field
};

/// Opcodes of the control records a mailbox sends to its senders.
enum class mailbox_control : std::int64_t {
    hello = 1,   ///< right after accept: first = max_message_size, second = capacity
    closing = 2, ///< before cutting a connection: first = errno-style reason, second = limit
};

/// The fixed header in front of every record. Big-endian on the wire, so TIPC peers of any
/// architecture agree:
///   0  u16 magic 0x5351 ("SQ")   2 u8 version   3 u8 kind
///   4  u32 payload length        8 u64 sequence number (per connection, from 1)
///   16 i64 type tag
struct frame_header {
    static constexpr std::uint16_t magic = 0x5351;
    static constexpr std::uint8_t version = 1;
    static constexpr std::size_t size = 24;

    frame_kind kind = frame_kind::data;
    std::uint32_t length = 0;
    std::uint64_t sequence = 0;
    std::int64_t type = 0;
};

/// In a data_batch record each message is a 12-byte entry header, then its payload:
///   0 u32 payload length   4 i64 type tag
/// Entries fill the record exactly; the header's type field counts them (>= 1), and the batch
/// takes that many sequence numbers, the first being the header's.
struct batch_entry {
    static constexpr std::size_t header_size = 12;
    long type;
    std::span<const std::byte> payload;
};

/// Writes an entry header at `out` (12 bytes).
void encode_batch_entry(std::byte* out, long type, std::uint32_t length) noexcept;

/// Why a record was refused. Each cuts the connection it came from.
enum class frame_fault {
    short_record,    ///< fewer bytes than the header
    bad_magic,       ///< not a seqmq record
    bad_version,     ///< a version this build does not speak
    bad_kind,        ///< kind not in frame_kind
    length_mismatch, ///< header length disagrees with the record's size
    too_long,        ///< payload above the receiver's maximum message size
    bad_type,        ///< data record with type < 1
    bad_sequence,    ///< sequence number not the one expected on this connection
    unexpected_kind, ///< a kind this end does not take (a mailbox takes only data)
    bad_batch,       ///< a batch whose entries do not fill it exactly or disagree with its count
};

std::string_view to_string(frame_fault f) noexcept;

/// Writes `h` into the first frame_header::size bytes of `out`.
void encode(const frame_header& h, std::span<std::byte, frame_header::size> out) noexcept;

/// Reads and validates the header of one whole record of `record.size()` bytes whose payload may
/// be at most `max_payload` bytes. The record must be complete (its true length known).
std::expected<frame_header, frame_fault> decode(std::span<const std::byte> record,
                                                std::size_t max_payload) noexcept;

/// Splits the payload of a data_batch record of `count` entries into `out` (cleared first), each
/// payload at most `max_payload` bytes and each type >= 1. Errors: bad_batch, too_long, bad_type.
template <class Vector>
std::expected<void, frame_fault> split_batch(std::span<const std::byte> payload,
                                             std::uint64_t count, std::size_t max_payload,
                                             Vector& out) noexcept;

/// Reads the header fields only, for a peek at a record whose tail was not read; checks magic,
/// version and kind. Errors: short_record, bad_magic, bad_version, bad_kind.
std::expected<frame_header, frame_fault> decode_prefix(std::span<const std::byte> prefix) noexcept;

/// A mailbox's control record: header (kind control_reply, type = opcode) and two u64 fields.
struct mailbox_notice {
    static constexpr std::size_t size = frame_header::size + 16;
    mailbox_control op = mailbox_control::hello;
    std::uint64_t first = 0;
    std::uint64_t second = 0;
};

void encode(const mailbox_notice& n, std::span<std::byte, mailbox_notice::size> out) noexcept;

/// Reads a mailbox_notice from a whole record. Errors: as decode(), and unexpected_kind when the
/// record is not a control reply of that size.
std::expected<mailbox_notice, frame_fault>
decode_notice(std::span<const std::byte> record) noexcept;

std::expected<batch_entry, frame_fault> read_batch_entry(std::span<const std::byte> rest,
                                                         std::size_t max_payload) noexcept;

template <class Vector>
std::expected<void, frame_fault> split_batch(std::span<const std::byte> payload,
                                             std::uint64_t count, std::size_t max_payload,
                                             Vector& out) noexcept {
    out.clear();
    while (!payload.empty()) {
        if (out.size() == count)
            return std::unexpected(frame_fault::bad_batch);
        auto e = read_batch_entry(payload, max_payload);
        if (!e)
            return std::unexpected(e.error());
        out.push_back(*e);
        payload = payload.subspan(batch_entry::header_size + e->payload.size());
    }
    if (out.size() != count || count == 0)
        return std::unexpected(frame_fault::bad_batch);
    return {};
}

} // namespace seqmq::detail
