#define BOOST_TEST_MODULE frame
#include <boost/test/unit_test.hpp>

#include "wire/frame.hpp"

#include <array>
#include <cstring>
#include <vector>

using namespace seqmq::detail;

namespace {

std::vector<std::byte> record(const frame_header& h, std::size_t payload) {
    std::vector<std::byte> r(frame_header::size + payload, std::byte{0xab});
    encode(h, std::span(r.data(), frame_header::size).first<frame_header::size>());
    return r;
}

frame_fault fault_of(std::span<const std::byte> r, std::size_t max = 8192) {
    auto h = decode(r, max);
    BOOST_TEST_REQUIRE(!h.has_value());
    return h.error();
}

} // namespace

BOOST_AUTO_TEST_CASE(round_trip) {
    frame_header h{frame_kind::data, 5, 0x0102030405060708ull, 0x7fffffffffffffffll};
    auto r = record(h, 5);
    auto d = decode(r, 8192);
    BOOST_TEST_REQUIRE(d.has_value());
    BOOST_TEST((d->kind == frame_kind::data));
    BOOST_TEST(d->length == 5u);
    BOOST_TEST(d->sequence == 0x0102030405060708ull);
    BOOST_TEST(d->type == 0x7fffffffffffffffll);
}

BOOST_AUTO_TEST_CASE(big_endian_layout) {
    auto r = record({frame_kind::control_reply, 0x11223344, 0x55, 0x0a0b}, 0);
    const std::uint8_t expected[24] = {0x53, 0x51, 1, 3, 0x11, 0x22, 0x33, 0x44,
                                       0,    0,    0, 0, 0,    0,    0,    0x55,
                                       0,    0,    0, 0, 0,    0,    0x0a, 0x0b};
    BOOST_TEST(std::memcmp(r.data(), expected, 24) == 0);
}

BOOST_AUTO_TEST_CASE(every_malformed_case) {
    auto good = record({frame_kind::data, 4, 1, 1}, 4);
    BOOST_TEST(decode(good, 8192).has_value());

    for (std::size_t n = 0; n < frame_header::size; ++n)
        BOOST_TEST((fault_of(std::span(good).first(n)) == frame_fault::short_record));

    auto bad_magic = good;
    bad_magic[0] = std::byte{0};
    BOOST_TEST((fault_of(bad_magic) == frame_fault::bad_magic));

    auto bad_version = good;
    bad_version[2] = std::byte{2};
    BOOST_TEST((fault_of(bad_version) == frame_fault::bad_version));

    for (std::uint8_t k : {0, 5, 255}) {
        auto bad_kind = good;
        bad_kind[3] = std::byte{k};
        BOOST_TEST((fault_of(bad_kind) == frame_fault::bad_kind));
    }

    auto longer = good; // record longer than the header says
    longer.push_back(std::byte{0});
    BOOST_TEST((fault_of(longer) == frame_fault::length_mismatch));
    auto shorter = good;
    shorter.pop_back();
    BOOST_TEST((fault_of(shorter) == frame_fault::length_mismatch));

    auto too_long = record({frame_kind::data, 9, 1, 1}, 9);
    BOOST_TEST((fault_of(too_long, 8) == frame_fault::too_long));
    BOOST_TEST(decode(too_long, 9).has_value());

    for (long t : {0L, -1L, std::numeric_limits<long>::min()})
        BOOST_TEST((fault_of(record({frame_kind::data, 0, 1, t}, 0)) == frame_fault::bad_type));
    // Control records carry opcodes, not message types: no type check.
    BOOST_TEST(decode(record({frame_kind::control_request, 0, 1, 0}, 0), 8192).has_value());
}

BOOST_AUTO_TEST_CASE(lying_length_field_is_never_trusted) {
    // A length far past the record must not be read, whatever the maximum.
    auto r = record({frame_kind::data, 0xffffffffu, 1, 1}, 3);
    BOOST_TEST((fault_of(r, std::size_t(-1)) == frame_fault::length_mismatch));
}

