#define BOOST_TEST_MODULE address
#include <boost/test/unit_test.hpp>

#include <seqmq/address.hpp>

using seqmq::address;
using seqmq::address_family;
using seqmq::errc;

namespace {

std::error_code error_of(std::string_view text) {
    auto a = address::parse(text);
    BOOST_TEST_REQUIRE(!a.has_value(), text << " should not parse");
    return a.error();
}

} // namespace

BOOST_AUTO_TEST_CASE(good_addresses_round_trip) {
    for (std::string_view text :
         {"unix:/run/x.sock", "unix:@karaoke", "tipc:1000:7", "tipc:64:0/node",
          "tipc:4294967295:4294967295", "auto:karaoke", "auto:a.b_c-1"}) {
        auto a = address::parse(text);
        BOOST_TEST_REQUIRE(a.has_value(), text);
        BOOST_TEST(a->to_string() == text);
        BOOST_TEST((*address::parse(a->to_string()) == *a));
    }
}

BOOST_AUTO_TEST_CASE(fields) {
    auto p = *address::parse("unix:/run/x.sock");
    BOOST_TEST((p.family() == address_family::unix_path));
    BOOST_TEST(p.name() == "/run/x.sock");
    auto a = *address::parse("unix:@name");
    BOOST_TEST((a.family() == address_family::unix_abstract));
    BOOST_TEST(a.name() == "name");
    auto t = *address::parse("tipc:0x1000:0x10/node");
    BOOST_TEST((t.family() == address_family::tipc));
    BOOST_TEST(t.tipc_type() == 4096u);
    BOOST_TEST(t.tipc_instance() == 16u);
    BOOST_TEST((t.scope() == seqmq::tipc_scope::node));
    BOOST_TEST(t.to_string() == "tipc:4096:16/node");
    BOOST_TEST(address::parse("tipc:100:1/cluster")->to_string() == "tipc:100:1");
}

BOOST_AUTO_TEST_CASE(bad_addresses_name_the_part) {
    struct {
        std::string text;
        errc expected;
    } cases[] = {
        {"", errc::bad_scheme},
        {"karaoke", errc::bad_scheme},
        {"udp:1.2.3.4", errc::bad_scheme},
        {"UNIX:/x", errc::bad_scheme},
        {"unix:", errc::bad_unix_path},
        {"unix:relative/path", errc::bad_unix_path},
        {"unix:/" + std::string(107, 'x'), errc::bad_unix_path},
        {"unix:@", errc::bad_abstract_name},
        {"tipc:", errc::bad_tipc_type},
        {"tipc:abc:1", errc::bad_tipc_type},
        {"tipc:-5:1", errc::bad_tipc_type},
        {"tipc:4294967296:1", errc::bad_tipc_type},
        {"tipc:0x:1", errc::bad_tipc_type},
        {"tipc:5:1", errc::reserved_tipc_type},
        {"tipc:63:1", errc::reserved_tipc_type},
        {"tipc:1000", errc::bad_tipc_instance},
        {"tipc:1000:", errc::bad_tipc_instance},
        {"tipc:1000:1x", errc::bad_tipc_instance},
        {"tipc:1000:1:2", errc::bad_tipc_instance},
        {"tipc:1000:1/zone", errc::bad_tipc_scope},
        {"tipc:1000:1/", errc::bad_tipc_scope},
        {"auto:", errc::bad_auto_name},
        {"auto:has space", errc::bad_auto_name},
        {"auto:a/b", errc::bad_auto_name},
        {"auto:" + std::string(65, 'a'), errc::bad_auto_name},
    };
    for (const auto& c : cases) {
        auto e = error_of(c.text);
        BOOST_TEST((e == make_error_code(c.expected)), c.text << ": " << e.message());
        BOOST_TEST((e == std::errc::invalid_argument), c.text);
    }
}

BOOST_AUTO_TEST_CASE(long_abstract_and_path_limits) {
    BOOST_TEST(address::parse("unix:/" + std::string(106, 'p')).has_value());
    BOOST_TEST(address::parse("unix:@" + std::string(106, 'a')).has_value());
    BOOST_TEST((error_of("unix:@" + std::string(107, 'a')) == errc::bad_abstract_name));
    std::string with_nul = "unix:/a";
    with_nul += '\0';
    BOOST_TEST((error_of(with_nul) == errc::bad_unix_path));
}

BOOST_AUTO_TEST_CASE(auto_mapping_is_stable_and_never_reserved) {
    // Fixed values: changing the mapping would split clusters running different versions.
    BOOST_TEST(address::auto_tipc_type("karaoke") == 0xe38f1e5du);
    BOOST_TEST(address::auto_tipc_type("") == (0x80000000u | (2166136261u & 0x7fffffffu)));
    for (std::string_view n : {"a", "b", "queue", "x.y"})
        BOOST_TEST(address::auto_tipc_type(n) >= 64u);
}

BOOST_AUTO_TEST_CASE(auto_resolves_to_abstract_without_tipc) {
    auto a = *address::parse("auto:karaoke");
    auto r = a.resolve();
    if (r.family() == address_family::tipc) {
        BOOST_TEST(r.tipc_type() == address::auto_tipc_type("karaoke"));
        BOOST_TEST(r.tipc_instance() == 0u);
    } else {
        BOOST_TEST(r.to_string() == "unix:@seqmq.karaoke");
    }
    auto concrete = *address::parse("unix:@x");
    BOOST_TEST((concrete.resolve() == concrete));
}
