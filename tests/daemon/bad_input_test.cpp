// Bad input: malformed, truncated and oversized records, unknown opcodes, a protocol
// misbehaving client, a flood of connections past --max-clients. Each bad connection is cut
// and counted; the daemon stays up and serves well-behaved clients throughout.
#define BOOST_TEST_MODULE seqmqd bad input
#include "raw_client.hpp"

using namespace daemon_test;
namespace p = seqmq::detail::proto;
using seqmq::detail::frame_header;
using seqmq::detail::frame_kind;

namespace {

std::vector<std::byte> u64_body(std::uint64_t v) {
    std::vector<std::byte> b;
    p::writer(b).u64(v);
    return b;
}

// A data_batch payload of one entry per payload, all of type 1.
std::vector<std::byte> batch_of(std::initializer_list<std::string_view> payloads) {
    std::vector<std::byte> b;
    for (auto t : payloads) {
        std::array<std::byte, seqmq::detail::batch_entry::header_size> entry;
        seqmq::detail::encode_batch_entry(entry.data(), 1, std::uint32_t(t.size()));
        b.insert(b.end(), entry.begin(), entry.end());
        b.insert(b.end(), bytes(t).begin(), bytes(t).end());
    }
    return b;
}

std::vector<std::byte> receive_many_body(std::uint32_t most) {
    std::vector<std::byte> b;
    p::writer w(b);
    p::encode(w, p::receive_many_request{0, p::op_nowait, 1000, most});
    return b;
}

std::uint64_t protocol_errors(const daemon_process& d) {
    auto i = seqmq::queue::info(d.options());
    BOOST_TEST_REQUIRE(i.has_value(), why(i));
    return i->protocol_errors;
}

} // namespace