BOOST_AUTO_TEST_CASE(notices) {
    std::array<std::byte, mailbox_notice::size> out;
    encode(mailbox_notice{mailbox_control::hello, 8192, 16384}, out);
    auto n = decode_notice(out);
    BOOST_TEST_REQUIRE(n.has_value());
    BOOST_TEST((n->op == mailbox_control::hello));
    BOOST_TEST(n->first == 8192u);
    BOOST_TEST(n->second == 16384u);
    auto data = record({frame_kind::data, 16, 1, 1}, 16);
    BOOST_TEST((decode_notice(data).error() == frame_fault::unexpected_kind));
    BOOST_TEST((decode_notice(std::span(out).first(10)).error() == frame_fault::short_record));
}

namespace {

// A batch record's payload from (type, payload) pairs.
std::vector<std::byte> batch_payload(std::initializer_list<std::pair<long, std::string>> ms) {
    std::vector<std::byte> out;
    for (const auto& [type, text] : ms) {
        std::size_t at = out.size();
        out.resize(at + batch_entry::header_size + text.size());
        encode_batch_entry(out.data() + at, type, std::uint32_t(text.size()));
        std::memcpy(out.data() + at + batch_entry::header_size, text.data(), text.size());
    }
    return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(batches_split_in_order) {
    auto p = batch_payload({{3, "abc"}, {1, ""}, {7, "xy"}});
    std::vector<batch_entry> out;
    BOOST_TEST_REQUIRE(split_batch(p, 3, 8192, out).has_value());
    BOOST_TEST_REQUIRE(out.size() == 3u);
    BOOST_TEST(out[0].type == 3);
    BOOST_TEST(out[0].payload.size() == 3u);
    BOOST_TEST(out[1].payload.empty());
    BOOST_TEST(out[2].type == 7);
    BOOST_TEST(std::to_integer<char>(out[2].payload[1]) == 'y');
}

BOOST_AUTO_TEST_CASE(every_malformed_batch) {
    std::vector<batch_entry> out;
    auto fault = [&](std::span<const std::byte> p, std::uint64_t count, std::size_t max = 8192) {
        auto r = split_batch(p, count, max, out);
        BOOST_TEST_REQUIRE(!r.has_value());
        return r.error();
    };
    auto two = batch_payload({{1, "aa"}, {2, "bbb"}});
    BOOST_TEST((fault(two, 1) == frame_fault::bad_batch)); // more entries than counted
    BOOST_TEST((fault(two, 3) == frame_fault::bad_batch)); // fewer
    BOOST_TEST((fault({}, 0) == frame_fault::bad_batch));  // empty
    BOOST_TEST((fault(std::span(two).first(two.size() - 1), 2) == frame_fault::bad_batch));
    BOOST_TEST((fault(std::span(two).first(5), 1) == frame_fault::bad_batch)); // cut header
    BOOST_TEST((fault(two, 2, 2) == frame_fault::too_long));
    BOOST_TEST((fault(batch_payload({{0, "z"}}), 1) == frame_fault::bad_type));
    BOOST_TEST((fault(batch_payload({{-5, "z"}}), 1) == frame_fault::bad_type));
    // A lying entry length is never followed past the record.
    auto lie = batch_payload({{1, "abc"}});
    encode_batch_entry(lie.data(), 1, 0xffffffffu);
    BOOST_TEST((fault(lie, 1, std::size_t(-1)) == frame_fault::bad_batch));
}

BOOST_AUTO_TEST_CASE(batch_records_need_a_count) {
    auto p = batch_payload({{1, "a"}});
    std::vector<std::byte> r(frame_header::size + p.size());
    encode({frame_kind::data_batch, std::uint32_t(p.size()), 1, 0},
           std::span(r.data(), frame_header::size).first<frame_header::size>());
    BOOST_TEST((decode(r, 8192).error() == frame_fault::bad_type));
}
