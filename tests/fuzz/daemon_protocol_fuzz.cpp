// fuzz_daemon_protocol: every body decoder of the seqmqd protocol (src/wire/daemon_protocol.hpp):
// the request bodies seqmqd reads from its clients, and the replies and notices a client reads
// from seqmqd. The input is one selector byte, then a body (the payload after the frame header):
// input_formats.hpp names the selectors.
//
// Invariants: a request body that decodes re-encodes to exactly the same bytes (the decoders are
// strict: no second spelling of any request), and keeps the rules it was checked against; a reply
// reads as seqmq::queue reads it, each part re-encoding to the bytes it came from.
#include "fuzz_support.hpp"
#include "input_formats.hpp"
#include "wire_checks.hpp"

#include "wire/daemon_protocol.hpp"

using namespace seqmq::detail;
namespace p = seqmq::detail::proto;
using seqmq_fuzz::encoded;
using seqmq_fuzz::same_bytes;

namespace {

// Each request decoder: decode, check its rules, re-encode.
void open_request(std::span<const std::byte> in) {
    auto o = p::decode_open_request(in);
    if (!o)
        return;
    SEQMQ_FUZZ_EXPECT(o->name.size() <= p::max_name_length);
    SEQMQ_FUZZ_EXPECT(o->name.find('\0') == std::string::npos);
    SEQMQ_FUZZ_EXPECT((o->mode & ~0777u) == 0);
    const int ways = int(!o->name.empty()) + int((o->flags & p::open_private) != 0) +
                     int((o->flags & p::open_by_id) != 0);
    SEQMQ_FUZZ_EXPECT(ways == 1);
    SEQMQ_FUZZ_EXPECT(same_bytes(encoded(*o), in));
}

void send_request(std::span<const std::byte> in) {
    auto s = p::decode_send_request(in);
    if (!s)
        return;
    SEQMQ_FUZZ_EXPECT((s->flags & ~std::uint32_t(p::op_nowait)) == 0);
    SEQMQ_FUZZ_EXPECT(seqmq_fuzz::inside(s->text, in));
    SEQMQ_FUZZ_EXPECT(same_bytes(encoded(*s), in));
}

void receive_request(std::span<const std::byte> in) {
    auto q = p::decode_receive_request(in);
    if (!q)
        return;
    SEQMQ_FUZZ_EXPECT(same_bytes(encoded(*q), in));
}

void send_many_request(std::span<const std::byte> in) {
    auto q = p::decode_send_many_request(in);
    if (!q)
        return;
    SEQMQ_FUZZ_EXPECT(q->count >= 1 && seqmq_fuzz::inside(q->entries, in));
    SEQMQ_FUZZ_EXPECT(same_bytes(encoded(*q), in));
    // seqmqd splits the entries next, as a data_batch record's.
    seqmq_fuzz::check_batch(q->entries, q->count, 8192);
}

void receive_many_request(std::span<const std::byte> in) {
    auto q = p::decode_receive_many_request(in);
    if (!q)
        return;
    SEQMQ_FUZZ_EXPECT(q->count >= 1);
    SEQMQ_FUZZ_EXPECT(same_bytes(encoded(*q), in));
}

void ack_many(std::span<const std::byte> in) {
    auto a = p::decode_ack_many(in);
    if (!a)
        return;
    SEQMQ_FUZZ_EXPECT(a->count >= 1);
    SEQMQ_FUZZ_EXPECT(same_bytes(encoded(*a), in));
}

void peek_request(std::span<const std::byte> in) {
    auto q = p::decode_peek_request(in);
    if (!q)
        return;
    SEQMQ_FUZZ_EXPECT((q->flags & ~std::uint32_t(p::op_except)) == 0);
    SEQMQ_FUZZ_EXPECT(same_bytes(encoded(*q), in));
}

void list_request(std::span<const std::byte> in) {
    auto q = p::decode_list_request(in);
    if (!q)
        return;
    SEQMQ_FUZZ_EXPECT(same_bytes(encoded(*q), in));
}

void set_request(std::span<const std::byte> in) {
    auto s = p::decode_set_request(in);
    if (!s)
        return;
    SEQMQ_FUZZ_EXPECT(same_bytes(encoded(*s), in));
}

void u64_body(std::span<const std::byte> in) { // cancel, ack, peek_at, attach
    auto v = p::decode_u64(in);
    if (!v)
        return;
    std::vector<std::byte> again;
    p::writer(again).u64(*v);
    SEQMQ_FUZZ_EXPECT(same_bytes(again, in));
}

void notice(p::opcode op, std::span<const std::byte> in) {
    (void)seqmq_fuzz::check_notice(op, in);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace f = seqmq_fuzz::formats;
    if (size == 0)
        return 0;
    const std::span<const std::byte> body(reinterpret_cast<const std::byte*>(data) + 1, size - 1);
    const unsigned which = data[0] % f::protocol_selectors;
    if (which >= f::request_bodies + std::size(f::reply_bodies)) {
        notice(f::notice_bodies[which - f::request_bodies - std::size(f::reply_bodies)], body);
        return 0;
    }
    if (which >= f::request_bodies) {
        (void)seqmq_fuzz::check_reply(f::reply_bodies[which - f::request_bodies], body);
        return 0;
    }
    switch (f::request_body(which)) {
    case f::request_body::open:
        open_request(body);
        break;
    case f::request_body::send:
        send_request(body);
        break;
    case f::request_body::receive:
        receive_request(body);
        break;
    case f::request_body::send_many:
        send_many_request(body);
        break;
    case f::request_body::receive_many:
        receive_many_request(body);
        break;
    case f::request_body::ack_many:
        ack_many(body);
        break;
    case f::request_body::peek:
        peek_request(body);
        break;
    case f::request_body::list:
        list_request(body);
        break;
    case f::request_body::set:
        set_request(body);
        break;
    case f::request_body::single_u64:
        u64_body(body);
        break;
    }
    return 0;
}
