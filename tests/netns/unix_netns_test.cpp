// AF_UNIX across network namespaces: an abstract name belongs to one network namespace, a path
// belongs to the file system and so is reachable from every namespace that shares it. The other
// side runs in a child process in a new network namespace (unshare(CLONE_NEWNET)); without the
// privilege for that the executable reports a skip (exit 77), never a pass.

#define BOOST_TEST_MODULE AF_UNIX across network namespaces
#include <boost/test/unit_test.hpp>

#include <seqmq/mailbox.hpp>
#include <seqmq/sender.hpp>

#include "netns_support.hpp"
#include "transport/transport.hpp"

#include <sys/stat.h>
#include <sys/un.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using seqmq::address;
using seqmq::mailbox;
using seqmq::receive_flags;
using seqmq::selector;
using seqmq::sender;
using seqmq::test::child_in_netns;
using seqmq::test::connect_and_send;
BOOST_TEST_DONT_PRINT_LOG_VALUE(std::errc)

namespace {

struct require_netns {
    require_netns() { seqmq::test::skip_unless(seqmq::test::netns_unavailable()); }
};
BOOST_TEST_GLOBAL_FIXTURE(require_netns);

template <class R>
std::string why(const R& r) {
    return r ? std::string("ok") : r.error().message();
}

std::string text(const std::vector<std::byte>& b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

address abstract_address(const char* what) {
    return *address::unix_abstract("seqmq-netns-" + std::to_string(::getpid()) + "-" + what);
}

// A directory of its own under /tmp for socket files, removed at the end.
struct scratch_directory {
    std::filesystem::path path;
    scratch_directory() {
        char name[] = "/tmp/seqmq-netns-XXXXXX";
        BOOST_TEST_REQUIRE(::mkdtemp(name) != nullptr, std::strerror(errno));
        path = name;
    }
    ~scratch_directory() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    address socket(const char* file) const { return *address::unix_path((path / file).string()); }
};

} // namespace

BOOST_AUTO_TEST_CASE(an_abstract_address_is_invisible_from_another_namespace) {
    const address a = abstract_address("private");
    auto m = mailbox::open(a);
    BOOST_TEST_REQUIRE(m.has_value(), why(m));

    // From this namespace it is there.
    BOOST_TEST(!connect_and_send(a, std::nullopt, 1, "here"));
    BOOST_TEST(text(m->receive(selector::any(), receive_flags::none, 5s)->data) == "here");

    // From another one nothing listens on that name: refused at once, a wait times out.
    child_in_netns refused(-1, [&] { return sender::connect(a).error(); });
    auto r = refused.wait();
    BOOST_TEST_REQUIRE(r.finished);
    BOOST_TEST(r.error == std::errc::connection_refused, r.error.message());

    child_in_netns waited(-1, [&] {
        seqmq::sender_options o;
        o.wait_for_mailbox = 200ms;
        return sender::connect(a, o).error();
    });
    r = waited.wait();
    BOOST_TEST_REQUIRE(r.finished);
    BOOST_TEST(r.error == std::errc::timed_out, r.error.message());

    // And the other namespace can have a mailbox of its own under the same name.
    child_in_netns twin(-1, [&]() -> std::error_code {
        auto own = mailbox::open(a);
        if (!own)
            return own.error();
        if (auto e = connect_and_send(a, std::nullopt, 2, "twin"); e)
            return e;
        auto got = own->receive(selector::any(), receive_flags::none, 5s);
        if (!got)
            return got.error();
        return got->type == 2 ? std::error_code() : std::make_error_code(std::errc::bad_message);
    });
    r = twin.wait();
    BOOST_TEST_REQUIRE(r.finished);
    BOOST_TEST(!r.error, r.error.message());
    BOOST_TEST(m->stat()->count == 0u); // nothing of the twin's reached this mailbox
}

BOOST_AUTO_TEST_CASE(a_path_address_is_reachable_from_another_namespace) {
    scratch_directory dir;
    const address a = dir.socket("box.sock");
    auto m = mailbox::open(a);
    BOOST_TEST_REQUIRE(m.has_value(), why(m));

    child_in_netns far(-1, [&] { return connect_and_send(a, std::nullopt, 7, "across"); });
    BOOST_TEST_REQUIRE(far.started());
    const pid_t far_pid = far.pid();
    auto got = m->receive(selector::any(), receive_flags::none, 10s);
    auto r = far.wait();
    BOOST_TEST_REQUIRE(r.finished);
    BOOST_TEST(!r.error, r.error.message());
    BOOST_TEST_REQUIRE(got.has_value(), why(got));
    BOOST_TEST(got->type == 7);
    BOOST_TEST(text(got->data) == "across");
    BOOST_TEST(got->sender_pid == far_pid); // SO_PEERCRED works across network namespaces
}

BOOST_AUTO_TEST_CASE(a_sender_in_another_namespace_waits_for_a_path_mailbox) {
    scratch_directory dir;
    const address a = dir.socket("late.sock");
    // The child starts waiting (inotify on the directory) before the mailbox exists.
    child_in_netns far(-1, [&] { return connect_and_send(a, 10s, 3, "waited"); });
    BOOST_TEST_REQUIRE(far.started());
    std::this_thread::sleep_for(200ms);
    auto m = mailbox::open(a);
    BOOST_TEST_REQUIRE(m.has_value(), why(m));
    auto got = m->receive(selector::any(), receive_flags::none, 10s);
    auto r = far.wait();
    BOOST_TEST_REQUIRE(r.finished);
    BOOST_TEST(!r.error, r.error.message());
    BOOST_TEST_REQUIRE(got.has_value(), why(got));
    BOOST_TEST(text(got->data) == "waited");
}

BOOST_AUTO_TEST_CASE(waiting_for_a_path_ends_with_timed_out) {
    scratch_directory dir;
    seqmq::sender_options o;
    o.wait_for_mailbox = 150ms;
    const auto start = std::chrono::steady_clock::now();
    auto s = sender::connect(dir.socket("never.sock"), o);
    BOOST_TEST((s.error() == std::errc::timed_out), why(s));
    BOOST_TEST((std::chrono::steady_clock::now() - start >= 150ms));

    // The transport's own wait, and a directory that does not exist (nothing to watch: the
    // sender retries with pauses and still ends on time).
    const seqmq::detail::deadline soon(100ms);
    auto w = seqmq::detail::unix_transport().wait_for_listener(dir.socket("never.sock"), soon);
    BOOST_TEST((w.error() == std::errc::timed_out), why(w));
    auto missing = sender::connect(dir.socket("no-such-dir/x.sock"), o);
    BOOST_TEST((missing.error() == std::errc::timed_out), why(missing));
    // Without a wait: the errno of connect, as before.
    BOOST_TEST((sender::connect(dir.socket("never.sock")).error() ==
                std::errc::no_such_file_or_directory));
}

BOOST_AUTO_TEST_CASE(a_waiting_sender_gets_past_a_stale_socket_file) {
    scratch_directory dir;
    const address a = dir.socket("stale.sock");
    { // a socket file nobody listens on, as a mailbox that died leaves behind
        seqmq::detail::unique_fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        std::snprintf(sun.sun_path, sizeof sun.sun_path, "%s", a.name().c_str());
        BOOST_TEST_REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
    }
    std::error_code sent;
    std::thread waiting([&] { sent = connect_and_send(a, 10s, 4, "past stale"); });
    std::this_thread::sleep_for(150ms);
    auto m = mailbox::open(a); // replaces the stale file
    BOOST_TEST_REQUIRE(m.has_value(), why(m));
    auto got = m->receive(selector::any(), receive_flags::none, 10s);
    waiting.join();
    BOOST_TEST(!sent, sent.message());
    BOOST_TEST_REQUIRE(got.has_value(), why(got));
    BOOST_TEST(text(got->data) == "past stale");
}
