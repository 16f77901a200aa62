// TIPC configuration over generic netlink. The argument checks and the netlink plumbing run
// anywhere; the kernel suites need TIPC and a private network namespace per test case, and are
// skipped (the executable exits 77) when the kernel lacks TIPC or no namespace can be made.

#define BOOST_TEST_MODULE tipc_netlink
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include <seqmq/tipc.hpp>

#include "sys/fd.hpp"
#include "tipc/netlink.hpp"
#include "veth.hpp"

#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/tipc.h>
#include <linux/tipc_netlink.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <thread>

namespace tipc = seqmq::tipc;
using seqmq::detail::unique_fd;

// How Boost.Test prints what a failed check compared.
namespace seqmq::tipc {
std::ostream& boost_test_print_type(std::ostream& os, errc e) {
    return os << make_error_code(e) << " (" << make_error_code(e).message() << ")";
}
std::ostream& boost_test_print_type(std::ostream& os, const node_identity& id) {
    return os << (id.empty() ? std::string("(empty)") : id.to_string());
}
} // namespace seqmq::tipc
BOOST_TEST_DONT_PRINT_LOG_VALUE(std::errc)

namespace {

// Why the kernel suites cannot run here; empty when they can. Set by main() before any test.
std::string skip_reason;

boost::test_tools::assertion_result kernel_ready(boost::unit_test::test_unit_id) {
    boost::test_tools::assertion_result ready(skip_reason.empty());
    ready.message() << skip_reason;
    return ready;
}

std::error_code system_error(int value) {
    return {value, std::system_category()};
}

// A check's message about a result: its error, if it has one. (Never call error() on a value.)
template <class T>
std::string why(const seqmq::result<T>& r) {
    return r ? std::string("no error") : r.error().message();
}

// Sets IFF_UP on `device` in the current network namespace.
void bring_up(const char* device) {
    unique_fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    BOOST_TEST_REQUIRE(static_cast<bool>(sock), "socket: " << std::strerror(errno));
    ifreq request{};
    std::strncpy(request.ifr_name, device, IFNAMSIZ - 1);
    BOOST_TEST_REQUIRE(::ioctl(sock.get(), SIOCGIFFLAGS, &request) == 0,
                       "SIOCGIFFLAGS " << device << ": " << std::strerror(errno));
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
    BOOST_TEST_REQUIRE(::ioctl(sock.get(), SIOCSIFFLAGS, &request) == 0,
                       "SIOCSIFFLAGS " << device << ": " << std::strerror(errno));
}

// Makes the calling (only) thread enter a new network namespace with its loopback up.
std::string enter_fresh_namespace() {
    if (::unshare(CLONE_NEWNET) != 0)
        return std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
    unique_fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq request{};
    std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    if (!sock || ::ioctl(sock.get(), SIOCGIFFLAGS, &request) != 0)
        return std::string("reading the flags of lo: ") + std::strerror(errno);
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
    if (::ioctl(sock.get(), SIOCSIFFLAGS, &request) != 0)
        return std::string("bringing lo up: ") + std::strerror(errno);
    return {};
}

unique_fd current_namespace() {
    return unique_fd(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
}

// Each kernel test case runs in a network namespace of its own: TIPC's node state (identity,
// bearers, name table) is per namespace, and the guest's own stays untouched.
struct fresh_namespace {
    fresh_namespace() {
        const std::string failed = enter_fresh_namespace();
        BOOST_TEST_REQUIRE(failed.empty(), failed);
    }
};

// Creates the veth pair NAME/PEER; PEER goes into namespace `peer_netns` if given.
void add_veth(const char* name, const char* peer, int peer_netns = -1) {
    const std::string failed = seqmq::test::add_veth(name, peer, peer_netns);
    BOOST_TEST_REQUIRE(failed.empty(), failed);
}

// Polls `ready` for up to ten seconds: TIPC confirms addresses and brings links up on timers.
bool eventually(const std::function<bool()>& ready) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
        if (ready())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return ready();
}

// A raw TIPC socket bound to a service range, as a mailbox would be.
struct bound_service {
    unique_fd sock;
    std::uint32_t port = 0;

