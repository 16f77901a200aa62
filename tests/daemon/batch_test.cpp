// queue::send_many and queue::receive_many against a real seqmqd: a batch takes exactly what
// successive single calls would take, in their order, and keeps every message's boundaries.
#define BOOST_TEST_MODULE seqmqd batches
#include "daemon_fixture.hpp"

#include <random>

using namespace daemon_test;
using seqmq::incoming_message;
using seqmq::open_flags;
using seqmq::outgoing_message;
using seqmq::queue;
using seqmq::receive_flags;
using seqmq::selector;
using seqmq::send_flags;

namespace {

std::string describe(selector w) {
    if (w.type == 0)
        return "any";
    if (w.type < 0)
        return "lowest up to " + std::to_string(-w.type);
    return (w.except ? "except " : "type ") + std::to_string(w.type);
}

// A message's payload: its number and type, padded to `size` bytes.
std::string payload_of(int n, long type, std::size_t size) {
    std::string s = std::to_string(n) + "/" + std::to_string(type) + ":";
    s.resize(std::max(size, s.size()), char('a' + n % 26));
    return s;
}

} // namespace

BOOST_AUTO_TEST_CASE(receive_many_takes_what_successive_receives_take) {
    daemon_process d;
    // Two queues filled alike: `batched` is drained by receive_many, `single` by receive().
    auto batched = open_queue(d, "batched", 1 << 20);
    auto single = open_queue(d, "single", 1 << 20);
    std::mt19937 rng(20261122);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    int sent = 0;
    auto send_some = [&](int n) {
        for (int i = 0; i < n; ++i, ++sent) {
            const long type = pick(1, 6);
            const auto p = payload_of(sent, type, std::size_t(pick(0, 300)));
            send_ok(batched, type, p);
            send_ok(single, type, p);
        }
    };
    send_some(400);
    std::vector<std::byte> buffer(8192), one(8192);
    std::vector<incoming_message> out(48);
    int batches = 0, multi = 0, e2big = 0, empty = 0;
    for (int round = 0; round < 600; ++round) {
        if (round % 50 == 25)
            send_some(120);
        const int kind = pick(0, 3);
        const long t = pick(1, 7);
        const selector which = kind == 0   ? selector::any()
                               : kind == 1 ? selector::of_type(t)
                               : kind == 2 ? selector::except_type(t)
                                           : selector::lowest_up_to(t);
        const std::size_t room = std::size_t(pick(0, 9) == 0 ? pick(0, 40) : pick(40, 4000));
        const std::size_t most = std::size_t(pick(1, int(out.size())));
        auto flags = receive_flags::nowait;
        if (pick(0, 4) == 0)
            flags = flags | receive_flags::noerror;
        const std::string what = describe(which) + ", buffer " + std::to_string(room) + ", most " +
                                 std::to_string(most) + ", round " + std::to_string(round);

        auto got = batched.receive_many(std::span(buffer).first(room), std::span(out).first(most),
                                        which, flags);
        auto first = single.receive(std::span(one).first(room), which, flags);
        if (!first) {
            BOOST_TEST_REQUIRE(!got.has_value(), what << ": batch took what receive did not");
            BOOST_TEST(got.error() == first.error(), what);
            e2big += first.error() == std::errc::argument_list_too_long;
            empty += first.error() == std::errc::no_message;
            continue;
        }
        BOOST_TEST_REQUIRE(got.has_value(), what << ": " << why(got));
        BOOST_TEST_REQUIRE(*got >= 1u);
        BOOST_TEST_REQUIRE(*got <= most);
        ++batches;
        multi += *got > 1;
        std::size_t left = room, at = 0;
        for (std::size_t i = 0; i < *got; ++i) {
            seqmq::received r;
            if (i == 0) {
                r = *first;
            } else {
                auto next = single.receive(std::span(one).first(left), which, flags);
                BOOST_TEST_REQUIRE(next.has_value(),
                                   what << ", message " << i << ": " << why(next));
                r = *next;
            }
            const auto& m = out[i];
            BOOST_TEST_REQUIRE(m.type == r.type, what << ", message " << i);
            BOOST_TEST(m.untruncated_size == r.untruncated_size, what);
            BOOST_TEST(m.sender_pid == ::getpid());
            BOOST_TEST(text(m.data) == text(std::span(one).first(r.size)), what);
            BOOST_TEST((m.data.data() == buffer.data() + at), what << ": payloads back to back");
            at += m.data.size();
            left -= m.data.size();
        }
        // The batch ended for a reason: full, nothing more selected, or the next does not fit.
        if (*got < most) {
            auto next = single.peek(which);
            BOOST_TEST((!next || next->data.size() > left),
                       what << ": stopped after " << *got << " with room for the next");
        }
    }
    // The run covered what it claims to.
    BOOST_TEST(multi > 100);
    BOOST_TEST(e2big > 0);
    BOOST_TEST(empty > 0);
    auto a = batched.peek_all(), b = single.peek_all();
    BOOST_TEST_REQUIRE(a->size() == b->size());
    for (std::size_t i = 0; i < a->size(); ++i)
        BOOST_TEST(text((*a)[i].data) == text((*b)[i].data));
}