BOOST_AUTO_TEST_CASE(each_malformed_record_cuts_only_its_connection) {
    daemon_process d;
    auto keep = open_queue(d, "kept");
    BOOST_TEST_REQUIRE(keep.send(7, bytes("survivor")).has_value());
    std::uint64_t errors = protocol_errors(d);

    using sender = std::function<void(raw_client&)>;
    const std::vector<std::pair<std::string, sender>> cases = {
        {"short record", [](raw_client& c) { c.send_bytes(std::vector<std::byte>(10)); }},
        {"bad magic",
         [](raw_client& c) {
             auto r = p::start_record(frame_kind::control_request, 7, 1);
             r[0] = std::byte{0xde};
             c.send_bytes(p::finish_record(r));
         }},
        {"bad version",
         [](raw_client& c) {
             auto r = p::start_record(frame_kind::control_request, 7, 1);
             r[2] = std::byte{9};
             c.send_bytes(p::finish_record(r));
         }},
        {"bad kind",
         [](raw_client& c) {
             auto r = p::start_record(frame_kind::control_request, 7, 1);
             r[3] = std::byte{77};
             c.send_bytes(p::finish_record(r));
         }},
        {"length disagrees",
         [](raw_client& c) {
             auto r = p::start_record(frame_kind::control_request, 7, 1);
             r.resize(r.size() + 8);
             c.send_bytes(r); // length field says 0
         }},
        {"oversized record",
         [](raw_client& c) {
             auto r = p::start_record(frame_kind::control_request, 2, 1);
             r.resize(frame_header::size + 100000);
             c.send_bytes(p::finish_record(r));
         }},
        {"unknown opcode", [](raw_client& c) { c.request(p::opcode(999), {}); }},
        {"reply kind from a client",
         [](raw_client& c) { c.request(p::opcode::stat, {}, frame_kind::control_reply); }},
        {"truncated open", [](raw_client& c) { c.request(p::opcode::open, {std::byte{1}}); }},
        {"open with unknown flags",
         [](raw_client& c) {
             std::vector<std::byte> b;
             p::writer w(b);
             p::encode(w, p::open_request{0x80, 0600, 0, 0, "x"});
             c.request(p::opcode::open, b);
         }},
        {"open naming two ways",
         [](raw_client& c) {
             std::vector<std::byte> b;
             p::writer w(b);
             p::encode(w, p::open_request{p::open_private, 0600, 0, 0, "x"});
             c.request(p::opcode::open, b);
         }},
        {"sequence out of order",
         [](raw_client& c) {
             c.seq_ = 5;
             c.request(p::opcode::info, {});
         }},
        {"data before open",
         [](raw_client& c) { c.request(p::opcode(1), u64_body(1), frame_kind::data); }},
        {"data beyond credit",
         [](raw_client& c) {
             c.open("kept");
             c.request(p::opcode(1), u64_body(1), frame_kind::data);
         }},
        {"data of type 0",
         [](raw_client& c) {
             c.open("kept");
             c.request(p::opcode(0), u64_body(1), frame_kind::data);
         }},
        {"ack of nothing",
         [](raw_client& c) {
             c.open("kept");
             c.request(p::opcode::ack, u64_body(1));
         }},
        {"batch beyond credit",
         [](raw_client& c) {
             c.open("kept");
             c.request(p::opcode(2), batch_of({"a", "b"}), frame_kind::data_batch);
         }},
        {"batch whose entries disagree with its count",
         [](raw_client& c) {
             c.open("kept");
             c.request(p::opcode(3), batch_of({"a", "b"}), frame_kind::data_batch);
         }},
        {"batch with a cut entry",
         [](raw_client& c) {
             c.open("kept");
             auto b = batch_of({"abc"});
             b.pop_back();
             c.request(p::opcode(1), b, frame_kind::data_batch);
         }},
        {"send_many with a count that disagrees",
         [](raw_client& c) {
             c.open("kept");
             std::vector<std::byte> b;
             p::writer(b).u32(0).u32(3);
             auto entries = batch_of({"a", "b"});
             b.insert(b.end(), entries.begin(), entries.end());
             c.request(p::opcode::send_many, b);
         }},
        {"send_many of no messages",
         [](raw_client& c) {
             c.open("kept");
             std::vector<std::byte> b;
             p::writer(b).u32(0).u32(0);
             c.request(p::opcode::send_many, b);
         }},
        {"receive_many of no messages",
         [](raw_client& c) {
             c.open("kept");
             c.request(p::opcode::receive_many, receive_many_body(0));
         }},
        {"ack_many of more than was handed over",
         [](raw_client& c) {
             c.open("kept");
             c.request(p::opcode::receive_many, receive_many_body(5));
             BOOST_TEST(raw_client::result_of(c.next()) == 0); // "survivor"
             std::vector<std::byte> b;
             p::writer w(b);
             p::encode(w, p::ack_many_body{2, 1});
             c.request(p::opcode::ack_many, b);
         }},
        {"receive with trailing bytes",
         [](raw_client& c) {
             c.open("kept");
             std::vector<std::byte> b;
             p::writer w(b);
             p::encode(w, p::receive_request{0, 0, 100});
             b.push_back(std::byte{0});
             c.request(p::opcode::receive, b);
         }},
        {"stat with a body",
         [](raw_client& c) {
             c.open("kept");
             c.request(p::opcode::stat, u64_body(0));
         }},
    };
    for (const auto& [what, send_bad] : cases) {
        raw_client bad(d);
        send_bad(bad);
        BOOST_TEST(bad.closed_with(EPROTO), what << ": not cut with EPROTO");
        BOOST_TEST(protocol_errors(d) == ++errors, what << ": not counted once");
        BOOST_TEST_REQUIRE(d.alive(), what << " brought the daemon down");
        good_client_works(d);
    }
    auto m = keep.peek();
    BOOST_TEST_REQUIRE(m.has_value(), why(m));
    BOOST_TEST(text(m->data) == "survivor");
}

BOOST_AUTO_TEST_CASE(garbage_and_half_closed_clients) {
    daemon_process d;
    for (int i = 0; i < 50; ++i) {
        raw_client c(d);
        std::vector<std::byte> junk(std::size_t(1 + (i * 37) % 300));
        for (std::size_t k = 0; k < junk.size(); ++k)
            junk[k] = std::byte(std::uint8_t(k * 131 + std::size_t(i)));
        c.send_bytes(junk);
    }
    {
        raw_client silent(d); // connects and leaves without a word
    }
    BOOST_TEST(d.alive());
    good_client_works(d);
}

BOOST_AUTO_TEST_CASE(client_limit_refuses_only_the_newcomer) {
    daemon_process d({"--max-clients", "4"});
    auto q = open_queue(d, "limit"); // 1
    std::vector<std::unique_ptr<raw_client>> flood;
    for (int i = 0; i < 3; ++i) // 2..4
        flood.push_back(std::make_unique<raw_client>(d));
    BOOST_TEST_REQUIRE(q.send(1, bytes("x")).has_value()); // after the flood was accepted
    auto refused = seqmq::queue::open("limit", seqmq::open_flags::none, 0600, d.options());
    BOOST_TEST_REQUIRE(!refused.has_value());
    BOOST_TEST((refused.error() == std::error_code(EUSERS, std::system_category())),
               refused.error().message());
    for (int i = 0; i < 20; ++i) { // a flood past the limit: each told and closed
        raw_client extra(d);
        BOOST_TEST(extra.closed_with(EUSERS));
    }
    BOOST_TEST(q.peek().has_value()); // the existing client is served throughout
    flood.clear();
    BOOST_TEST(eventually([&] {
        return seqmq::queue::open("limit", seqmq::open_flags::none, 0600, d.options()).has_value();
    }));
}

