#include "wire/frame.hpp"

#include "wire/byte_order.hpp"

#include <cstring>

namespace seqmq::detail {
std::string_view to_string(frame_fault f) noexcept {
    switch (f) {
    case frame_fault::short_record:
        return "record shorter than the header";
    case frame_fault::bad_magic:
        return "bad magic";
    case frame_fault::bad_version:
        return "unknown version";
    case frame_fault::bad_kind:
        return "unknown record kind";
    case frame_fault::length_mismatch:
        return "length field disagrees with the record";
    case frame_fault::too_long:
        return "payload above the maximum message size";
    case frame_fault::bad_type:
        return "data record with type below 1";
    case frame_fault::bad_sequence:
        return "sequence number out of order";
    case frame_fault::unexpected_kind:
        return "record kind not expected here";
    case frame_fault::bad_batch:
        return "batch entries disagree with the record";
    }
    return "unknown fault";
}

void encode(const frame_header& h, std::span<std::byte, frame_header::size> out) noexcept {
    std::byte* p = out.data();
    put_big_endian<std::uint16_t>(p, frame_header::magic);
    p[2] = std::byte{frame_header::version};
    p[3] = static_cast<std::byte>(h.kind);
    put_big_endian<std::uint32_t>(p + 4, h.length);
    put_big_endian<std::uint64_t>(p + 8, h.sequence);
    put_big_endian<std::uint64_t>(p + 16, static_cast<std::uint64_t>(h.type));
}

std::expected<frame_header, frame_fault> decode_prefix(std::span<const std::byte> in) noexcept {
    if (in.size() < frame_header::size)
        return std::unexpected(frame_fault::short_record);
    const std::byte* p = in.data();
    if (get_big_endian<std::uint16_t>(p) != frame_header::magic)
        return std::unexpected(frame_fault::bad_magic);
    if (std::to_integer<std::uint8_t>(p[2]) != frame_header::version)
        return std::unexpected(frame_fault::bad_version);
    auto kind = std::to_integer<std::uint8_t>(p[3]);
    if (kind < 1 || kind > 4)
        return std::unexpected(frame_fault::bad_kind);
    frame_header h;
    h.kind = static_cast<frame_kind>(kind);
    h.length = get_big_endian<std::uint32_t>(p + 4);
    h.sequence = get_big_endian<std::uint64_t>(p + 8);
    h.type = static_cast<std::int64_t>(get_big_endian<std::uint64_t>(p + 16));
    return h;
}

std::expected<frame_header, frame_fault> decode(std::span<const std::byte> record,
                                                std::size_t max_payload) noexcept {
    auto h = decode_prefix(record);
    if (!h)
        return h;
    if (h->length != record.size() - frame_header::size)
        return std::unexpected(frame_fault::length_mismatch);
    if (h->length > max_payload)
        return std::unexpected(frame_fault::too_long);
    if ((h->kind == frame_kind::data || h->kind == frame_kind::data_batch) && h->type < 1)
        return std::unexpected(frame_fault::bad_type);
    return h;
}

void encode_batch_entry(std::byte* out, long type, std::uint32_t length) noexcept {
    put_big_endian<std::uint32_t>(out, length);
    put_big_endian<std::uint64_t>(out + 4, static_cast<std::uint64_t>(type));
}

std::expected<batch_entry, frame_fault> read_batch_entry(std::span<const std::byte> rest,
                                                         std::size_t max_payload) noexcept {
    if (rest.size() < batch_entry::header_size)
        return std::unexpected(frame_fault::bad_batch);
    const std::uint32_t length = get_big_endian<std::uint32_t>(rest.data());
    const auto type = static_cast<long>(get_big_endian<std::uint64_t>(rest.data() + 4));
    if (length > rest.size() - batch_entry::header_size)
        return std::unexpected(frame_fault::bad_batch);
    if (length > max_payload)
        return std::unexpected(frame_fault::too_long);
    if (type < 1)
        return std::unexpected(frame_fault::bad_type);
    return batch_entry{type, rest.subspan(batch_entry::header_size, length)};
}

void encode(const mailbox_notice& n, std::span<std::byte, mailbox_notice::size> out) noexcept {
    encode(frame_header{frame_kind::control_reply, 16, 0, static_cast<std::int64_t>(n.op)},
           out.first<frame_header::size>());
    put_big_endian<std::uint64_t>(out.data() + frame_header::size, n.first);
    put_big_endian<std::uint64_t>(out.data() + frame_header::size + 8, n.second);
}

std::expected<mailbox_notice, frame_fault>
decode_notice(std::span<const std::byte> record) noexcept {
    auto h = decode(record, 16);
    if (!h)
        return std::unexpected(h.error());
    if (h->kind != frame_kind::control_reply || h->length != 16)
        return std::unexpected(frame_fault::unexpected_kind);
    const std::byte* p = record.data() + frame_header::size;
    return mailbox_notice{static_cast<mailbox_control>(h->type), get_big_endian<std::uint64_t>(p),
                          get_big_endian<std::uint64_t>(p + 8)};
}

} // namespace seqmq::detail