BOOST_AUTO_TEST_CASE(receive_many_limits) {
    daemon_process d;
    auto q = open_queue(d, "limits", 1 << 20);
    std::vector<std::byte> buffer(1 << 20);
    std::vector<incoming_message> out(64);

    BOOST_TEST((q.receive_many(buffer, {}, {}, receive_flags::nowait).error() ==
                std::errc::invalid_argument));
    BOOST_TEST(
        (q.receive_many(buffer, out, {}, receive_flags::nowait).error() == std::errc::no_message));

    // The first message too long for the buffer: E2BIG, and it stays; noerror truncates it.
    send_ok(q, 1, "0123456789");
    send_ok(q, 1, "next");
    auto small = std::span(buffer).first(4);
    BOOST_TEST((q.receive_many(small, out, {}, receive_flags::nowait).error() ==
                std::errc::argument_list_too_long));
    BOOST_TEST(q.stat()->count == 2u);
    auto cut = q.receive_many(small, out, {}, receive_flags::nowait | receive_flags::noerror);
    BOOST_TEST_REQUIRE(cut.has_value(), why(cut));
    BOOST_TEST(*cut == 1u); // "next" does not fit the room left (none)
    BOOST_TEST(text(out[0].data) == "0123");
    BOOST_TEST(out[0].untruncated_size == 10u);
    BOOST_TEST(out[0].truncated());

    // A message that does not fit what is left ends the batch, and is next in line.
    send_ok(q, 2, std::string(30, 'b'));
    send_ok(q, 3, "after");
    auto part = q.receive_many(std::span(buffer).first(20), out, {}, receive_flags::nowait);
    BOOST_TEST_REQUIRE(part.has_value(), why(part));
    BOOST_TEST(*part == 1u);
    BOOST_TEST(text(out[0].data) == "next");
    auto rest = q.receive_many(buffer, out, {}, receive_flags::nowait);
    BOOST_TEST_REQUIRE(rest.has_value(), why(rest));
    BOOST_TEST(*rest == 2u);
    BOOST_TEST(out[0].type == 2);
    BOOST_TEST(out[0].data.size() == 30u);
    BOOST_TEST(text(out[1].data) == "after");

    // At most out.size() messages, and a reply stays within one record of about 60 KB.
    for (int i = 0; i < 20; ++i)
        send_ok(q, 1, payload_of(i, 1, 8000));
    auto two = q.receive_many(buffer, std::span(out).first(2), {}, receive_flags::nowait);
    BOOST_TEST_REQUIRE(two.has_value(), why(two));
    BOOST_TEST(*two == 2u);
    int next = 2;
    while (next < 20) {
        auto n = q.receive_many(buffer, out, {}, receive_flags::nowait);
        BOOST_TEST_REQUIRE(n.has_value(), why(n));
        BOOST_TEST(*n <= 7u); // 7 entries of 8028 bytes fill 60000; an 8th would not fit
        for (std::size_t i = 0; i < *n; ++i, ++next)
            BOOST_TEST(text(out[i].data) == payload_of(next, 1, 8000));
    }
    BOOST_TEST(next == 20);
    BOOST_TEST(q.stat()->count == 0u);
    BOOST_TEST(q.stat()->last_receive_pid == ::getpid());
}

