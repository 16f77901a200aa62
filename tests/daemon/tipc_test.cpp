// seqmqd listening on TIPC as well as AF_UNIX: one queue, reached over both. Runs where the
// kernel has TIPC (inside the guest on hosts without it: label tipc).
#define BOOST_TEST_MODULE seqmqd over TIPC
#include <boost/test/unit_test.hpp>

#include "daemon_fixture.hpp"
#include "tipc_support.hpp"

#include <seqmq/queue.hpp>

using namespace std::chrono_literals;
using namespace daemon_test;

namespace {

using seqmq::test::require_tipc;
BOOST_TEST_GLOBAL_FIXTURE(require_tipc);

std::string tipc_service() {
    return "tipc:" + std::to_string(0x48000000u + ::getpid()) + ":1";
}

seqmq::queue_options over(const std::string& where) {
    seqmq::queue_options o;
    o.daemon = *seqmq::address::parse(where);
    o.wait_for_daemon = 5s;
    return o;
}

std::string text(const std::vector<std::byte>& b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

} // namespace

BOOST_AUTO_TEST_CASE(one_queue_over_unix_and_tipc) {
    const std::string service = tipc_service();
    daemon_process d({"--listen", service});

    // Created over AF_UNIX (root: credentials), readable and writable by "other".
    auto local = seqmq::queue::open("songs", seqmq::open_flags::create, 0666, d.options());
    BOOST_TEST_REQUIRE(local.has_value());
    auto remote = seqmq::queue::open("songs", seqmq::open_flags::none, 0666, over(service));
    BOOST_TEST_REQUIRE(remote.has_value(), (remote ? "" : remote.error().message()));

    BOOST_TEST(remote->send(2, bytes("over tipc")).has_value());
    BOOST_TEST(local->send(1, bytes("over unix")).has_value());
    BOOST_TEST(remote->flush().has_value());

    auto listed = remote->list();
    BOOST_TEST_REQUIRE(listed.has_value());
    BOOST_TEST_REQUIRE(listed->size() == 2u);
    BOOST_TEST((*listed)[0].type == 2);
    BOOST_TEST((*listed)[0].sender_pid == 0); // TIPC carries no credentials

    auto r = local->receive(seqmq::selector::of_type(2), seqmq::receive_flags::nowait);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(text(r->data) == "over tipc");
    auto r2 = remote->receive(seqmq::selector::any(), seqmq::receive_flags::none, 2s);
    BOOST_TEST_REQUIRE(r2.has_value());
    BOOST_TEST(text(r2->data) == "over unix");
    BOOST_TEST((remote->receive(seqmq::selector::any(), seqmq::receive_flags::nowait).error() ==
                std::errc::no_message));
}

BOOST_AUTO_TEST_CASE(parked_tipc_receiver_is_handed_a_unix_send) {
    const std::string service = tipc_service();
    daemon_process d({"--listen", service});
    auto local = seqmq::queue::open("q", seqmq::open_flags::create, 0666, d.options());
    BOOST_TEST_REQUIRE(local.has_value());
    child waiter([&] {
        auto remote = seqmq::queue::open("q", seqmq::open_flags::none, 0666, over(service));
        if (!remote)
            return 2;
        auto r = remote->receive(seqmq::selector::of_type(7), seqmq::receive_flags::none, 10s);
        return r && text(r->data) == "for the tipc side" ? 0 : 1;
    });
    BOOST_TEST_REQUIRE(
        eventually([&] { return local->stat() && local->stat()->waiting_receivers == 1; }));
    BOOST_TEST(local->send(7, bytes("for the tipc side")).has_value());
    BOOST_TEST(waiter.wait() == 0);
}

BOOST_AUTO_TEST_CASE(tipc_clients_are_other) {
    const std::string service = tipc_service();
    daemon_process d({"--listen", service});
    auto local = seqmq::queue::open("private", seqmq::open_flags::create, 0600, d.options());
    BOOST_TEST_REQUIRE(local.has_value());
    auto remote = seqmq::queue::open("private", seqmq::open_flags::none, 0, over(service));
    BOOST_TEST_REQUIRE(remote.has_value(), (remote ? "" : remote.error().message()));
    BOOST_TEST((remote->send(1, bytes("x")).error() == std::errc::permission_denied));
    BOOST_TEST((remote->remove().error() == std::errc::operation_not_permitted));
}