    bound_service(std::uint32_t type, std::uint32_t lower, std::uint32_t upper, int scope) {
        sock.reset(::socket(AF_TIPC, SOCK_RDM | SOCK_CLOEXEC, 0));
        BOOST_TEST_REQUIRE(static_cast<bool>(sock), "socket(AF_TIPC): " << std::strerror(errno));
        sockaddr_tipc where{};
        where.family = AF_TIPC;
        where.addrtype = TIPC_SERVICE_RANGE;
        where.scope = static_cast<signed char>(scope);
        where.addr.nameseq = {type, lower, upper};
        BOOST_TEST_REQUIRE(
            ::bind(sock.get(), reinterpret_cast<const sockaddr*>(&where), sizeof where) == 0,
            "bind: " << std::strerror(errno));
        sockaddr_tipc self{};
        socklen_t len = sizeof self;
        BOOST_TEST_REQUIRE(::getsockname(sock.get(), reinterpret_cast<sockaddr*>(&self), &len) ==
                           0);
        port = self.addr.id.ref;
    }
};

const tipc::publication* find_publication(const std::vector<tipc::publication>& table,
                                          std::uint32_t type, std::uint32_t lower) {
    auto it = std::ranges::find_if(
        table, [&](const auto& p) { return p.type == type && p.lower == lower; });
    return it == table.end() ? nullptr : &*it;
}

bool has_bearer(const std::vector<tipc::bearer_info>& bearers, std::string_view name) {
    return std::ranges::any_of(bearers, [&](const auto& b) { return b.name == name; });
}

} // namespace

// ---- anywhere: parsing, errors, argument checks, netlink plumbing ----

BOOST_AUTO_TEST_SUITE(identity)

BOOST_AUTO_TEST_CASE(a_name_is_its_bytes_zero_padded) {
    auto id = tipc::node_identity::parse("node1");
    BOOST_TEST_REQUIRE(id.has_value());
    BOOST_TEST(id->hex() == "6e6f6465310000000000000000000000");
    BOOST_TEST(id->name().value_or("") == "node1");
    BOOST_TEST(id->to_string() == "node1");
    BOOST_TEST(!id->empty());
    auto longest = tipc::node_identity::parse("a-b_c.d:e@f12345");
    BOOST_TEST_REQUIRE(longest.has_value());
    BOOST_TEST(longest->to_string() == "a-b_c.d:e@f12345");
}

BOOST_AUTO_TEST_CASE(thirty_two_hex_digits_are_bytes) {
    auto id = tipc::node_identity::parse("0102030405060708090A0b0c0d0e0f10");
    BOOST_TEST_REQUIRE(id.has_value());
    for (std::size_t i = 0; i < tipc::node_identity::size; ++i)
        BOOST_TEST(id->bytes()[i] == i + 1);
    BOOST_TEST(!id->name().has_value());
    BOOST_TEST(id->to_string() == "0102030405060708090a0b0c0d0e0f10");
    BOOST_TEST(tipc::node_identity::parse(id->to_string()).value() == *id);
}

BOOST_AUTO_TEST_CASE(an_identity_made_from_a_mac_is_shown_in_hex) {
    tipc::node_identity::bytes_type bytes{0x52, 0xc8, 0x7b, 0x6c, 0x07, 0x79};
    const tipc::node_identity id(bytes);
    BOOST_TEST(!id.name().has_value());
    BOOST_TEST(id.to_string() == "52c87b6c077900000000000000000000");
    BOOST_TEST(tipc::node_identity::parse(id.to_string()).value() == id);
}

