#define BOOST_TEST_MODULE seqmqd queues
#include "daemon_fixture.hpp"

#include <algorithm>
#include <map>
#include <set>

using namespace daemon_test;
using seqmq::open_flags;
using seqmq::queue;
using seqmq::receive_flags;
using seqmq::selector;
using seqmq::send_flags;

namespace {

std::string take(queue& q, selector w = {}) {
    auto r = q.receive(w, receive_flags::nowait);
    if (!r)
        return "error: " + r.error().message();
    return std::to_string(r->type) + ":" + text(r->data);
}

seqmq::queue_settings capacity_of(std::size_t n) {
    seqmq::queue_settings s;
    s.capacity = n;
    return s;
}

std::size_t waiting_senders(queue& q) {
    auto s = q.stat();
    return s ? s->waiting_senders : 0;
}

} // namespace

BOOST_AUTO_TEST_CASE(open_follows_msgget) {
    daemon_process d;
    auto o = d.options();
    auto missing = queue::open("nope", open_flags::none, 0600, o);
    BOOST_TEST((missing.error() == std::errc::no_such_file_or_directory));
    auto made = queue::open("q", open_flags::create | open_flags::exclusive, 0640, o);
    BOOST_TEST_REQUIRE(made.has_value(), why(made));
    auto again = queue::open("q", open_flags::create | open_flags::exclusive, 0640, o);
    BOOST_TEST((again.error() == std::errc::file_exists));
    auto existing = queue::open("q", open_flags::create, 0600, o);
    BOOST_TEST_REQUIRE(existing.has_value(), why(existing));
    BOOST_TEST(existing->stat()->id == made->stat()->id);
    BOOST_TEST(existing->stat()->mode == 0640u);

    auto priv = queue::create_private(0600, o);
    BOOST_TEST_REQUIRE(priv.has_value(), why(priv));
    auto ps = priv->stat();
    BOOST_TEST(ps->name.empty());
    auto by_id = queue::open("#" + std::to_string(ps->id), open_flags::none, 0600, o);
    BOOST_TEST_REQUIRE(by_id.has_value(), why(by_id));
    send_ok(*priv, 4, "private");
    BOOST_TEST(take(*by_id) == "4:private");

    BOOST_TEST(
        (queue::open("", open_flags::create, 0600, o).error() == std::errc::invalid_argument));
    BOOST_TEST((queue::open(std::string(256, 'x'), open_flags::create, 0600, o).error() ==
                std::errc::invalid_argument));

    auto all = queue::list_queues(o);
    BOOST_TEST_REQUIRE(all.has_value(), why(all));
    BOOST_TEST(all->size() == 2u);
}

// Ids as a fresh IPC namespace has them (0, 1, ...); info() tells the highest index, and
// stat_index() finds a queue by it without opening it.
BOOST_AUTO_TEST_CASE(ids_highest_index_and_stat_by_index) {
    daemon_process d;
    auto o = d.options();
    auto none = queue::info(o);
    BOOST_TEST_REQUIRE(none.has_value(), why(none));
    BOOST_TEST(!none->highest_index.has_value());
    BOOST_TEST(none->default_capacity == 16384u);
    auto a = queue::open("a", open_flags::create, 0600, o);
    auto b = queue::create_private(0600, o);
    BOOST_TEST_REQUIRE((a && b));
    BOOST_TEST(a->stat()->id == 0u);
    BOOST_TEST(b->stat()->id == 1u);
    BOOST_TEST(*queue::info(o)->highest_index == 1u);
    auto s = queue::stat_index(0, seqmq::stat_check::read_permission, o);
    BOOST_TEST_REQUIRE(s.has_value(), why(s));
    BOOST_TEST(s->name == "a");
    BOOST_TEST(
        (queue::stat_index(2, seqmq::stat_check::none, o).error() == std::errc::invalid_argument));
    BOOST_TEST_REQUIRE(b->remove().has_value());
    BOOST_TEST(*queue::info(o)->highest_index == 0u);
    BOOST_TEST(queue::stat_index(0, seqmq::stat_check::none, o)->id == 0u);
    auto c = queue::create_private(0600, o);
    BOOST_TEST_REQUIRE(c.has_value());
    BOOST_TEST(c->stat()->id == 2u); // not 1: a removed id is not given again at once
}

BOOST_AUTO_TEST_CASE(no_daemon_is_a_clear_error) {
    seqmq::queue_options o;
    o.daemon = *seqmq::address::parse("unix:/tmp/seqmq-no-such-daemon/seqmqd.sock");
    auto q = queue::open("x", open_flags::create, 0600, o);
    BOOST_TEST((q.error() == std::errc::no_such_file_or_directory));
}

