// fuzz_frame: the record header codec and batch records (src/wire/frame.hpp), which every
// mailbox and seqmqd applies to each record a sender writes, and the mailbox notices a sender
// reads. The input is one record as recv() returns it.
//
// Invariants: a header that decodes re-encodes to the same 24 bytes; decode() accepts exactly
// what decode_prefix() accepts and the length, maximum and type rules allow; a batch that splits
// re-encodes to its payload, each entry inside it; a notice re-encodes to its record.
#include "fuzz_support.hpp"
#include "wire_checks.hpp"

#include "wire/byte_order.hpp"
#include "wire/frame.hpp"

#include <array>

using namespace seqmq::detail;

namespace {

constexpr std::size_t maxima[] = {0, 16, 256, 8192, 65536};

void check_prefix(std::span<const std::byte> in,
                  const std::expected<frame_header, frame_fault>& prefix) {
    if (!prefix) {
        const frame_fault f = prefix.error();
        SEQMQ_FUZZ_EXPECT(f == frame_fault::short_record || f == frame_fault::bad_magic ||
                          f == frame_fault::bad_version || f == frame_fault::bad_kind);
        SEQMQ_FUZZ_EXPECT((f == frame_fault::short_record) == (in.size() < frame_header::size));
        return;
    }
    SEQMQ_FUZZ_EXPECT(in.size() >= frame_header::size);
    std::array<std::byte, frame_header::size> again;
    encode(*prefix, again);
    SEQMQ_FUZZ_EXPECT(seqmq_fuzz::same_bytes(again, in.first(frame_header::size)));
}

void check_decode(std::span<const std::byte> in,
                  const std::expected<frame_header, frame_fault>& prefix, std::size_t max) {
    auto h = decode(in, max);
    if (!h) {
        const frame_fault f = h.error();
        SEQMQ_FUZZ_EXPECT(!to_string(f).empty());
        if (!prefix)
            SEQMQ_FUZZ_EXPECT(f == prefix.error());
        else
            SEQMQ_FUZZ_EXPECT(f == frame_fault::length_mismatch || f == frame_fault::too_long ||
                              f == frame_fault::bad_type);
        return;
    }
    SEQMQ_FUZZ_EXPECT(prefix.has_value());
    SEQMQ_FUZZ_EXPECT(h->kind == prefix->kind && h->length == prefix->length &&
                      h->sequence == prefix->sequence && h->type == prefix->type);
    SEQMQ_FUZZ_EXPECT(h->length == in.size() - frame_header::size);
    SEQMQ_FUZZ_EXPECT(h->length <= max);
    if (h->kind == frame_kind::data || h->kind == frame_kind::data_batch)
        SEQMQ_FUZZ_EXPECT(h->type >= 1);
    if (h->kind == frame_kind::data_batch)
        seqmq_fuzz::check_batch(in.subspan(frame_header::size), std::uint64_t(h->type), max);
}

void check_notice(std::span<const std::byte> in) {
    auto n = decode_notice(in);
    if (!n)
        return;
    SEQMQ_FUZZ_EXPECT(in.size() == mailbox_notice::size);
    std::array<std::byte, mailbox_notice::size> again;
    encode(*n, again);
    // decode_notice() does not read the sequence field (bytes 8..15): encode() writes 0 there.
    SEQMQ_FUZZ_EXPECT(seqmq_fuzz::same_bytes(std::span(again).first(8), in.first(8)));
    SEQMQ_FUZZ_EXPECT(seqmq_fuzz::same_bytes(std::span(again).subspan(16), in.subspan(16)));
}

void check_entry(std::span<const std::byte> in, std::size_t max) {
    auto e = read_batch_entry(in, max);
    if (!e)
        return;
    SEQMQ_FUZZ_EXPECT(e->type >= 1 && e->payload.size() <= max);
    SEQMQ_FUZZ_EXPECT(batch_entry::header_size + e->payload.size() <= in.size());
    SEQMQ_FUZZ_EXPECT(e->payload.data() == in.data() + batch_entry::header_size ||
                      e->payload.empty());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span in(reinterpret_cast<const std::byte*>(data), size);
    const auto prefix = decode_prefix(in);
    check_prefix(in, prefix);
    for (std::size_t max : maxima)
        check_decode(in, prefix, max);
    check_notice(in);
    check_entry(in, 8192);
    // split_batch on its own, whatever the header says: a u64 count, then the entries.
    if (size >= 8) {
        const auto count = get_big_endian<std::uint64_t>(in.data());
        seqmq_fuzz::check_batch(in.subspan(8), count, 8192);
        seqmq_fuzz::check_batch(in.subspan(8), count % 8, 16);
    }
    return 0;
}