BOOST_AUTO_TEST_CASE(bad_identities_are_refused_with_bad_node_identity) {
    const tipc::node_identity empty;
    BOOST_TEST(empty.empty());
    for (const std::string_view text :
         {"", "seventeen-chars-x", "with space", "caf\xc3\xa9", "a/b",
          "00000000000000000000000000000000", "0102030405060708090a0b0c0d0e0fzz",
          "0102030405060708090a0b0c0d0e0f1", "0102030405060708090a0b0c0d0e0f100"}) {
        auto id = tipc::node_identity::parse(text);
        BOOST_TEST_CONTEXT("text \"" << text << "\"") {
            BOOST_TEST_REQUIRE(!id.has_value());
            BOOST_TEST(id.error() == tipc::errc::bad_node_identity);
            BOOST_TEST(id.error() == std::errc::invalid_argument);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(tipc_codes_compare_to_their_std_conditions) {
    BOOST_TEST(std::string(tipc::category().name()) == "seqmq.tipc");
    BOOST_TEST(make_error_code(tipc::errc::identity_already_set) ==
               std::errc::operation_not_permitted);
    BOOST_TEST(make_error_code(tipc::errc::network_id_locked) ==
               std::errc::operation_not_permitted);
    BOOST_TEST(make_error_code(tipc::errc::bearer_already_enabled) == std::errc::file_exists);
    BOOST_TEST(make_error_code(tipc::errc::no_such_bearer) == std::errc::no_such_device);
    BOOST_TEST(make_error_code(tipc::errc::bad_reply) == std::errc::protocol_error);
    BOOST_TEST(make_error_code(tipc::errc::identity_already_set)
                   .message()
                   .find("node identity already set") == 0u);
}

BOOST_AUTO_TEST_CASE(netlink_codes_carry_libnl_messages) {
    const std::error_code missing(NLE_OBJ_NOTFOUND, tipc::netlink_category());
    BOOST_TEST(std::string(tipc::netlink_category().name()) == "netlink");
    BOOST_TEST(missing.message() == "Object not found");
    BOOST_TEST(missing == std::errc::no_such_file_or_directory);
    BOOST_TEST(std::error_code(NLE_NOMEM, tipc::netlink_category()) ==
               std::errc::not_enough_memory);
    BOOST_TEST(seqmq::detail::netlink_error(-NLE_PERM) ==
               std::error_code(NLE_PERM, tipc::netlink_category()));
}

BOOST_AUTO_TEST_CASE(backend_unavailable_says_tipc_is_missing) {
    BOOST_TEST(make_error_code(seqmq::errc::backend_unavailable).message() ==
               "TIPC not available in this kernel");
}

BOOST_AUTO_TEST_SUITE_END()

// These fail before any netlink request, so they hold with or without TIPC.
BOOST_AUTO_TEST_SUITE(argument_checks)

BOOST_AUTO_TEST_CASE(network_id_must_be_1_to_9999) {
    BOOST_TEST(tipc::set_network_id(0).error() == tipc::errc::bad_network_id);
    BOOST_TEST(tipc::set_network_id(10000).error() == tipc::errc::bad_network_id);
}

BOOST_AUTO_TEST_CASE(identity_must_be_valid_and_not_empty) {
    BOOST_TEST(tipc::set_node_identity(tipc::node_identity{}).error() ==
               tipc::errc::bad_node_identity);
    BOOST_TEST(tipc::set_node_identity("not valid!").error() == tipc::errc::bad_node_identity);
}

BOOST_AUTO_TEST_CASE(bearer_names_are_1_to_15_bytes) {
    BOOST_TEST(tipc::enable_eth_bearer("").error() == tipc::errc::bad_bearer_name);
    BOOST_TEST(tipc::enable_eth_bearer("sixteen-bytes-xx").error() == tipc::errc::bad_bearer_name);
    BOOST_TEST(tipc::disable_eth_bearer(std::string_view("a\0b", 3)).error() ==
               tipc::errc::bad_bearer_name);
    BOOST_TEST(tipc::disable_udp_bearer("").error() == tipc::errc::bad_bearer_name);
    BOOST_TEST(tipc::disable_bearer("").error() == tipc::errc::bad_bearer_name);
    tipc::udp_bearer_config config;
    config.local_ip = "127.0.0.1";
    BOOST_TEST(tipc::enable_udp_bearer(config).error() == tipc::errc::bad_bearer_name);
}

BOOST_AUTO_TEST_CASE(udp_addresses_must_be_numeric) {
    tipc::udp_bearer_config config;
    config.name = "u";
    for (const char* ip : {"", "300.1.1.1", "localhost", "1.2.3", "fe80::1%no-such-if0"}) {
        config.local_ip = ip;
        BOOST_TEST(tipc::enable_udp_bearer(config).error() == tipc::errc::bad_ip_address,
                   "local ip \"" << ip << "\"");
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(plumbing)

BOOST_AUTO_TEST_CASE(nested_attributes_read_back_as_built) {
    using seqmq::detail::netlink_attributes;
    using seqmq::detail::netlink_message;
    auto msg = netlink_message::create(0x20, TIPC_NL_NET_SET, netlink_message::kind::act);
    BOOST_TEST_REQUIRE(msg.has_value());
    auto built = msg->nest(TIPC_NLA_NET, [](netlink_message& m) -> seqmq::result<void> {
        if (auto r = m.put_u32(TIPC_NLA_NET_ID, 4711); !r)
            return r;
        if (auto r = m.put_u64(TIPC_NLA_NET_NODEID, 0x0123456789abcdefull); !r)
            return r;
        // Two bytes where a u32 belongs: must read as absent, not as garbage.
        const std::byte two[2] = {std::byte{1}, std::byte{2}};
        return m.put_bytes(TIPC_NLA_NET_ADDR, two);
    });
    BOOST_TEST_REQUIRE(built.has_value());
    auto bearer = msg->nest(TIPC_NLA_BEARER, [](netlink_message& m) {
        return m.put_string(TIPC_NLA_BEARER_NAME, "eth:v0");
    });
    BOOST_TEST_REQUIRE(bearer.has_value());

    const auto top = netlink_attributes::of_message(msg->get(), TIPC_NLA_MAX);
    const auto net = top.nested(TIPC_NLA_NET, TIPC_NLA_NET_MAX);
    BOOST_TEST(net.u32(TIPC_NLA_NET_ID).value_or(0) == 4711u);
    BOOST_TEST(net.u64(TIPC_NLA_NET_NODEID).value_or(0) == 0x0123456789abcdefull);
    BOOST_TEST(!net.u32(TIPC_NLA_NET_ADDR).has_value());
    BOOST_TEST(net.bytes(TIPC_NLA_NET_ADDR).size() == 2u);
    BOOST_TEST(!net.has(TIPC_NLA_NET_NODEID_W1));
    BOOST_TEST(top.nested(TIPC_NLA_BEARER, TIPC_NLA_BEARER_MAX)
                   .string(TIPC_NLA_BEARER_NAME)
                   .value_or("") == "eth:v0");
    BOOST_TEST(!top.nested(TIPC_NLA_LINK, TIPC_NLA_LINK_MAX).has(TIPC_NLA_LINK_NAME));
}

BOOST_AUTO_TEST_CASE(a_failed_fill_leaves_no_nest_behind) {
    using seqmq::detail::netlink_attributes;
    using seqmq::detail::netlink_message;
    auto msg = netlink_message::create(0x20, TIPC_NL_NET_SET, netlink_message::kind::act);
    BOOST_TEST_REQUIRE(msg.has_value());
    auto built = msg->nest(TIPC_NLA_NET, [](netlink_message& m) -> seqmq::result<void> {
        (void)m.put_u32(TIPC_NLA_NET_ID, 1);
        return std::unexpected(make_error_code(tipc::errc::bad_reply));
    });
    BOOST_TEST(built.error() == tipc::errc::bad_reply);
    const auto top = netlink_attributes::of_message(msg->get(), TIPC_NLA_MAX);
    BOOST_TEST(!top.has(TIPC_NLA_NET));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- with TIPC, each case in a namespace of its own ----

BOOST_AUTO_TEST_SUITE(node, *boost::unit_test::precondition(kernel_ready))

BOOST_FIXTURE_TEST_CASE(a_fresh_namespace_has_no_identity_yet, fresh_namespace) {
    auto node = tipc::get_node_info();
    BOOST_TEST_REQUIRE(node.has_value(), why(node));
    BOOST_TEST(node->identity.empty());
    BOOST_TEST(node->address == 0u);
    BOOST_TEST(node->network_id == 4711u);
}

BOOST_FIXTURE_TEST_CASE(identity_is_set_once, fresh_namespace) {
    auto set = tipc::set_node_identity("alpha");
    BOOST_TEST_REQUIRE(set.has_value(), why(set));
    BOOST_TEST(tipc::get_node_identity().value().to_string() == "alpha");
    // The same identity again changes nothing and is no error.
    BOOST_TEST(tipc::set_node_identity("alpha").has_value());
    // Another one is refused, clearly, and the first stays.
    auto again = tipc::set_node_identity("beta");
    BOOST_TEST_REQUIRE(!again.has_value());
    BOOST_TEST(again.error() == tipc::errc::identity_already_set);
    BOOST_TEST(again.error() == std::errc::operation_not_permitted);
    BOOST_TEST(tipc::get_node_identity().value().to_string() == "alpha");
}

BOOST_FIXTURE_TEST_CASE(a_hex_identity_is_set_as_bytes, fresh_namespace) {
    const std::string hex = "0102030405060708090a0b0c0d0e0f10";
    auto set = tipc::set_node_identity(hex);
    BOOST_TEST_REQUIRE(set.has_value(), why(set));
    BOOST_TEST(tipc::get_node_identity().value().hex() == hex);
}

BOOST_FIXTURE_TEST_CASE(network_id_is_locked_once_the_node_has_joined, fresh_namespace) {
    BOOST_TEST_REQUIRE(tipc::set_network_id(1234).has_value());
    BOOST_TEST(tipc::get_network_id().value() == 1234u);
    BOOST_TEST_REQUIRE(tipc::set_node_identity("gamma").has_value());
    tipc::udp_bearer_config udp;
    udp.name = "lo";
    udp.local_ip = "127.0.0.1";
    auto enabled = tipc::enable_udp_bearer(udp);
    BOOST_TEST_REQUIRE(enabled.has_value(), why(enabled));
    BOOST_TEST_REQUIRE(eventually([] { return tipc::get_node_address().value_or(0) != 0; }),
                       "TIPC did not confirm the node address within 10 s");
    BOOST_TEST(tipc::set_network_id(1234).has_value()); // unchanged: no error
    BOOST_TEST(tipc::set_network_id(1235).error() == tipc::errc::network_id_locked);
    BOOST_TEST(tipc::get_network_id().value() == 1234u);
    // The identity cannot change now either.
    BOOST_TEST(tipc::set_node_identity("delta").error() == tipc::errc::identity_already_set);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bearers, *boost::unit_test::precondition(kernel_ready))

BOOST_FIXTURE_TEST_CASE(eth_bearer_enable_list_disable, fresh_namespace) {
    add_veth("v0", "v1");
    bring_up("v0");
    bring_up("v1");
    auto enabled = tipc::enable_eth_bearer("v0");
    BOOST_TEST_REQUIRE(enabled.has_value(), why(enabled));
    // Enabling the first bearer made an identity from the MAC.
    BOOST_TEST(!tipc::get_node_identity().value().empty());

    auto bearers = tipc::list_bearers();
    BOOST_TEST_REQUIRE(bearers.has_value(), why(bearers));
    BOOST_TEST_REQUIRE(bearers->size() == 1u);
    BOOST_TEST(bearers->front().name == "eth:v0");
    BOOST_TEST(bearers->front().media == "eth");
    BOOST_TEST(bearers->front().tolerance_ms > 0u);
    BOOST_TEST(bearers->front().udp_local.empty());

    BOOST_TEST(tipc::enable_eth_bearer("v0").error() == tipc::errc::bearer_already_enabled);
    BOOST_TEST(tipc::enable_eth_bearer("nosuch0").error() == system_error(ENODEV));

    BOOST_TEST_REQUIRE(tipc::disable_eth_bearer("v0").has_value());
    BOOST_TEST(!has_bearer(tipc::list_bearers().value(), "eth:v0"));
    BOOST_TEST(tipc::disable_eth_bearer("v0").error() == tipc::errc::no_such_bearer);
    BOOST_TEST(tipc::disable_bearer("udp:never").error() == tipc::errc::no_such_bearer);
}

BOOST_FIXTURE_TEST_CASE(udp_bearer_defaults_to_the_network_multicast_group, fresh_namespace) {
    tipc::udp_bearer_config udp;
    udp.name = "u1";
    udp.local_ip = "127.0.0.1";
    auto enabled = tipc::enable_udp_bearer(udp);
    BOOST_TEST_REQUIRE(enabled.has_value(), why(enabled));
    auto bearers = tipc::list_bearers();
    BOOST_TEST_REQUIRE(bearers.has_value(), why(bearers));
    BOOST_TEST_REQUIRE(bearers->size() == 1u);
    const auto& b = bearers->front();
    BOOST_TEST(b.name == "udp:u1");
    BOOST_TEST(b.media == "udp");
    BOOST_TEST(b.udp_local == "127.0.0.1:6118");
    BOOST_TEST(b.udp_remote == "228.0.18.103:6118"); // network id 4711 = 0x1267
    BOOST_TEST(!b.udp_replicast);
    BOOST_TEST(b.mtu > 0u);
    BOOST_TEST(tipc::enable_udp_bearer(udp).error() == tipc::errc::bearer_already_enabled);
    BOOST_TEST_REQUIRE(tipc::disable_udp_bearer("u1").has_value());
    BOOST_TEST(tipc::list_bearers().value().empty());
}

BOOST_FIXTURE_TEST_CASE(udp_bearer_to_a_peer, fresh_namespace) {
    tipc::udp_bearer_config udp;
    udp.name = "peer";
    udp.local_ip = "127.0.0.1";
    udp.remote_ip = "127.0.0.2";
    udp.local_port = 7001;
    udp.remote_port = 7002;
    auto enabled = tipc::enable_udp_bearer(udp);
    BOOST_TEST_REQUIRE(enabled.has_value(), why(enabled));
    auto bearers = tipc::list_bearers();
    BOOST_TEST_REQUIRE(bearers.has_value());
    BOOST_TEST_REQUIRE(bearers->size() == 1u);
    BOOST_TEST(bearers->front().udp_local == "127.0.0.1:7001");
    BOOST_TEST(bearers->front().udp_remote == "127.0.0.2:7002");
    BOOST_TEST(bearers->front().udp_replicast);
}

BOOST_FIXTURE_TEST_CASE(udp_bearer_refusals_are_exact, fresh_namespace) {
    tipc::udp_bearer_config udp;
    udp.name = "u";
    udp.local_ip = "127.0.0.1";
    udp.remote_ip = "::1";
    BOOST_TEST(tipc::enable_udp_bearer(udp).error() == tipc::errc::address_family_mismatch);
    udp.remote_ip = "not-an-ip";
    BOOST_TEST(tipc::enable_udp_bearer(udp).error() == tipc::errc::bad_ip_address);
    udp.remote_ip.clear();
    udp.local_ip = "192.0.2.1"; // TEST-NET-1: no device here has it
    BOOST_TEST(tipc::enable_udp_bearer(udp).error() == system_error(EADDRNOTAVAIL));
    BOOST_TEST(tipc::list_bearers().value().empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(links, *boost::unit_test::precondition(kernel_ready))

BOOST_FIXTURE_TEST_CASE(without_bearers_only_the_broadcast_link, fresh_namespace) {
    auto links = tipc::list_links();
    BOOST_TEST_REQUIRE(links.has_value(), why(links));
    BOOST_TEST_REQUIRE(links->size() == 1u);
    BOOST_TEST(links->front().name == "broadcast-link");
    BOOST_TEST(links->front().broadcast);
    BOOST_TEST(links->front().up);
    BOOST_TEST(links->front().peer_identity.empty());
}

// Two namespaces joined by a veth pair: the one thread hops between them with setns().
BOOST_FIXTURE_TEST_CASE(a_link_to_a_peer_comes_up, fresh_namespace) {
    const unique_fd left = current_namespace();
    BOOST_TEST_REQUIRE(static_cast<bool>(left));
    const std::string failed = enter_fresh_namespace();
    BOOST_TEST_REQUIRE(failed.empty(), failed);
    const unique_fd right = current_namespace();
    BOOST_TEST_REQUIRE(::setns(left.get(), CLONE_NEWNET) == 0);
    add_veth("left0", "right0", right.get());

    bring_up("left0");
    BOOST_TEST_REQUIRE(tipc::set_node_identity("left").has_value());
    BOOST_TEST_REQUIRE(tipc::enable_eth_bearer("left0").has_value());
    BOOST_TEST_REQUIRE(::setns(right.get(), CLONE_NEWNET) == 0);
    bring_up("right0");
    BOOST_TEST_REQUIRE(tipc::set_node_identity("right").has_value());
    BOOST_TEST_REQUIRE(tipc::enable_eth_bearer("right0").has_value());
    BOOST_TEST_REQUIRE(::setns(left.get(), CLONE_NEWNET) == 0);

    std::vector<tipc::link_info> links;
    const bool up = eventually([&] {
        links = tipc::list_links().value_or(std::vector<tipc::link_info>{});
        return std::ranges::any_of(links, [](const auto& l) { return !l.broadcast && l.up; });
    });
    BOOST_TEST_REQUIRE(up, "no link came up within 10 s");
    const auto link = std::ranges::find_if(links, [](const auto& l) { return !l.broadcast; });
    BOOST_TEST(link->name == "left:left0-right:right0");
    BOOST_TEST(link->active);
    BOOST_TEST(link->peer_identity.to_string() == "right");
    BOOST_TEST(link->peer != 0u);
    BOOST_TEST(link->mtu > 0u);

    // Taking the bearer away takes the link with it.
    BOOST_TEST_REQUIRE(tipc::disable_eth_bearer("left0").has_value());
    BOOST_TEST(tipc::list_links().value().size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(name_table, *boost::unit_test::precondition(kernel_ready))

BOOST_FIXTURE_TEST_CASE(shows_a_service_this_test_binds, fresh_namespace) {
    constexpr std::uint32_t type = 0x5e9a0001; // well above the reserved types (< 64)
    std::optional<bound_service> cluster_wide(std::in_place, type, 10, 20, TIPC_CLUSTER_SCOPE);
    const bound_service node_only(type, 30, 30, TIPC_NODE_SCOPE);

    auto table = tipc::dump_name_table();
    BOOST_TEST_REQUIRE(table.has_value(), why(table));
    const auto own_address = tipc::get_node_address().value();
    const auto* p = find_publication(*table, type, 10);
    BOOST_TEST_REQUIRE(p != nullptr);
    BOOST_TEST(p->upper == 20u);
    BOOST_TEST((p->scope == tipc::publication_scope::cluster));
    BOOST_TEST(p->port == cluster_wide->port);
    BOOST_TEST(p->node == own_address);
    const auto* q = find_publication(*table, type, 30);
    BOOST_TEST_REQUIRE(q != nullptr);
    BOOST_TEST((q->scope == tipc::publication_scope::node));
    BOOST_TEST(q->port == node_only.port);
    // TIPC's own topology service is always there.
    BOOST_TEST(find_publication(*table, TIPC_TOP_SRV, TIPC_TOP_SRV) != nullptr);

    cluster_wide.reset();
    auto after = tipc::dump_name_table();
    BOOST_TEST_REQUIRE(after.has_value());
    BOOST_TEST(find_publication(*after, type, 10) == nullptr);
    BOOST_TEST(find_publication(*after, type, 30) != nullptr);
}

BOOST_AUTO_TEST_SUITE_END()

int main(int argc, char* argv[]) {
    // The kernel suites need TIPC, and a network namespace of their own so that nothing they do
    // reaches the host's (or guest's) TIPC state.
    auto probe = tipc::get_node_info();
    if (!probe && probe.error() == seqmq::errc::backend_unavailable)
        skip_reason = probe.error().message() + " (run inside netns-scripts/tipc-guest)";
    else if (!probe)
        skip_reason = "TIPC netlink unusable here: " + probe.error().message();
    else if (std::string failed = enter_fresh_namespace(); !failed.empty())
        skip_reason = "cannot make a private network namespace: " + failed;
    if (!skip_reason.empty())
        std::cout << "SKIP tipc kernel tests: " << skip_reason << std::endl;
    const int status = boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
    // A run that could not reach the kernel is a skip, never a pass.
    return status == 0 && !skip_reason.empty() ? 77 : status;
}