BOOST_AUTO_TEST_CASE(selectors_peek_list_stat) {
    daemon_process d;
    auto q = open_queue(d, "sel");
    for (auto [t, p] : std::initializer_list<std::pair<long, const char*>>{
             {3, "three"}, {1, "one-a"}, {2, "two"}, {1, "one-b"}, {5, "five"}})
        send_ok(q, t, p);

    auto listed = q.list();
    BOOST_TEST_REQUIRE(listed.has_value(), why(listed));
    BOOST_TEST_REQUIRE(listed->size() == 5u);
    BOOST_TEST((*listed)[0].type == 3);
    BOOST_TEST((*listed)[0].size == 5u);
    BOOST_TEST((*listed)[4].type == 5);
    auto copies = q.peek_all();
    BOOST_TEST_REQUIRE(copies.has_value());
    BOOST_TEST(text((*copies)[1].data) == "one-a");
    auto peeked = q.peek(selector::of_type(2));
    BOOST_TEST_REQUIRE(peeked.has_value());
    BOOST_TEST(text(peeked->data) == "two");
    BOOST_TEST(text(q.peek_at(4)->data) == "five");
    BOOST_TEST((q.peek_at(5).error() == std::errc::no_message));
    auto st = q.stat();
    BOOST_TEST(st->count == 5u);
    BOOST_TEST(st->bytes == 22u);
    BOOST_TEST(st->last_send_pid == ::getpid());

    BOOST_TEST(take(q, selector::of_type(1)) == "1:one-a");
    BOOST_TEST(take(q, selector::except_type(3)) == "2:two");
    BOOST_TEST(take(q, selector::lowest_up_to(5)) == "1:one-b");
    BOOST_TEST(take(q, selector::any()) == "3:three");
    BOOST_TEST(
        (q.receive(selector::of_type(4), receive_flags::nowait).error() == std::errc::no_message));
    BOOST_TEST(take(q) == "5:five");
    BOOST_TEST(q.stat()->last_receive_pid == ::getpid());

    // E2BIG leaves the message; noerror truncates and takes it.
    send_ok(q, 9, "0123456789");
    std::array<std::byte, 4> small;
    auto big = q.receive(small, {}, receive_flags::nowait);
    BOOST_TEST((!big && big.error() == std::errc::argument_list_too_long), why(big));
    auto cut = q.receive(small, {}, receive_flags::nowait | receive_flags::noerror);
    BOOST_TEST_REQUIRE(cut.has_value(), why(cut));
    BOOST_TEST(cut->size == 4u);
    BOOST_TEST(cut->untruncated_size == 10u);
    BOOST_TEST(q.stat()->count == 0u);

    BOOST_TEST((q.send(0, bytes("x")).error() == std::errc::invalid_argument));
    std::string huge(8193, 'x');
    BOOST_TEST((q.send(1, bytes(huge)).error() == std::errc::message_size));
}

BOOST_AUTO_TEST_CASE(receive_times_out_and_stays_usable) {
    daemon_process d;
    auto q = open_queue(d, "timeout");
    auto r = q.receive({}, receive_flags::none, 50ms);
    BOOST_TEST((r.error() == std::errc::timed_out));
    BOOST_TEST(waiting_receivers(q) == 0u);
    send_ok(q, 1, "after");
    BOOST_TEST(take(q) == "1:after");
}