BOOST_AUTO_TEST_CASE(pending_request_limit) {
    daemon_process d({"--max-pending", "2"});
    auto q = open_queue(d, "pending");
    raw_client c(d);
    c.open("pending");
    std::vector<std::byte> b;
    p::writer w(b);
    p::encode(w, p::receive_request{42, 0, 100});
    c.request(p::opcode::receive, b);
    c.request(p::opcode::receive, b);
    c.request(p::opcode::receive, b);
    auto r = c.next(); // the third: refused; the first two wait
    BOOST_TEST(raw_client::result_of(r) == ENOBUFS);
    BOOST_TEST(eventually([&] { return q.stat()->waiting_receivers == 2u; }));
    good_client_works(d);
}

BOOST_AUTO_TEST_CASE(unacknowledged_message_returns_to_its_place) {
    daemon_process d;
    auto q = open_queue(d, "ack");
    BOOST_TEST_REQUIRE(q.send(1, bytes("first")).has_value());
    BOOST_TEST_REQUIRE(q.send(1, bytes("second")).has_value());
    {
        raw_client c(d);
        c.open("ack");
        std::vector<std::byte> b;
        p::writer w(b);
        p::encode(w, p::receive_request{0, p::op_nowait, 100});
        c.request(p::opcode::receive, b);
        auto r = c.next();
        BOOST_TEST_REQUIRE(raw_client::result_of(r) == 0);
        BOOST_TEST(q.stat()->count == 1u); // handed over...
        // ... and the client goes away without acknowledging it.
    }
    BOOST_TEST_REQUIRE(eventually([&] { return q.stat()->count == 2u; }));
    auto all = q.peek_all();
    BOOST_TEST_REQUIRE(all->size() == 2u);
    BOOST_TEST(text((*all)[0].data) == "first");
    BOOST_TEST(text((*all)[1].data) == "second");
    BOOST_TEST((*all)[0].arrival < (*all)[1].arrival);
}

BOOST_AUTO_TEST_CASE(unacknowledged_batch_returns_to_its_places) {
    daemon_process d;
    auto q = open_queue(d, "ack-many");
    for (auto t : {"one", "two", "three", "four"})
        BOOST_TEST_REQUIRE(q.send(1, bytes(t)).has_value());
    {
        raw_client c(d);
        c.open("ack-many");
        c.request(p::opcode::receive_many, receive_many_body(3));
        auto r = c.next();
        BOOST_TEST_REQUIRE(raw_client::result_of(r) == 0);
        p::reader rd{std::span<const std::byte>(r).subspan(frame_header::size + 8)};
        BOOST_TEST(p::decode_batch_header(rd)->count == 3u);
        BOOST_TEST(q.stat()->count == 1u); // three handed over, not acknowledged
    }
    BOOST_TEST_REQUIRE(eventually([&] { return q.stat()->count == 4u; }));
    auto all = q.peek_all();
    BOOST_TEST_REQUIRE(all->size() == 4u);
    const char* in_order[] = {"one", "two", "three", "four"};
    for (std::size_t i = 0; i < 4; ++i)
        BOOST_TEST(text((*all)[i].data) == in_order[i]);
}

// --listen on a path taken by a regular file: seqmqd refuses to start and the file stays (a
// regular file refuses connect() as a dead socket does; it used to be unlinked as one).
BOOST_AUTO_TEST_CASE(listen_on_a_regular_file_is_refused_and_the_file_kept) {
    char tmpl[] = "/tmp/seqmqd-file-XXXXXX";
    BOOST_TEST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    const std::string path = std::string(tmpl) + "/data";
    {
        FILE* f = std::fopen(path.c_str(), "w");
        BOOST_TEST_REQUIRE(f != nullptr);
        std::fputs("keep me\n", f);
        std::fclose(f);
    }
    const std::string listen = "unix:" + path;
    child daemon([&] {
        int devnull = ::open("/dev/null", O_WRONLY);
        ::dup2(devnull, 2);
        ::execl(SEQMQD_PATH, SEQMQD_PATH, "--listen", listen.c_str(), nullptr);
        return 127;
    });
    BOOST_TEST(daemon.wait(10s) != 0);
    std::string kept;
    if (FILE* f = std::fopen(path.c_str(), "r")) {
        char buf[64];
        kept.assign(buf, std::fread(buf, 1, sizeof buf, f));
        std::fclose(f);
    }
    BOOST_TEST(kept == "keep me\n");
    std::filesystem::remove_all(tmpl);
}