BOOST_AUTO_TEST_CASE(waiting_receive_many_is_handed_a_send_and_can_time_out) {
    daemon_process d;
    auto q = open_queue(d, "waits");
    line_pipe got;
    child waiter([&] {
        auto r = queue::open("waits", open_flags::none, 0600, d.options());
        if (!r)
            return 2;
        std::vector<std::byte> buffer(4096);
        std::vector<incoming_message> out(16);
        auto n = r->receive_many(buffer, out, selector::of_type(5), receive_flags::none, 20s);
        if (!n)
            return 3;
        std::string line = std::to_string(*n);
        for (std::size_t i = 0; i < *n; ++i)
            line += " " + text(out[i].data);
        got.write_line(line);
        return 0;
    });
    BOOST_TEST_REQUIRE(eventually([&] { return waiting_receivers(q) == 1u; }));
    send_ok(q, 4, "not for it");
    const std::vector<std::string> texts{"five-a", "five-b", "five-c"};
    std::vector<outgoing_message> many;
    for (const auto& t : texts)
        many.push_back({5, bytes(t)});
    auto sent = q.send_many(many);
    BOOST_TEST_REQUIRE(sent.has_value(), why(sent));
    BOOST_TEST(*sent == 3u);
    BOOST_TEST(waiter.wait() == 0);
    // The waiting receiver is handed the first message that arrives, as msgrcv would be.
    BOOST_TEST(got.read_line() == "1 five-a");
    BOOST_TEST(q.stat()->count == 3u);

    std::vector<std::byte> buffer(4096);
    std::vector<incoming_message> out(16);
    auto late = q.receive_many(buffer, out, selector::of_type(9), receive_flags::none, 50ms);
    BOOST_TEST((late.error() == std::errc::timed_out));
    BOOST_TEST(waiting_receivers(q) == 0u);
    auto n = q.receive_many(buffer, out, selector::except_type(4), receive_flags::none, 5s);
    BOOST_TEST_REQUIRE(n.has_value(), why(n));
    BOOST_TEST(*n == 2u);
    BOOST_TEST(text(out[1].data) == "five-c");

    child removed([&] {
        auto r = queue::open("waits", open_flags::none, 0600, d.options());
        std::vector<std::byte> b(64);
        std::vector<incoming_message> o(4);
        auto m = r->receive_many(b, o, selector::of_type(42), receive_flags::none, 20s);
        return (!m && m.error() == std::errc::identifier_removed) ? 0 : 1;
    });
    BOOST_TEST_REQUIRE(eventually([&] { return waiting_receivers(q) == 1u; }));
    BOOST_TEST(q.remove().has_value());
    BOOST_TEST(removed.wait() == 0);
}

BOOST_AUTO_TEST_CASE(send_many_keeps_order_boundaries_and_types) {
    daemon_process d;
    auto q = open_queue(d, "many", 1 << 20);
    constexpr int total = 3000;
    std::vector<std::string> texts;
    std::vector<outgoing_message> many;
    for (int i = 0; i < total; ++i)
        texts.push_back(payload_of(i, 1 + i % 5, std::size_t(i % 300)));
    for (int i = 0; i < total; ++i)
        many.push_back({1 + i % 5, bytes(texts[std::size_t(i)])});
    {
        auto s = queue::open("many", open_flags::none, 0600, d.options());
        BOOST_TEST_REQUIRE(s.has_value(), why(s));
        // Mixed with single sends: one stream, one order.
        BOOST_TEST_REQUIRE(s->send(9, bytes("before")).has_value());
        auto n = s->send_many(many);
        BOOST_TEST_REQUIRE(n.has_value(), why(n));
        BOOST_TEST(*n == std::size_t(total));
        BOOST_TEST_REQUIRE(s->send(9, bytes("after")).has_value());
        BOOST_TEST_REQUIRE(s->flush().has_value());
    }
    BOOST_TEST(q.stat()->count == std::size_t(total + 2));
    auto first = q.receive({}, receive_flags::nowait);
    BOOST_TEST(text(first->data) == "before");
    for (int i = 0; i < total; ++i) {
        auto m = q.receive({}, receive_flags::nowait);
        BOOST_TEST_REQUIRE(m.has_value(), why(m));
        BOOST_TEST_REQUIRE(m->type == 1 + i % 5);
        BOOST_TEST_REQUIRE(text(m->data) == texts[std::size_t(i)]);
    }
    BOOST_TEST(text(q.receive({}, receive_flags::nowait)->data) == "after");

    // Every message is checked before any goes.
    std::string huge(8193, 'x');
    std::vector<outgoing_message> bad_type{{1, bytes("a")}, {0, bytes("b")}};
    std::vector<outgoing_message> too_long{{1, bytes("a")}, {1, bytes(huge)}};
    BOOST_TEST((q.send_many(bad_type).error() == std::errc::invalid_argument));
    BOOST_TEST((q.send_many(too_long).error() == std::errc::message_size));
    BOOST_TEST(q.stat()->count == 0u);
    BOOST_TEST(q.send_many({}).value() == 0u);
}

BOOST_AUTO_TEST_CASE(send_many_nowait_stops_at_a_full_queue) {
    daemon_process d;
    auto q = open_queue(d, "full", 1000);
    const std::string hundred(100, 'h');
    std::vector<outgoing_message> many(20, outgoing_message{1, bytes(hundred)});
    auto s = queue::open("full", open_flags::none, 0600, d.options());
    auto n = s->send_many(many, send_flags::nowait);
    BOOST_TEST_REQUIRE(n.has_value(), why(n));
    BOOST_TEST(*n == 10u); // msg_qbytes 1000 holds ten
    BOOST_TEST((s->send_many(many, send_flags::nowait).error() ==
                std::errc::resource_unavailable_try_again));
    BOOST_TEST(q.stat()->count == 10u);
}

