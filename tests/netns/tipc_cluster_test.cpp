// A TIPC cluster of three network namespaces, built by this process: n1 is the hub, joined to n2
// and n3 by veth pairs with an Ethernet bearer at each end (TIPC does not forward, so n2 and n3
// have no link to each other). The namespaces are held only by file descriptors of this process:
// whatever way the test ends, they vanish with it. Needs TIPC (natively, or inside the guest of
// netns-scripts/tipc-guest, which tests/run-tipc-test uses) and CAP_SYS_ADMIN; without them the
// executable reports a skip (exit 77) with the reason, never a pass.

#define BOOST_TEST_MODULE TIPC cluster in network namespaces
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include <seqmq/mailbox.hpp>
#include <seqmq/sender.hpp>
#include <seqmq/tipc.hpp>

#include "netns_support.hpp"
#include "transport/transport.hpp"
#include "veth.hpp"

#include <linux/tipc.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace tipc = seqmq::tipc;
using seqmq::address;
using seqmq::mailbox;
using seqmq::receive_flags;
using seqmq::selector;
using seqmq::sender;
using seqmq::test::add_veth;
using seqmq::test::child_in_netns;
using seqmq::test::connect_and_send;
using seqmq::test::eventually;
using seqmq::test::scoped_netns;
using seqmq::test::unique_fd;
BOOST_TEST_DONT_PRINT_LOG_VALUE(std::errc)

namespace {

template <class R>
std::string why(const R& r) {
    return r ? std::string("ok") : r.error().message();
}

std::span<const std::byte> bytes(std::string_view s) {
    return std::as_bytes(std::span(s));
}

std::string text(const std::vector<std::byte>& b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// A service address unique to this process and use.
address service(std::uint32_t instance, seqmq::tipc_scope scope = seqmq::tipc_scope::cluster) {
    return *address::tipc(0x60000000u + std::uint32_t(::getpid() & 0xffffff), instance, scope);
}

// A mailbox at `where`, opened in the namespace `ns` (it stays there).
mailbox open_in(int ns, const address& where) {
    scoped_netns in(ns);
    auto opened = mailbox::open(where);
    BOOST_TEST_REQUIRE(opened.has_value(), why(opened));
    return std::move(*opened);
}

std::size_t links_up() {
    auto links = tipc::list_links();
    if (!links)
        return 0;
    return std::size_t(
        std::ranges::count_if(*links, [](const auto& l) { return !l.broadcast && l.up; }));
}

// The three namespaces, n1 (index 1) the hub. Built once, on first use, by the main thread.
class cluster {
public:
    static constexpr int nodes = 3;

    static cluster& get() {
        static cluster c;
        BOOST_TEST_REQUIRE(c.failed_.empty(), "building the cluster: " << c.failed_);
        return c;
    }

    int ns(int i) const { return ns_[std::size_t(i)].get(); }
    std::uint32_t node_address(int i) const { return address_[std::size_t(i)]; }

    // Expected links of node i that are up now.
    static std::size_t expected_links(int i) { return i == 1 ? nodes - 1 : 1; }

    // Waits until every node has all its links up; the nodes that do not, empty when all do.
    std::string wait_links(std::chrono::milliseconds limit) const {
        std::string missing;
        eventually(
            [&] {
                missing.clear();
                for (int i = 1; i <= nodes; ++i) {
                    scoped_netns in(ns(i));
                    if (links_up() != expected_links(i))
                        missing += " n" + std::to_string(i);
                }
                return missing.empty();
            },
            limit);
        return missing;
    }

private:
    cluster() { failed_ = build(); }

    std::string build() {
        const unique_fd origin = seqmq::test::current_netns();
        if (!origin)
            return std::string("open /proc/self/ns/net: ") + std::strerror(errno);
        for (int i = 1; i <= nodes; ++i) {
            if (auto failed = seqmq::test::enter_new_netns(); !failed.empty())
                return failed;
            ns_[std::size_t(i)] = seqmq::test::current_netns();
        }
        if (::setns(origin.get(), CLONE_NEWNET) != 0)
            return std::string("setns back: ") + std::strerror(errno);

        // In n1 the veth to node j is "to<j>"; in node j the one to n1 is "to1".
        {
            scoped_netns in(ns(1));
            for (int j = 2; j <= nodes; ++j) {
                const std::string name = "to" + std::to_string(j);
                if (auto failed = add_veth(name.c_str(), "to1", ns(j)); !failed.empty())
                    return failed;
                if (auto failed = seqmq::test::bring_up(name.c_str()); !failed.empty())
                    return failed;
            }
        }
        for (int i = 1; i <= nodes; ++i) {
            scoped_netns in(ns(i));
            const std::string id = "n" + std::to_string(i);
            if (auto r = tipc::set_node_identity(id); !r)
                return "n" + std::to_string(i) + ": set identity: " + r.error().message();
            for (int j = 1; j <= nodes; ++j) {
                if (j == i || (i != 1 && j != 1))
                    continue;
                const std::string device = "to" + std::to_string(j);
                if (i != 1)
                    if (auto failed = seqmq::test::bring_up(device.c_str()); !failed.empty())
                        return failed;
                if (auto r = tipc::enable_eth_bearer(device); !r)
                    return id + ": enable bearer eth:" + device + ": " + r.error().message();
            }
        }
        const auto start = std::chrono::steady_clock::now();
        if (auto missing = wait_links(30s); !missing.empty())
            return "TIPC links did not come up within 30 s at" + missing;
        std::cout << "cluster: all links up after "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count()
                  << " ms" << std::endl;
        for (int i = 1; i <= nodes; ++i) {
            scoped_netns in(ns(i));
            if (!eventually([&] { return tipc::get_node_address().value_or(0) != 0; }))
                return "n" + std::to_string(i) + ": no node address within 10 s";
            address_[std::size_t(i)] = tipc::get_node_address().value();
        }
        return {};
    }

    std::array<unique_fd, nodes + 1> ns_;
    std::array<std::uint32_t, nodes + 1> address_{};
    std::string failed_;
};

// Receives in a thread of its own, so that the main thread can connect and send meanwhile (a
// TIPC connection completes only when the mailbox accepts it, which it does while receiving).
class receiver {
public:
    receiver(mailbox& m, std::size_t count, std::chrono::milliseconds limit)
        : thread_([this, &m, count, limit] {
              const auto until = std::chrono::steady_clock::now() + limit;
              while (got_.size() < count) {
                  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      until - std::chrono::steady_clock::now());
                  if (left <= 0ms)
                      return;
                  auto r = m.receive(selector::any(), receive_flags::none, left);
                  if (!r)
                      return;
                  got_.push_back(std::move(*r));
              }
          }) {}

    std::vector<seqmq::message> take() {
        thread_.join();
        return std::move(got_);
    }

    ~receiver() {
        if (thread_.joinable())
            thread_.join();
    }

private:
    std::vector<seqmq::message> got_;
    std::thread thread_;
};

} // namespace