BOOST_AUTO_TEST_CASE(many_producers_and_consumers_exactly_once) {
    daemon_process d;
    constexpr int producers = 4, consumers = 4, per_producer = 2500;
    { auto q = open_queue(d, "mpmc", 65536); }
    // Each consumer writes what it got to its own file (a pipe could fill and stall it).
    auto file_of = [&](int c) { return d.dir() + "/consumer-" + std::to_string(c); };
    std::vector<child> kids;
    for (int c = 0; c < consumers; ++c)
        kids.emplace_back([&, c] {
            auto q = queue::open("mpmc", open_flags::none, 0600, d.options());
            if (!q)
                return 2;
            std::string lines;
            for (;;) {
                auto m = q->receive({}, receive_flags::none, 20s);
                if (!m)
                    return 3;
                if (m->type == 2)
                    break;
                lines += text(m->data) + "\n";
            }
            FILE* f = std::fopen(file_of(c).c_str(), "w");
            std::fwrite(lines.data(), 1, lines.size(), f);
            std::fclose(f);
            return 0;
        });
    std::vector<child> senders;
    for (int p = 0; p < producers; ++p)
        senders.emplace_back([&, p] {
            auto q = queue::open("mpmc", open_flags::none, 0600, d.options());
            if (!q)
                return 2;
            for (int i = 0; i < per_producer; ++i) {
                std::string m = std::to_string(p) + ":" + std::to_string(i) +
                                std::string(std::size_t(i % 200), '.');
                if (!q->send(1, bytes(m)))
                    return 3;
            }
            return 0; // the handle's destructor flushes
        });
    for (auto& s : senders)
        BOOST_TEST(s.wait() == 0);
    auto q = open_queue(d, "mpmc");
    for (int c = 0; c < consumers; ++c)
        send_ok(q, 2, "stop");
    for (auto& k : kids)
        BOOST_TEST(k.wait() == 0);
    std::map<int, std::set<int>> seen;
    std::size_t total = 0;
    for (int c = 0; c < consumers; ++c) {
        FILE* f = std::fopen(file_of(c).c_str(), "r");
        BOOST_TEST_REQUIRE(f != nullptr);
        int p = -1, i = -1;
        char rest[512];
        while (std::fscanf(f, "%d:%d%511[^\n]\n", &p, &i, rest) >= 2) {
            BOOST_TEST(seen[p].insert(i).second, "message " << p << ":" << i << " twice");
            ++total;
        }
        std::fclose(f);
    }
    BOOST_TEST(total == std::size_t(producers * per_producer));
    for (int p = 0; p < producers; ++p)
        BOOST_TEST(seen[p].size() == std::size_t(per_producer));
    BOOST_TEST(q.stat()->count == 0u);
}

BOOST_AUTO_TEST_CASE(per_producer_order_is_kept) {
    daemon_process d;
    auto q = open_queue(d, "order", 1 << 20);
    {
        auto s = queue::open("order", open_flags::none, 0600, d.options());
        for (int i = 0; i < 5000; ++i)
            BOOST_TEST_REQUIRE(s->send(1, bytes(std::to_string(i))).has_value());
    }
    for (int i = 0; i < 5000; ++i)
        BOOST_TEST_REQUIRE(take(q) == "1:" + std::to_string(i));
}