BOOST_AUTO_TEST_CASE(batches_both_ways_through_a_small_queue_lose_nothing) {
    daemon_process d;
    // 4 KB of queue for 400 KB of messages: the sender runs out of credit and blocks over and
    // over; nothing is lost, duplicated or reordered.
    { auto q = open_queue(d, "small", 4096); }
    constexpr int total = 4000;
    child producer([&] {
        auto s = queue::open("small", open_flags::none, 0600, d.options());
        if (!s)
            return 2;
        std::vector<std::string> texts;
        for (int i = 0; i < total; ++i)
            texts.push_back(payload_of(i, 1 + i % 3, std::size_t(i % 200)));
        for (int i = 0; i < total;) {
            std::vector<outgoing_message> chunk;
            for (int k = 0; k < 37 && i + k < total; ++k)
                chunk.push_back({1 + (i + k) % 3, bytes(texts[std::size_t(i + k)])});
            auto n = s->send_many(chunk, send_flags::none, 20s);
            if (!n || *n == 0)
                return 3;
            i += int(*n);
        }
        return 0;
    });
    auto r = queue::open("small", open_flags::none, 0600, d.options());
    std::vector<std::byte> buffer(3000);
    std::vector<incoming_message> out(25);
    int next = 0;
    while (next < total) {
        auto n = r->receive_many(buffer, out, {}, receive_flags::none, 20s);
        BOOST_TEST_REQUIRE(n.has_value(), "after " << next << ": " << why(n));
        for (std::size_t i = 0; i < *n; ++i, ++next) {
            BOOST_TEST_REQUIRE(out[i].type == 1 + next % 3);
            BOOST_TEST_REQUIRE(text(out[i].data) ==
                               payload_of(next, 1 + next % 3, std::size_t(next % 200)));
        }
    }
    BOOST_TEST(producer.wait() == 0);
    BOOST_TEST(r->stat()->count == 0u);
}

BOOST_AUTO_TEST_CASE(send_many_without_credit_queues_what_fits_and_waits_for_the_rest) {
    // No credit at all: every send_many goes as requests of many messages each.
    daemon_process d({"--credit-window", "0"});
    auto q = open_queue(d, "requests", 1000);
    std::vector<std::string> texts;
    for (int i = 0; i < 30; ++i)
        texts.push_back(payload_of(i, 1, 100));
    std::vector<outgoing_message> many;
    for (const auto& t : texts)
        many.push_back({1, bytes(t)});
    auto s = queue::open("requests", open_flags::none, 0600, d.options());

    // Ten fit msg_qbytes 1000; the eleventh waits for room until the timeout: ten were sent.
    auto first = s->send_many(many, send_flags::none, 100ms);
    BOOST_TEST_REQUIRE(first.has_value(), why(first));
    BOOST_TEST(*first == 10u);
    BOOST_TEST(q.stat()->waiting_senders == 0u); // the timed-out wait was cancelled
    auto none = s->send_many(std::span(many).subspan(10), send_flags::none, 50ms);
    BOOST_TEST((none.error() == std::errc::timed_out));

    // A waiting send_many goes on as room appears, and keeps the order.
    child consumer([&] {
        auto r = queue::open("requests", open_flags::none, 0600, d.options());
        std::this_thread::sleep_for(100ms);
        for (int i = 0; i < 30; ++i) {
            auto m = r->receive({}, receive_flags::none, 10s);
            if (!m || text(m->data) != payload_of(i, 1, 100))
                return 10 + i;
        }
        return 0;
    });
    std::size_t sent = 10;
    while (sent < many.size()) {
        auto n = s->send_many(std::span(many).subspan(sent), send_flags::none, 10s);
        BOOST_TEST_REQUIRE(n.has_value(), "after " << sent << ": " << why(n));
        sent += *n;
    }
    BOOST_TEST(consumer.wait() == 0);

    // A send_many waiting for room gets EIDRM when the queue goes.
    for (int i = 0; i < 10; ++i)
        send_ok(q, 1, std::string(100, 'f'));
    child blocked([&] {
        auto b = queue::open("requests", open_flags::none, 0600, d.options());
        auto n = b->send_many(many, send_flags::none, 20s);
        return (!n && n.error() == std::errc::identifier_removed) ? 0 : 1;
    });
    BOOST_TEST_REQUIRE(eventually([&] { return q.stat()->waiting_senders == 1u; }));
    BOOST_TEST(q.remove().has_value());
    BOOST_TEST(blocked.wait() == 0);
}