BOOST_AUTO_TEST_SUITE(topology_wait)

BOOST_AUTO_TEST_CASE(waiting_for_a_service_nobody_publishes_times_out) {
    auto& c = cluster::get();
    scoped_netns in(c.ns(2));
    const address nobody = service(100);
    const auto* via = seqmq::detail::tipc_transport();
    BOOST_TEST_REQUIRE(via != nullptr);

    auto start = std::chrono::steady_clock::now();
    auto w = via->wait_for_listener(nobody, seqmq::detail::deadline(200ms));
    BOOST_TEST((w.error() == std::errc::timed_out), why(w));
    BOOST_TEST((std::chrono::steady_clock::now() - start >= 200ms));

    seqmq::sender_options o;
    o.wait_for_mailbox = 300ms;
    start = std::chrono::steady_clock::now();
    auto s = sender::connect(nobody, o);
    BOOST_TEST((s.error() == std::errc::timed_out), why(s));
    BOOST_TEST((std::chrono::steady_clock::now() - start >= 300ms));
    // Without a wait, at once: nothing is bound to that service anywhere.
    BOOST_TEST((sender::connect(nobody).error() == std::errc::host_unreachable));
}

BOOST_AUTO_TEST_CASE(a_published_service_ends_the_wait_at_once_in_its_scope) {
    auto& c = cluster::get();
    const address here = service(101);
    std::optional<mailbox> m = open_in(c.ns(1), here);
    const auto* via = seqmq::detail::tipc_transport();
    {
        scoped_netns in(c.ns(1));
        BOOST_TEST(via->wait_for_listener(here, seqmq::detail::deadline(5s)).has_value());
        const address node_scoped = service(101, seqmq::tipc_scope::node);
        BOOST_TEST(via->wait_for_listener(node_scoped, seqmq::detail::deadline(5s)).has_value());
    }
    {
        // n2 learns of n1's publication over the link: cluster scope sees it, node scope (this
        // node's own publications only) does not.
        scoped_netns in(c.ns(2));
        auto w = via->wait_for_listener(here, seqmq::detail::deadline(10s));
        BOOST_TEST(w.has_value(), why(w));
        const address node_scoped = service(101, seqmq::tipc_scope::node);
        auto n = via->wait_for_listener(node_scoped, seqmq::detail::deadline(300ms));
        BOOST_TEST((n.error() == std::errc::timed_out), why(n));
        seqmq::sender_options o;
        o.wait_for_mailbox = 300ms;
        BOOST_TEST((sender::connect(node_scoped, o).error() == std::errc::timed_out));
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cluster_traffic)

// Senders in n2 and n3, each a process of its own, started before the mailbox in n1 exists:
// they wait for its name to reach their node, then send over their bearer.
BOOST_AUTO_TEST_CASE(a_mailbox_in_n1_receives_from_senders_in_n2_and_n3) {
    auto& c = cluster::get();
    const address box = service(200);
    constexpr int per_sender = 50;
    auto send_all = [&](int node) {
        return [&box, node]() -> std::error_code {
            seqmq::sender_options o;
            o.wait_for_mailbox = 20s;
            auto s = sender::connect(box, o);
            if (!s)
                return s.error();
            for (int i = 0; i < per_sender; ++i) {
                const std::string payload = std::to_string(node) + ":" + std::to_string(i);
                if (auto r = s->send(node, bytes(payload), seqmq::send_flags::none, 20s); !r)
                    return r.error();
            }
            return {};
        };
    };
    child_in_netns from2(c.ns(2), send_all(2));
    child_in_netns from3(c.ns(3), send_all(3));
    BOOST_TEST_REQUIRE((from2.started() && from3.started()));
    std::this_thread::sleep_for(100ms); // let them start waiting

    scoped_netns in(c.ns(1));
    auto m = mailbox::open(box);
    BOOST_TEST_REQUIRE(m.has_value(), why(m));
    std::map<long, int> next{{2, 0}, {3, 0}};
    for (int n = 0; n < 2 * per_sender; ++n) {
        auto r = m->receive(selector::any(), receive_flags::none, 20s);
        BOOST_TEST_REQUIRE(r.has_value(), "message " << n << ": " << why(r));
        BOOST_TEST_REQUIRE((r->type == 2 || r->type == 3));
        // In order per sender: "<node>:<sequence>".
        BOOST_TEST(text(r->data) == std::to_string(r->type) + ":" + std::to_string(next[r->type]));
        ++next[r->type];
    }
    auto r2 = from2.wait();
    auto r3 = from3.wait();
    BOOST_TEST(r2.finished);
    BOOST_TEST(!r2.error, r2.error.message());
    BOOST_TEST(r3.finished);
    BOOST_TEST(!r3.error, r3.error.message());
    BOOST_TEST(next[2] == per_sender);
    BOOST_TEST(next[3] == per_sender);
}

BOOST_AUTO_TEST_CASE(the_name_table_of_every_node_shows_the_mailbox) {
    auto& c = cluster::get();
    const address box = service(300);
    std::optional<mailbox> m = open_in(c.ns(1), box);
    for (int i = 1; i <= cluster::nodes; ++i) {
        BOOST_TEST_CONTEXT("seen from n" << i) {
            scoped_netns in(c.ns(i));
            std::optional<tipc::publication> found;
            eventually([&] {
                auto table = tipc::dump_name_table();
                if (!table)
                    return false;
                for (const auto& p : *table)
                    if (p.type == box.tipc_type() && p.lower == box.tipc_instance())
                        found = p;
                return found.has_value();
            });
            BOOST_TEST_REQUIRE(found.has_value(), "the mailbox's service is not in the table");
            BOOST_TEST(found->upper == box.tipc_instance());
            BOOST_TEST((found->scope == tipc::publication_scope::cluster));
            BOOST_TEST(found->node == c.node_address(1));
            BOOST_TEST(found->node_id.to_string() == "n1");
        }
    }
    // Closing the mailbox withdraws the name everywhere.
    m.reset();
    for (int i = 1; i <= cluster::nodes; ++i) {
        scoped_netns in(c.ns(i));
        const auto withdrawn = [&] {
            auto table = tipc::dump_name_table();
            return table && std::ranges::none_of(*table, [&](const auto& p) {
                       return p.type == box.tipc_type() && p.lower == box.tipc_instance();
                   });
        };
        BOOST_TEST(eventually(withdrawn), "n" << i << " still lists the closed mailbox");
    }
}

// n2 loses its only bearer: its connection to the mailbox in n1 dies, and n1's names leave its
// table with the link, so new connects find nothing; n3 is not affected. With the bearer back, a
// sender that waits through the topology service gets in as soon as the name arrives, with no
// poll of the link and no retry loop.
BOOST_AUTO_TEST_CASE(a_bearer_down_cuts_its_node_off_and_back_up_lets_it_in) {
    auto& c = cluster::get();
    const address box = service(400);
    std::optional<mailbox> m = open_in(c.ns(1), box);
    std::optional<receiver> rx(std::in_place, *m, 1, 20s);
    std::optional<sender> from2;
    {
        scoped_netns in(c.ns(2));
        seqmq::sender_options o;
        o.wait_for_mailbox = 10s;
        auto s = sender::connect(box, o);
        BOOST_TEST_REQUIRE(s.has_value(), why(s));
        BOOST_TEST_REQUIRE(s->send(2, bytes("before")).has_value());
        from2.emplace(std::move(*s));
    }
    auto got = rx->take();
    BOOST_TEST_REQUIRE(got.size() == 1u);
    BOOST_TEST(text(got[0].data) == "before");

    {
        scoped_netns in(c.ns(2));
        BOOST_TEST_REQUIRE(tipc::disable_bearer("eth:to1").has_value());
        BOOST_TEST(links_up() == 0u);

        // The established connection: the link to its node is gone.
        auto cut = from2->send(2, bytes("after the bearer went"), seqmq::send_flags::none, 5s);
        BOOST_TEST_REQUIRE(!cut.has_value(), "a send over a lost link succeeded");
        BOOST_TEST(cut.error() == seqmq::errc::mailbox_closed, cut.error().message());

        // New connections: n1's names have left n2's table with the link.
        auto none = sender::connect(box);
        BOOST_TEST((none.error() == std::errc::host_unreachable), why(none));
        seqmq::sender_options o;
        o.wait_for_mailbox = 300ms;
        BOOST_TEST((sender::connect(box, o).error() == std::errc::timed_out));
    }
    {
        scoped_netns in(c.ns(3)); // the other spoke still reaches the hub
        rx.emplace(*m, 1, 20s);
        BOOST_TEST(!connect_and_send(box, 10s, 3, "n3 unaffected"));
        got = rx->take();
        BOOST_TEST_REQUIRE(got.size() == 1u);
        BOOST_TEST(text(got[0].data) == "n3 unaffected");
    }

    {
        scoped_netns in(c.ns(2));
        BOOST_TEST_REQUIRE(tipc::enable_eth_bearer("to1").has_value());
        // Right after the bearer is back there is no link yet, nor n1's names: a sender that
        // does not wait is turned away, one that waits gets in once the name arrives.
        BOOST_TEST((sender::connect(box).error() == std::errc::host_unreachable));
        rx.emplace(*m, 1, 30s);
        const auto start = std::chrono::steady_clock::now();
        BOOST_TEST(!connect_and_send(box, 30s, 2, "back"));
        BOOST_TEST_MESSAGE("n2 reached the mailbox again "
                           << std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - start)
                                  .count()
                           << " ms after its bearer came back");
        got = rx->take();
        BOOST_TEST_REQUIRE(got.size() == 1u);
        BOOST_TEST(text(got[0].data) == "back");
        BOOST_TEST(links_up() == 1u);
    }
    BOOST_TEST(c.wait_links(30s).empty(), "the cluster did not heal");
}