BOOST_AUTO_TEST_CASE(parked_receivers_are_served_in_order) {
    daemon_process d;
    auto q = open_queue(d, "parked");
    line_pipe got;
    std::vector<child> kids;
    for (int k = 0; k < 3; ++k) {
        kids.emplace_back([&, k] {
            auto r = queue::open("parked", open_flags::none, 0600, d.options());
            if (!r)
                return 2;
            auto m = r->receive({}, receive_flags::none, 20s);
            if (!m)
                return 3;
            got.write_line(std::to_string(k) + "=" + text(m->data));
            return 0;
        });
        // Each waits before the next starts: their order of waiting is 0, 1, 2.
        BOOST_TEST_REQUIRE(eventually([&] { return waiting_receivers(q) == std::size_t(k + 1); }));
    }
    send_ok(q, 1, "first");
    send_ok(q, 1, "second");
    send_ok(q, 1, "third");
    for (auto& k : kids)
        BOOST_TEST(k.wait() == 0);
    got.close_write();
    auto lines = got.read_lines();
    std::sort(lines.begin(), lines.end());
    BOOST_TEST(lines == (std::vector<std::string>{"0=first", "1=second", "2=third"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(selective_receive_across_clients) {
    daemon_process d;
    auto q = open_queue(d, "selective");
    line_pipe got;
    auto waiter = [&](std::string name, selector which) {
        return child([&, name, which] {
            auto r = queue::open("selective", open_flags::none, 0600, d.options());
            if (!r)
                return 2;
            auto m = r->receive(which, receive_flags::none, 20s);
            if (!m)
                return 3;
            got.write_line(name + "=" + std::to_string(m->type) + ":" + text(m->data));
            return 0;
        });
    };
    auto five = waiter("five", selector::of_type(5));
    BOOST_TEST_REQUIRE(eventually([&] { return waiting_receivers(q) == 1u; }));
    auto not5 = waiter("not5", selector::except_type(5));
    BOOST_TEST_REQUIRE(eventually([&] { return waiting_receivers(q) == 2u; }));
    auto low = waiter("low", selector::lowest_up_to(2));
    BOOST_TEST_REQUIRE(eventually([&] { return waiting_receivers(q) == 3u; }));

    send_ok(q, 7, "seven"); // not5 takes it: five and low do not want it
    send_ok(q, 5, "five");  // five
    send_ok(q, 9, "nine");  // nobody waits for it any more: queued
    send_ok(q, 2, "two");   // low
    for (child* k : {&five, &not5, &low})
        BOOST_TEST(k->wait() == 0);
    got.close_write();
    auto lines = got.read_lines();
    std::sort(lines.begin(), lines.end());
    BOOST_TEST(lines == (std::vector<std::string>{"five=5:five", "low=2:two", "not5=7:seven"}),
               boost::test_tools::per_element());
    BOOST_TEST(take(q) == "9:nine");
}

BOOST_AUTO_TEST_CASE(too_small_buffer_of_a_parked_receiver_gets_e2big) {
    daemon_process d;
    auto q = open_queue(d, "e2big");
    child small([&] {
        auto r = queue::open("e2big", open_flags::none, 0600, d.options());
        std::array<std::byte, 3> buf;
        auto m = r->receive(buf, {}, receive_flags::none, 20s);
        return (!m && m.error() == std::errc::argument_list_too_long) ? 0 : 1;
    });
    BOOST_TEST_REQUIRE(eventually([&] { return waiting_receivers(q) == 1u; }));
    send_ok(q, 1, "too long");
    BOOST_TEST(small.wait() == 0);
    BOOST_TEST(take(q) == "1:too long");
}

BOOST_AUTO_TEST_CASE(exact_capacity_eagain_and_blocking) {
    daemon_process d;
    auto q = open_queue(d, "cap", 1000);
    const std::string hundred(100, 'x');
    for (int i = 0; i < 10; ++i)
        BOOST_TEST_REQUIRE(q.send(1, bytes(hundred), send_flags::nowait).has_value(), "send " << i);
    auto full = q.send(1, bytes(hundred), send_flags::nowait);
    BOOST_TEST((full.error() == std::errc::resource_unavailable_try_again));
    auto st = q.stat();
    BOOST_TEST(st->count == 10u);
    BOOST_TEST(st->bytes == 1000u);
    BOOST_TEST(st->capacity == 1000u);
    // An empty message still fits in bytes, but not in count once count reaches msg_qbytes:
    // here bytes decide.
    BOOST_TEST((q.send(1, bytes(""), send_flags::nowait).has_value()));
    BOOST_TEST(take(q).starts_with("1:x"));

    auto other = queue::open("cap", open_flags::none, 0600, d.options());
    BOOST_TEST_REQUIRE(other.has_value());
    BOOST_TEST((other->send(1, bytes(std::string(101, 'y')), send_flags::nowait).error() ==
                std::errc::resource_unavailable_try_again));
    BOOST_TEST(other->send(1, bytes(hundred), send_flags::nowait).has_value());
    auto timed = q.send(1, bytes("z"), send_flags::none, 30ms);
    BOOST_TEST((timed.error() == std::errc::timed_out));
    BOOST_TEST(waiting_senders(q) == 0u);

    child blocked([&] {
        auto s = queue::open("cap", open_flags::none, 0600, d.options());
        auto r = s->send(2, bytes("waited"), send_flags::none, 20s);
        return r ? 0 : 1;
    });
    BOOST_TEST_REQUIRE(eventually([&] { return waiting_senders(q) == 1u; }));
    BOOST_TEST(q.stat()->count == 11u);
    BOOST_TEST(take(q).starts_with("1:"));
    BOOST_TEST(blocked.wait() == 0);
    st = q.stat();
    BOOST_TEST(st->count == 11u);
    BOOST_TEST(st->bytes == 1000u - 100u + 6u);
    // Raising msg_qbytes lets more in.
    BOOST_TEST(q.set(capacity_of(2000)).has_value());
    BOOST_TEST(q.send(1, bytes(hundred), send_flags::nowait).has_value());
}

BOOST_AUTO_TEST_CASE(count_limit_is_msg_qbytes_too) {
    daemon_process d;
    auto q = open_queue(d, "count", 5);
    for (int i = 0; i < 5; ++i)
        BOOST_TEST_REQUIRE(q.send(1, bytes(""), send_flags::nowait).has_value());
    BOOST_TEST((q.send(1, bytes(""), send_flags::nowait).error() ==
                std::errc::resource_unavailable_try_again));
}

BOOST_AUTO_TEST_CASE(remove_wakes_receivers_and_senders_with_eidrm) {
    daemon_process d;
    auto q = open_queue(d, "rm", 100);
    BOOST_TEST_REQUIRE(q.send(1, bytes(std::string(100, 'f'))).has_value());
    child receiver([&] {
        auto r = queue::open("rm", open_flags::none, 0600, d.options());
        auto m = r->receive(selector::of_type(42), receive_flags::none, 20s);
        return (!m && m.error() == std::errc::identifier_removed) ? 0 : 1;
    });
    child sender([&] {
        auto s = queue::open("rm", open_flags::none, 0600, d.options());
        auto r = s->send(1, bytes("no room"), send_flags::none, 20s);
        return (!r && r.error() == std::errc::identifier_removed) ? 0 : 1;
    });
    BOOST_TEST_REQUIRE(eventually([&] {
        auto s = q.stat();
        return s && s->waiting_receivers == 1 && s->waiting_senders == 1;
    }));
    BOOST_TEST(q.remove().has_value());
    BOOST_TEST(receiver.wait() == 0);
    BOOST_TEST(sender.wait() == 0);
    BOOST_TEST((q.stat().error() == std::errc::identifier_removed));
    BOOST_TEST((queue::open("rm", open_flags::none, 0600, d.options()).error() ==
                std::errc::no_such_file_or_directory));
}

BOOST_AUTO_TEST_CASE(killed_clients_leave_the_queue_consistent) {
    daemon_process d;
    auto q = open_queue(d, "kill", 1000);
    // A receiver killed while parked is forgotten: the next message is not handed to it.
    child parked([&] {
        auto r = queue::open("kill", open_flags::none, 0600, d.options());
        (void)r->receive({}, receive_flags::none, 60s);
        return 0;
    });
    BOOST_TEST_REQUIRE(eventually([&] { return waiting_receivers(q) == 1u; }));
    parked.kill();
    BOOST_TEST(parked.wait() == -1);
    BOOST_TEST_REQUIRE(eventually([&] { return waiting_receivers(q) == 0u; }));
    send_ok(q, 1, "kept");
    BOOST_TEST(q.stat()->count == 1u);

    // A sender killed while blocked on a full queue: its message never enters.
    BOOST_TEST_REQUIRE(q.send(1, bytes(std::string(996, 'f'))).has_value());
    child blocked([&] {
        auto s = queue::open("kill", open_flags::none, 0600, d.options());
        (void)s->send(3, bytes("never"), send_flags::none, 60s);
        return 0;
    });
    BOOST_TEST_REQUIRE(eventually([&] { return waiting_senders(q) == 1u; }));
    blocked.kill();
    BOOST_TEST(blocked.wait() == -1);
    BOOST_TEST_REQUIRE(eventually([&] { return waiting_senders(q) == 0u; }));
    BOOST_TEST(take(q) == "1:kept");
    BOOST_TEST(take(q).starts_with("1:fff"));
    BOOST_TEST((q.receive({}, receive_flags::nowait).error() == std::errc::no_message));

    // A sender killed mid-stream: every message it got out arrives whole, in order; nothing
    // else.
    BOOST_TEST(q.set(capacity_of(1 << 20)).has_value());
    line_pipe progress;
    child streamer([&] {
        auto s = queue::open("kill", open_flags::none, 0600, d.options());
        for (int i = 0;; ++i) {
            if (!s->send(1, bytes("m" + std::to_string(i) + std::string(50, '.'))))
                return 1;
            if (i == 200)
                progress.write_line("200");
        }
    });
    BOOST_TEST(progress.read_line() == "200");
    streamer.kill();
    BOOST_TEST(streamer.wait() == -1);
    auto all = q.peek_all();
    BOOST_TEST_REQUIRE(all.has_value());
    BOOST_TEST(all->size() >= 200u);
    for (std::size_t i = 0; i < all->size(); ++i)
        BOOST_TEST_REQUIRE(text((*all)[i].data) == "m" + std::to_string(i) + std::string(50, '.'));
    auto st = q.stat();
    BOOST_TEST(st->count == all->size());
    BOOST_TEST(d.alive());
}

BOOST_AUTO_TEST_CASE(info_reports_totals) {
    daemon_process d;
    auto q = open_queue(d, "info");
    send_ok(q, 1, "abc");
    auto i = queue::info(d.options());
    BOOST_TEST_REQUIRE(i.has_value(), why(i));
    BOOST_TEST(i->queues == 1u);
    BOOST_TEST(i->messages == 1u);
    BOOST_TEST(i->bytes == 3u);
    BOOST_TEST(i->max_message_size == 8192u);
}