// When a link has just come up, the peer's names follow a moment later: a connect right then
// can still find nothing (host_unreachable). A sender that waits through the topology service
// does not depend on that timing.
BOOST_AUTO_TEST_CASE(waiting_through_the_topology_service_removes_the_race_after_link_up) {
    auto& c = cluster::get();
    const address box = service(500);
    std::optional<mailbox> m = open_in(c.ns(1), box);
    scoped_netns in(c.ns(3));
    BOOST_TEST_REQUIRE(tipc::disable_bearer("eth:to1").has_value());
    BOOST_TEST_REQUIRE(tipc::enable_eth_bearer("to1").has_value());
    // Poll the link as closely as we can, then connect the moment it is up.
    const auto until = std::chrono::steady_clock::now() + 30s;
    bool up = false;
    while (!(up = links_up() == 1) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(1ms);
    BOOST_TEST_REQUIRE(up, "the link n3-n1 did not come back within 30 s");
    auto at_once = sender::connect(box);
    BOOST_TEST_MESSAGE("connect without waiting right after the link came up: " << why(at_once));
    BOOST_TEST((at_once || at_once.error() == std::errc::host_unreachable), why(at_once));
    receiver rx(*m, 1, 30s);
    BOOST_TEST(!connect_and_send(box, 10s, 3, "waited"));
    auto got = rx.take();
    BOOST_TEST_REQUIRE(got.size() == 1u);
    BOOST_TEST(text(got[0].data) == "waited");
    BOOST_TEST(c.wait_links(30s).empty(), "the cluster did not heal");
}

BOOST_AUTO_TEST_SUITE_END()

int main(int argc, char* argv[]) {
    using seqmq::test::skip_unless;
    if (!seqmq::detail::tipc_transport())
        skip_unless("TIPC not available in this kernel (tests/run-tipc-test runs this test in "
                    "the guest of netns-scripts/tipc-guest)");
    if (auto probe = tipc::get_node_info(); !probe)
        skip_unless("TIPC netlink unusable here: " + probe.error().message());
    skip_unless(seqmq::test::netns_unavailable());
    return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
