// The mailbox tests, built twice: test_mailbox_unix (AF_UNIX) and test_mailbox_tipc
// (SEQMQ_TEST_TIPC defined: the same tests over TIPC service addresses, plus TIPC's own).
#ifdef SEQMQ_TEST_TIPC
#define BOOST_TEST_MODULE mailbox over TIPC
#else
#define BOOST_TEST_MODULE mailbox over AF_UNIX
#endif
#include <boost/test/unit_test.hpp>

#include <seqmq/mailbox.hpp>
#include <seqmq/sender.hpp>

#include "child_wait.hpp"
#include "tipc_support.hpp"
#include "transport/transport.hpp"
#include "wire/frame.hpp"

#include <fcntl.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstring>
#include <grp.h>
#include <map>
#include <poll.h>
#include <seqmq/seqmq.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using seqmq::address;
using seqmq::mailbox;
using seqmq::receive_flags;
using seqmq::selector;
using seqmq::sender;

namespace {

#ifdef SEQMQ_TEST_TIPC
constexpr bool over_tipc = true;
#else
constexpr bool over_tipc = false;
#endif

// A fresh address of the family under test, unique to this process.
address unique_address(const char* what) {
    static std::uint32_t n = 0;
    if (over_tipc)
        return *address::tipc(0x40000000u + std::uint32_t(::getpid()), n++);
    return *address::parse("unix:@seqmq-test-" + std::to_string(::getpid()) + "-" + what + "-" +
                           std::to_string(n++));
}

// The sender pid a mailbox reports: TIPC carries no credentials.
pid_t reported_pid(pid_t pid) {
    return over_tipc ? 0 : pid;
}

#ifdef SEQMQ_TEST_TIPC
using seqmq::test::require_tipc;
BOOST_TEST_GLOBAL_FIXTURE(require_tipc);
#endif

std::span<const std::byte> bytes(std::string_view s) {
    return std::as_bytes(std::span(s));
}

std::string text(std::span<const std::byte> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// The error of a result, as text, or "ok" (Boost.Test evaluates messages even on success).
template <class R>
std::string why(const R& r) {
    return r ? std::string("ok") : r.error().message();
}

// Waits until the mailbox has noticed that all but one of its senders left.
bool eventually_one_connection(mailbox& m) {
    for (int i = 0; i < 5000; ++i) {
        auto st = m.stat();
        if (st && st->connections == 1)
            return true;
        std::this_thread::sleep_for(1ms);
    }
    return false;
}

mailbox open_mailbox(const address& a, seqmq::mailbox_options o = {}) {
    auto m = mailbox::open(a, o);
    BOOST_TEST_REQUIRE(m.has_value(), "open " << a.to_string() << ": " << why(m));
    return std::move(*m);
}

// A sender connected to `m`. The mailbox is asked for its stat so that it accepts the
// connection: TIPC completes a connection only then, and this thread owns both ends.
sender connect_to(mailbox& m, const address& a) {
    auto s = sender::connect(a);
    BOOST_TEST_REQUIRE(s.has_value(), "connect: " << why(s));
    BOOST_TEST_REQUIRE(m.stat().has_value());
    return std::move(*s);
}

void send_ok(sender& s, long type, std::string_view payload) {
    auto r = s.send(type, bytes(payload));
    BOOST_TEST_REQUIRE(r.has_value(), "send: " << why(r));
}

// A real sender process: fork + exec of seqmq_test_peer, its stdout captured.
struct peer_process {
    pid_t pid = -1;
    int out = -1;

    peer_process(const address& a, int id, int count, int size, std::string types,
                 bool nowait = false) {
        int p[2];
        BOOST_TEST_REQUIRE(::pipe(p) == 0);
        pid = ::fork();
        BOOST_TEST_REQUIRE(pid >= 0);
        if (pid == 0) {
            ::dup2(p[1], 1);
            ::close(p[0]);
            ::close(p[1]);
            std::string addr = a.to_string(), sid = std::to_string(id),
                        scount = std::to_string(count), ssize = std::to_string(size);
            const char* argv[] = {SEQMQ_TEST_PEER,
                                  addr.c_str(),
                                  sid.c_str(),
                                  scount.c_str(),
                                  ssize.c_str(),
                                  types.c_str(),
                                  nowait ? "nowait" : nullptr,
                                  nullptr};
            ::execv(SEQMQ_TEST_PEER, const_cast<char**>(argv));
            ::_exit(127);
        }
        ::close(p[1]);
        out = p[0];
    }

    // Exit status, or -1 if it had to be killed after `limit`.
    int wait(std::chrono::milliseconds limit = 20s) {
        return seqmq::test::exit_code(seqmq::test::wait_for_child(std::exchange(pid, -1), limit));
    }

    // As wait(), while `m` accepts and reads (each stat() does), for transports that connect
    // only when the mailbox accepts.
    int wait_serving(mailbox& m, std::chrono::milliseconds limit = 20s) {
        return seqmq::test::exit_code(
            seqmq::test::wait_for_child(std::exchange(pid, -1), limit, [&] { (void)m.stat(); }));
    }

    std::string output() {
        std::string all;
        char buf[256];
        for (ssize_t n; (n = ::read(out, buf, sizeof buf)) > 0;)
            all.append(buf, std::size_t(n));
        return all;
    }

    ~peer_process() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        ::close(out);
    }
};

// "ID:SEQ" at the start of a peer's payload.
std::pair<int, int> origin(std::span<const std::byte> payload) {
    int id = -1, seq = -1;
    std::sscanf(reinterpret_cast<const char*>(payload.data()), "%d:%d", &id, &seq);
    return {id, seq};
}

// A raw blocking connection to a mailbox, to play a misbehaving peer.
int raw_connect(mailbox& m, const address& a) {
    auto via = seqmq::detail::transport_for(a);
    BOOST_TEST_REQUIRE(via.has_value());
    auto fd = (*via)->connect(a, seqmq::detail::deadline(5s));
    BOOST_TEST_REQUIRE(fd.has_value());
    BOOST_TEST_REQUIRE(m.stat().has_value()); // accepted: established on TIPC too
    int raw = fd->release();
    ::fcntl(raw, F_SETFL, ::fcntl(raw, F_GETFL) & ~O_NONBLOCK);
    return raw;
}

std::vector<std::byte> frame(long type, std::uint64_t seq, std::string_view payload) {
    using namespace seqmq::detail;
    std::vector<std::byte> r(frame_header::size + payload.size());
    encode({frame_kind::data, std::uint32_t(payload.size()), seq, type},
           std::span(r.data(), frame_header::size).first<frame_header::size>());
    std::memcpy(r.data() + frame_header::size, payload.data(), payload.size());
    return r;
}

} // namespace

BOOST_AUTO_TEST_CASE(selective_receive_follows_msgrcv) {
    auto a = unique_address("sel");
    auto m = open_mailbox(a);
    auto s = connect_to(m, a);
    for (auto [t, p] : std::initializer_list<std::pair<long, const char*>>{
             {3, "three"}, {1, "one-a"}, {2, "two"}, {1, "one-b"}, {5, "five"}})
        send_ok(s, t, p);

    auto take = [&](selector w) {
        auto r = m.receive(w, receive_flags::nowait);
        BOOST_TEST_REQUIRE(r.has_value(), "selector " << w.type << ": " << why(r));
        return std::to_string(r->type) + ":" + text(r->data);
    };
    BOOST_TEST(take(selector::of_type(1)) == "1:one-a");
    BOOST_TEST(take(selector::except_type(3)) == "2:two");
    BOOST_TEST(take(selector::lowest_up_to(5)) == "1:one-b");
    BOOST_TEST(take(selector::any()) == "3:three");
    auto none = m.receive(selector::of_type(4), receive_flags::nowait);
    BOOST_TEST((none.error() == std::errc::no_message));
    BOOST_TEST(take(selector::any()) == "5:five");
    BOOST_TEST(
        (m.receive(selector::any(), receive_flags::nowait).error() == std::errc::no_message));
}

BOOST_AUTO_TEST_CASE(peek_and_list_take_nothing) {
    auto a = unique_address("peek");
    auto m = open_mailbox(a);
    auto s = connect_to(m, a);
    send_ok(s, 7, "seven");
    send_ok(s, 2, "two");
    send_ok(s, 7, "seven again");

    auto all = m.list();
    BOOST_TEST_REQUIRE(all.has_value());
    BOOST_TEST_REQUIRE(all->size() == 3u);
    BOOST_TEST((*all)[0].type == 7);
    BOOST_TEST((*all)[1].type == 2);
    BOOST_TEST((*all)[2].size == 11u);
    BOOST_TEST((*all)[0].sender_pid == reported_pid(::getpid()));
    BOOST_TEST((*all)[0].arrival < (*all)[1].arrival);

    BOOST_TEST(text(m.peek(selector::of_type(2))->data) == "two");
    BOOST_TEST(text(m.peek_at(2)->data) == "seven again");
    BOOST_TEST((m.peek_at(3).error() == std::errc::no_message));
    BOOST_TEST((m.peek(selector::of_type(9)).error() == std::errc::no_message));
    BOOST_TEST(m.list()->size() == 3u); // still all there

    auto st = m.stat();
    BOOST_TEST(st->count == 3u);
    BOOST_TEST(st->bytes == 5u + 3u + 11u);
    BOOST_TEST(st->last_send_pid == reported_pid(::getpid()));
    BOOST_TEST(st->connections == 1u);
    BOOST_TEST(text(m.receive()->data) == "seven");
    BOOST_TEST(m.stat()->last_receive_pid == ::getpid());
}

BOOST_AUTO_TEST_CASE(small_buffer_e2big_keeps_message_noerror_truncates) {
    auto a = unique_address("e2big");
    auto m = open_mailbox(a);
    auto s = connect_to(m, a);
    send_ok(s, 1, "0123456789");
    std::array<std::byte, 4> small;
    // Straight from the socket, and again from the stash: E2BIG both times, message kept.
    for (int i = 0; i < 2; ++i) {
        auto r = m.receive(small, selector::any(), receive_flags::nowait);
        BOOST_TEST((r.error() == std::errc::argument_list_too_long));
    }
    BOOST_TEST(m.stat()->count == 1u);
    auto r = m.receive(small, selector::any(), receive_flags::nowait | receive_flags::noerror);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->size == 4u);
    BOOST_TEST(r->untruncated_size == 10u);
    BOOST_TEST(r->truncated());
    BOOST_TEST(text(std::span(small).first(4)) == "0123");
    BOOST_TEST(m.stat()->count == 0u);
}

BOOST_AUTO_TEST_CASE(send_many_keeps_boundaries_types_and_order) {
    auto a = unique_address("many");
    seqmq::mailbox_options o;
    o.capacity = 1 << 20;
    auto m = open_mailbox(a, o);
    auto s = connect_to(m, a);
    // 1000 messages of sizes 0..99 and types 1..5, then one too large to share a batch.
    std::vector<std::string> texts;
    std::vector<seqmq::outgoing_message> out;
    for (int i = 0; i < 1000; ++i)
        texts.push_back(std::to_string(i) + std::string(std::size_t(i % 100), '.'));
    texts.push_back(std::string(8192, 'B'));
    for (std::size_t i = 0; i < texts.size(); ++i)
        out.push_back({long(i % 5) + 1, bytes(texts[i])});
    auto sent = s.send_many(out);
    BOOST_TEST_REQUIRE(sent.has_value(), why(sent));
    BOOST_TEST(*sent == texts.size());
    send_ok(s, 9, "after the batches"); // sequence numbers continue across both kinds

    // Type 3 first: every third... every fifth message, in order; the rest stay in place.
    for (std::size_t i = 2; i < 1000; i += 5) {
        auto r = m.receive(selector::of_type(3), receive_flags::nowait);
        BOOST_TEST_REQUIRE(r.has_value(), why(r));
        BOOST_TEST_REQUIRE(text(r->data) == texts[i]);
    }
    auto listed = m.list();
    BOOST_TEST(listed->size() == 1000u - 200u + 2u);
    for (std::size_t i = 0; i <= 1000; ++i) {
        if (i < 1000 && i % 5 == 2)
            continue;
        auto r = m.receive(selector::any(), receive_flags::nowait);
        BOOST_TEST_REQUIRE(r.has_value(), why(r));
        BOOST_TEST_REQUIRE(text(r->data) == texts[i]);
        BOOST_TEST_REQUIRE(r->type == long(i % 5) + 1);
    }
    BOOST_TEST(text(m.receive(selector::any(), receive_flags::nowait)->data) ==
               "after the batches");
    BOOST_TEST(m.stat()->protocol_errors == 0u);
}

BOOST_AUTO_TEST_CASE(send_many_checks_everything_first) {
    auto a = unique_address("manycheck");
    auto m = open_mailbox(a);
    auto s = connect_to(m, a);
    std::string big(8193, 'x');
    std::vector<seqmq::outgoing_message> bad_type{{1, bytes("ok")}, {0, bytes("no")}};
    BOOST_TEST((s.send_many(bad_type).error() == seqmq::errc::bad_type));
    std::vector<seqmq::outgoing_message> too_big{{1, bytes("ok")}, {1, bytes(big)}};
    BOOST_TEST((s.send_many(too_big).error() == std::errc::message_size));
    BOOST_TEST(
        (m.receive(selector::any(), receive_flags::nowait).error() == std::errc::no_message));
    BOOST_TEST(*s.send_many({}) == 0u);
}

BOOST_AUTO_TEST_CASE(e2big_inside_a_batch_keeps_its_place) {
    auto a = unique_address("batch-e2big");
    auto m = open_mailbox(a);
    auto s = connect_to(m, a);
    std::vector<seqmq::outgoing_message> out{
        {1, bytes("a")}, {2, bytes("too long for four")}, {2, bytes("b")}};
    BOOST_TEST(*s.send_many(out) == 3u);
    std::array<std::byte, 4> small;
    BOOST_TEST((m.receive(small, selector::of_type(2), receive_flags::nowait).error() ==
                std::errc::argument_list_too_long));
    auto all = m.list();
    BOOST_TEST_REQUIRE(all->size() == 3u);
    BOOST_TEST((*all)[1].size == 17u); // still second
    BOOST_TEST(text(m.receive(selector::of_type(2))->data) == "too long for four");
}

BOOST_AUTO_TEST_CASE(spinning_receiver_gets_what_a_sleeping_one_would) {
    auto a = unique_address("spin");
    seqmq::mailbox_options o;
    o.spin = std::chrono::microseconds(200);
    auto m = open_mailbox(a, o);
    peer_process p(a, 1, 300, 16, "1");
    for (int i = 0; i < 300; ++i) {
        auto r = m.receive(selector::any(), receive_flags::none, 10s);
        BOOST_TEST_REQUIRE(r.has_value(), why(r));
        BOOST_TEST_REQUIRE(origin(r->data).second == i);
    }
    BOOST_TEST(p.wait() == 0);
    auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST(
        (m.receive(selector::any(), receive_flags::none, 30ms).error() == std::errc::timed_out));
    BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 30ms));
}

BOOST_AUTO_TEST_CASE(timeouts_and_empty_messages) {
    auto a = unique_address("timeout");
    auto m = open_mailbox(a);
    auto s = connect_to(m, a);
    auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST(
        (m.receive(selector::any(), receive_flags::none, 50ms).error() == std::errc::timed_out));
    BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 50ms));
    BOOST_TEST((m.receive(selector::lowest_up_to(3), receive_flags::none, 20ms).error() ==
                std::errc::timed_out));
    send_ok(s, 4, ""); // an empty payload is still a whole record
    auto r = m.receive(selector::any(), receive_flags::none, 1s);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->type == 4);
    BOOST_TEST(r->data.empty());
}

// With one sender connected, a waiting receive blocks on that sender's socket first
// (direct_wait): a second sender connecting meanwhile is still heard, a receive's own timeout
// still holds, and a signal still ends the wait.
BOOST_AUTO_TEST_CASE(direct_wait_on_the_only_sender) {
    auto a = unique_address("direct");
    seqmq::mailbox_options o;
    o.direct_wait = 200ms;
    auto m = open_mailbox(a, o);
    auto quiet = connect_to(m, a); // connected, never sends

    std::string second_error = "not run";
    std::thread second([&] {
        std::this_thread::sleep_for(50ms);
        seqmq::sender_options so;
        so.wait_for_mailbox = 5s;
        auto s = sender::connect(a, so);
        if (!s) {
            second_error = "connect: " + s.error().message();
            return;
        }
        auto r = s->send(2, bytes("second"), seqmq::send_flags::none, 5s);
        second_error = r ? "" : "send: " + r.error().message();
    });
    auto r = m.receive(selector::any(), receive_flags::none, 10s);
    second.join();
    BOOST_TEST(second_error == "");
    BOOST_TEST_REQUIRE(r.has_value(), why(r));
    BOOST_TEST(r->type == 2);

    // Two senders now: a plain wait on all. Back to one, and the direct wait holds a timeout
    // shorter than itself (it does not apply) and one longer (it ends first).
    BOOST_TEST_REQUIRE(eventually_one_connection(m));
    for (auto limit : {30ms, 300ms}) {
        auto t0 = std::chrono::steady_clock::now();
        BOOST_TEST((m.receive(selector::any(), receive_flags::none, limit).error() ==
                    std::errc::timed_out));
        BOOST_TEST((std::chrono::steady_clock::now() - t0 >= limit));
    }

    // A signal (a handler without SA_RESTART) ends a direct wait as it ends epoll_wait.
    seqmq::mailbox_options longer;
    longer.direct_wait = 10s;
    auto b = unique_address("direct-signal");
    auto m2 = open_mailbox(b, longer);
    auto s2 = connect_to(m2, b);
    struct sigaction sa {
    }, old{};
    sa.sa_handler = [](int) {};
    ::sigaction(SIGALRM, &sa, &old);
    itimerval t{{0, 0}, {0, 50000}};
    ::setitimer(ITIMER_REAL, &t, nullptr);
    auto t0 = std::chrono::steady_clock::now();
    auto e = m2.receive(selector::any(), receive_flags::none, 20s);
    ::sigaction(SIGALRM, &old, nullptr);
    BOOST_TEST((e.error() == std::errc::interrupted));
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 5s));
    send_ok(s2, 3, "after");
    auto after = m2.receive(selector::any(), receive_flags::none, 5s);
    BOOST_TEST_REQUIRE(after.has_value(), why(after));
    BOOST_TEST(text(std::span(after->data)) == "after");
}

// A sender that never pauses long enough for a direct wait to time out must not hide the
// listener: a sender connecting meanwhile is served within direct_wait and a kernel tick (here
// within 1 s, a wide margin for a loaded machine; it used to wait until the first one stopped).
BOOST_AUTO_TEST_CASE(a_busy_only_sender_does_not_lock_out_a_late_one) {
    using clock = std::chrono::steady_clock;
    auto a = unique_address("busy");
    auto m = open_mailbox(a); // direct_wait: the default, 1 ms
    const auto stop_at = clock::now() + 4s;
    pid_t fast = ::fork();
    BOOST_TEST_REQUIRE(fast >= 0);
    if (fast == 0) {
        auto s = sender::connect(a);
        if (!s)
            ::_exit(2);
        while (clock::now() < stop_at) {
            // As fast as it can: the owner's recv() never has to wait, let alone time out.
            if (!s->send(1, bytes("busy")))
                ::_exit(3);
        }
        ::_exit(0);
    }
    pid_t late = ::fork();
    BOOST_TEST_REQUIRE(late >= 0);
    if (late == 0) {
        std::this_thread::sleep_for(300ms);
        auto s = sender::connect(a);
        if (!s)
            ::_exit(2);
        // The send time travels in the message: CLOCK_MONOTONIC is the same in every process.
        const auto sent = clock::now().time_since_epoch().count();
        if (!s->send(2, std::as_bytes(std::span(&sent, 1))))
            ::_exit(3);
        ::_exit(0);
    }
    std::optional<clock::duration> waited;
    std::size_t busy = 0;
    while (!waited && clock::now() < stop_at + 2s) {
        auto r = m.receive(selector::any(), receive_flags::none, 1s);
        if (!r)
            continue;
        if (r->type == 1) {
            ++busy;
            continue;
        }
        clock::rep sent;
        BOOST_TEST_REQUIRE(r->data.size() == sizeof sent);
        std::memcpy(&sent, r->data.data(), sizeof sent);
        waited = clock::now() - clock::time_point(clock::duration(sent));
    }
    const bool fast_still_sending = clock::now() < stop_at;
    BOOST_TEST(seqmq::test::exit_code(seqmq::test::wait_for_child(late, 10s)) == 0);
    // Drain while the busy one runs out its time, so that its sends never wait for ever.
    BOOST_TEST(seqmq::test::exit_code(seqmq::test::wait_for_child(fast, 10s, [&] {
                   while (m.receive(selector::any(), receive_flags::nowait))
                       ;
               })) == 0);
    BOOST_TEST_REQUIRE(waited.has_value(), "the late sender's message never came");
    BOOST_TEST_MESSAGE("late sender's message waited "
                       << std::chrono::duration_cast<std::chrono::microseconds>(*waited).count()
                       << " us behind " << busy << " messages of the busy one");
    BOOST_TEST(fast_still_sending, "the busy sender had stopped: the test proved nothing");
    BOOST_TEST((*waited < 1s));
}

BOOST_AUTO_TEST_CASE(send_errors) {
    auto a = unique_address("senderr");
    seqmq::mailbox_options o;
    o.max_message_size = 100;
    o.capacity = 1000;
    auto m = open_mailbox(a, o);
    auto s = connect_to(m, a);
    std::string big(101, 'x');
    BOOST_TEST((s.send(0, bytes("x")).error() == seqmq::errc::bad_type));
    BOOST_TEST((s.send(-3, bytes("x")).error() == std::errc::invalid_argument));
    // Until the mailbox has accepted the connection the sender assumes the default limit.
    BOOST_TEST(m.stat().has_value()); // the mailbox accepts and says hello
    BOOST_TEST((s.send(1, bytes(big)).error() == std::errc::message_size));
    BOOST_TEST(s.max_message_size() == 100u);
    send_ok(s, 1, std::string(100, 'y'));
    BOOST_TEST(m.receive()->data.size() == 100u);
}

BOOST_AUTO_TEST_CASE(bad_options_and_address_in_use) {
    auto a = unique_address("opts");
    seqmq::mailbox_options o;
    o.capacity = 10;
    BOOST_TEST((mailbox::open(a, o).error() == std::errc::invalid_argument));
    o = {};
    o.max_message_size = 0;
    BOOST_TEST((mailbox::open(a, o).error() == std::errc::invalid_argument));
    auto m = open_mailbox(a);
    if (over_tipc) {
        // Nothing bound there: TIPC finds no destination for the service.
        auto e = sender::connect(unique_address("nobody")).error();
        BOOST_TEST((e == std::errc::host_unreachable || e == std::errc::no_such_file_or_directory ||
                    e == std::errc::connection_refused),
                   e.message());
        return; // TIPC lets several sockets bind one service: no address_in_use (see README)
    }
    BOOST_TEST((mailbox::open(a).error() == std::errc::address_in_use));
    BOOST_TEST(
        (sender::connect(unique_address("nobody")).error() == std::errc::connection_refused));
}

#ifndef SEQMQ_TEST_TIPC
// A socket file at `path` whose listener is gone, as a process that died leaves it.
void leave_dead_socket(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::strcpy(sun.sun_path, path.c_str());
    BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
    ::close(fd);
}

BOOST_AUTO_TEST_CASE(path_addresses_replace_stale_sockets) {
    std::string path = "/tmp/seqmq-test-" + std::to_string(::getpid()) + ".sock";
    auto a = *address::parse("unix:" + path);
    {
        auto m = open_mailbox(a);
        struct stat st;
        BOOST_TEST(::stat(path.c_str(), &st) == 0);
        BOOST_TEST((mailbox::open(a).error() == std::errc::address_in_use));
    }
    struct stat st;
    BOOST_TEST(::stat(path.c_str(), &st) == -1); // removed on close
    // A socket file left behind by a process that died is replaced.
    leave_dead_socket(path);
    auto m = open_mailbox(a);
    auto s = connect_to(m, a);
    send_ok(s, 1, "after stale");
    BOOST_TEST(text(m.receive()->data) == "after stale");
}

std::string file_text(const std::string& path) {
    std::string all;
    if (FILE* f = std::fopen(path.c_str(), "r")) {
        char buf[256];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
            all.append(buf, n);
        std::fclose(f);
    }
    return all;
}

// A regular file refuses connect() as a dead socket does: it is data, never replaced.
BOOST_AUTO_TEST_CASE(a_regular_file_on_the_path_is_never_replaced) {
    std::string path = "/tmp/seqmq-test-" + std::to_string(::getpid()) + ".file";
    {
        FILE* f = std::fopen(path.c_str(), "w");
        BOOST_TEST_REQUIRE(f != nullptr);
        std::fputs("data\n", f);
        std::fclose(f);
    }
    auto a = *address::parse("unix:" + path);
    BOOST_TEST((mailbox::open(a).error() == std::errc::address_in_use));
    BOOST_TEST(file_text(path) == "data\n");
    // A symbolic link to a dead socket is not followed to it either.
    std::string dead = path + ".dead";
    leave_dead_socket(dead);
    std::string link = path + ".link";
    BOOST_TEST_REQUIRE(::symlink(dead.c_str(), link.c_str()) == 0);
    BOOST_TEST(
        (mailbox::open(*address::parse("unix:" + link)).error() == std::errc::address_in_use));
    struct stat st;
    BOOST_TEST(::lstat(link.c_str(), &st) == 0);
    BOOST_TEST(S_ISLNK(st.st_mode));
    ::unlink(link.c_str());
    ::unlink(dead.c_str());

    // A mailbox whose file was replaced meanwhile removes nothing when it closes.
    std::string moved = path + ".sock";
    {
        auto m = open_mailbox(*address::parse("unix:" + moved));
        BOOST_TEST_REQUIRE(::unlink(moved.c_str()) == 0);
        BOOST_TEST_REQUIRE(::rename(path.c_str(), moved.c_str()) == 0);
    }
    BOOST_TEST(file_text(moved) == "data\n");
    ::unlink(moved.c_str());
}

// Another uid's dead socket is not ours to replace.
BOOST_AUTO_TEST_CASE(another_uids_dead_socket_is_not_replaced,
                     *boost::unit_test::precondition([](boost::unit_test::test_unit_id) {
                         boost::test_tools::assertion_result r(::geteuid() == 0);
                         r.message() << "needs root to make a socket file of another uid";
                         return r;
                     })) {
    std::string path = "/tmp/seqmq-test-" + std::to_string(::getpid()) + ".other";
    leave_dead_socket(path);
    BOOST_TEST_REQUIRE(::lchown(path.c_str(), 65534, 65534) == 0);
    BOOST_TEST(
        (mailbox::open(*address::parse("unix:" + path)).error() == std::errc::address_in_use));
    struct stat st;
    BOOST_TEST_REQUIRE(::lstat(path.c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 65534u);
    ::unlink(path.c_str());
}

// Precondition of the tests that setuid() to nobody: a skip with the reason without root.
boost::test_tools::assertion_result as_root(boost::unit_test::test_unit_id) {
    boost::test_tools::assertion_result r(::geteuid() == 0);
    r.message() << "needs root to setuid() to another user";
    return r;
}

constexpr uid_t nobody = 65534;

// Runs `body` in a child process as uid/gid nobody; its return value is the exit status.
template <class F>
int as_nobody(F body) {
    pid_t pid = ::fork();
    BOOST_TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        if (::setgroups(0, nullptr) < 0 || ::setgid(nobody) < 0 || ::setuid(nobody) < 0)
            ::_exit(100);
        ::_exit(body());
    }
    return seqmq::test::exit_code(seqmq::test::wait_for_child(pid, 20s));
}

// What a sender of another uid meets: refused (EACCES, counted) on an abstract name by default;
// let in when the mode's other bits say so. Nothing of the refused one is ever received.
BOOST_AUTO_TEST_CASE(abstract_mailbox_refuses_other_uids_by_default,
                     *boost::unit_test::precondition(as_root)) {
    auto a = unique_address("owner-only");
    auto m = open_mailbox(a);
    BOOST_TEST(m.stat()->mode == 0600u);
    int fd[2];
    BOOST_TEST_REQUIRE(::pipe(fd) == 0);
    pid_t pid = ::fork();
    BOOST_TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fd[0]);
        if (::setgroups(0, nullptr) < 0 || ::setgid(nobody) < 0 || ::setuid(nobody) < 0)
            ::_exit(100);
        auto s = sender::connect(a);
        if (!s)
            ::_exit(101);
        (void)s->send(1, bytes("from nobody")); // into the socket before the mailbox looks
        (void)!::write(fd[1], "x", 1);
        // The mailbox has looked at the connection by now (the parent's stat below): refused.
        for (int i = 0; i < 2000; ++i) {
            auto r = s->send(1, bytes("again"), seqmq::send_flags::nowait);
            if (!r)
                ::_exit(r.error() == std::errc::permission_denied ? 0 : 102);
            std::this_thread::sleep_for(5ms);
        }
        ::_exit(103);
    }
    ::close(fd[1]);
    char ready;
    BOOST_TEST_REQUIRE(::read(fd[0], &ready, 1) == 1);
    ::close(fd[0]);
    auto st = m.stat();
    BOOST_TEST_REQUIRE(st.has_value());
    BOOST_TEST(st->refused_access == 1u);
    BOOST_TEST(st->count == 0u);
    BOOST_TEST(st->connections == 0u);
    BOOST_TEST(seqmq::test::exit_code(seqmq::test::wait_for_child(pid, 20s)) == 0);
    BOOST_TEST(
        (m.receive(selector::any(), receive_flags::nowait).error() == std::errc::no_message));

    // With the other write bit, nobody gets in.
    auto b = unique_address("other-may");
    seqmq::mailbox_options o;
    o.mode = 0602;
    auto open = open_mailbox(b, o);
    BOOST_TEST(as_nobody([&] {
                   auto s = sender::connect(b);
                   return s && s->send(7, bytes("let in")) ? 0 : 1;
               }) == 0);
    auto r = open.receive(selector::any(), receive_flags::none, 5s);
    BOOST_TEST_REQUIRE(r.has_value(), why(r));
    BOOST_TEST(r->type == 7);
    BOOST_TEST(r->sender_pid != 0);
    BOOST_TEST(open.stat()->refused_access == 0u);
}

// A squatter: nobody binds the abstract name first. A sender that requires the owner's uid
// finds out at connect, before it sends anything.
BOOST_AUTO_TEST_CASE(sender_requiring_the_owner_detects_a_squatter,
                     *boost::unit_test::precondition(as_root)) {
    auto a = unique_address("squat");
    int fd[2], done[2];
    BOOST_TEST_REQUIRE(::pipe(fd) == 0);
    BOOST_TEST_REQUIRE(::pipe(done) == 0);
    pid_t squatter = ::fork();
    BOOST_TEST_REQUIRE(squatter >= 0);
    if (squatter == 0) {
        ::close(fd[0]);
        ::close(done[1]);
        if (::setgroups(0, nullptr) < 0 || ::setgid(nobody) < 0 || ::setuid(nobody) < 0)
            ::_exit(100);
        auto m = mailbox::open(a);
        (void)!::write(fd[1], m ? "y" : "n", 1);
        char c;
        (void)!::read(done[0], &c, 1); // until the parent is done
        ::_exit(0);
    }
    ::close(fd[1]);
    ::close(done[0]);
    char opened = 0;
    BOOST_TEST_REQUIRE(::read(fd[0], &opened, 1) == 1);
    BOOST_TEST_REQUIRE(opened == 'y');
    seqmq::sender_options so;
    so.require_owner = ::geteuid();
    BOOST_TEST((sender::connect(a, so).error() == std::errc::permission_denied));
    so.require_owner = nobody;
    BOOST_TEST(sender::connect(a, so).has_value());
    // The C API says the same.
    seqmq_options_t co;
    seqmq_options_init(&co);
    co.require_owner = ::geteuid();
    errno = 0;
    BOOST_TEST(seqmq_connect(a.to_string().c_str(), &co) == nullptr);
    BOOST_TEST(errno == EACCES);
    ::close(done[1]);
    ::close(fd[0]);
    BOOST_TEST(seqmq::test::exit_code(seqmq::test::wait_for_child(squatter, 20s)) == 0);
}
#endif

// Past max_connections a sender is told EUSERS ("too many users"), never EIDRM, and counted;
// those already connected go on.
BOOST_AUTO_TEST_CASE(connection_limit_is_a_true_error) {
    auto a = unique_address("limit");
    seqmq::mailbox_options o;
    o.max_connections = 2;
    auto m = open_mailbox(a, o);
    auto s1 = connect_to(m, a);
    auto s2 = connect_to(m, a);
    auto s3 = connect_to(m, a); // accepted, told why and closed by the stat in connect_to
    auto r = s3.send(1, bytes("third"), seqmq::send_flags::nowait);
    for (int i = 0; r && i < 1000; ++i) {
        std::this_thread::sleep_for(2ms);
        r = s3.send(1, bytes("third"), seqmq::send_flags::nowait);
    }
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(r.error().value() == EUSERS, r.error().message());
    auto st = m.stat();
    BOOST_TEST(st->refused_limit == 1u);
    BOOST_TEST(st->connections == 2u);
    send_ok(s1, 1, "one");
    send_ok(s2, 2, "two");
    auto first = m.receive(selector::any(), receive_flags::none, 5s);
    auto second = m.receive(selector::any(), receive_flags::none, 5s);
    BOOST_TEST_REQUIRE((first && second));
    BOOST_TEST(first->type + second->type == 3);
    BOOST_TEST((m.receive(selector::any(), receive_flags::nowait).error() ==
                std::errc::no_message)); // nothing of the third
}

BOOST_AUTO_TEST_CASE(sender_waits_for_mailbox_to_appear) {
    auto a = unique_address("late");
    std::string got;
    // Opens the mailbox late, then receives. No Boost.Test macro here: it is not thread-safe.
    std::thread owner([&] {
        std::this_thread::sleep_for(100ms);
        auto m = mailbox::open(a);
        if (!m) {
            got = "open: " + m.error().message();
            return;
        }
        auto r = m->receive(selector::any(), receive_flags::none, 5s);
        got = r ? text(r->data) : why(r);
    });
    seqmq::sender_options so;
    so.wait_for_mailbox = 5s;
    auto s = sender::connect(a, so);
    BOOST_TEST_REQUIRE(s.has_value(), why(s));
    auto sent = s->send(1, bytes("late"), seqmq::send_flags::none, 5s);
    owner.join();
    BOOST_TEST(sent.has_value(), why(sent));
    BOOST_TEST(got == "late");
    so.wait_for_mailbox = 30ms;
    BOOST_TEST((sender::connect(unique_address("never"), so).error() == std::errc::timed_out));
}

BOOST_AUTO_TEST_CASE(native_handle_is_readable_when_receive_can_progress) {
    auto a = unique_address("fd");
    auto m = open_mailbox(a);
    int fd = m.native_handle();
    BOOST_TEST_REQUIRE(fd >= 0);
    auto readable = [&] {
        pollfd p{fd, POLLIN, 0};
        return ::poll(&p, 1, 200) == 1;
    };
    BOOST_TEST(!readable());
    auto s = connect_to(m, a);
    send_ok(s, 2, "x");
    BOOST_TEST(readable());
    BOOST_TEST(m.list()->size() == 1u); // moved into the stash: still readable
    BOOST_TEST(readable());
    BOOST_TEST(m.receive().has_value());
    BOOST_TEST(!readable());
}

BOOST_AUTO_TEST_CASE(several_sender_processes_keep_per_sender_order) {
    auto a = unique_address("multi");
    seqmq::mailbox_options o;
    o.capacity = 1 << 20;
    auto m = open_mailbox(a, o);
    constexpr int senders = 4, each = 500;
    std::vector<std::unique_ptr<peer_process>> peers;
    for (int id = 0; id < senders; ++id)
        peers.push_back(std::make_unique<peer_process>(a, id, each, 32, "1,2,3"));
    std::map<int, int> next;
    std::map<long, int> per_type;
    for (int i = 0; i < senders * each; ++i) {
        auto r = m.receive(selector::any(), receive_flags::none, 10s);
        BOOST_TEST_REQUIRE(r.has_value(), "receive " << i << ": " << why(r));
        auto [id, seq] = origin(r->data);
        BOOST_TEST_REQUIRE(seq == next[id], "sender " << id << " out of order");
        ++next[id];
        ++per_type[r->type];
    }
    for (auto& p : peers)
        BOOST_TEST(p->wait() == 0);
    BOOST_TEST(per_type[1] == 4 * 167);
    BOOST_TEST(
        (m.receive(selector::any(), receive_flags::nowait).error() == std::errc::no_message));
}

BOOST_AUTO_TEST_CASE(back_pressure_loses_nothing) {
    auto a = unique_address("pressure");
    seqmq::mailbox_options o;
    o.capacity = 16384;
    o.max_message_size = 1024;
    auto m = open_mailbox(a, o);
    // 2 x 2000 x 512 B = 2 MB: 125 times the capacity, far past the socket buffers too.
    constexpr int senders = 2, each = 2000;
    std::vector<std::unique_ptr<peer_process>> peers;
    for (int id = 0; id < senders; ++id)
        peers.push_back(std::make_unique<peer_process>(a, id, each, 512, "1,2", true));
    std::map<int, int> next;
    std::map<std::pair<int, long>, int> last_seq; // (sender, type) -> last sequence seen
    for (int id = 0; id < senders; ++id)
        last_seq[{id, 1}] = last_seq[{id, 2}] = -1;
    std::size_t most_bytes = 0;
    for (int i = 0; i < senders * each; ++i) {
        if (i % 200 == 0) { // a slow receiver: let the senders run into the limit
            std::this_thread::sleep_for(20ms);
            auto st = m.stat();
            most_bytes = std::max(most_bytes, st->bytes);
            BOOST_TEST_REQUIRE(st->bytes <= o.capacity);
        }
        // Alternate selective and plain receives so the stash is exercised under pressure.
        auto r =
            m.receive(i % 3 ? selector::any() : selector::of_type(2), receive_flags::none, 10s);
        BOOST_TEST_REQUIRE(r.has_value(), "receive " << i << ": " << why(r));
        auto [id, seq] = origin(r->data);
        BOOST_TEST_REQUIRE((id >= 0 && id < senders));
        // Type-2 picks overtake type 1, but each sender's messages of one type keep their order.
        BOOST_TEST_REQUIRE(r->type == long(seq % 2 + 1),
                           "message " << seq << " has the wrong type");
        auto& last = last_seq[{id, r->type}];
        BOOST_TEST_REQUIRE(seq > last, "sender " << id << " type " << r->type << " out of order");
        last = seq;
        ++next[id];
    }
    for (auto& p : peers) {
        BOOST_TEST(p->wait() == 0);
        long blocked = -1;
        std::sscanf(p->output().c_str(), "blocked %ld", &blocked);
        BOOST_TEST(blocked > 0, "the sender never felt back-pressure");
    }
    BOOST_TEST(next[0] == each);
    BOOST_TEST(next[1] == each);
    BOOST_TEST(most_bytes > 0u);
    BOOST_TEST(
        (m.receive(selector::any(), receive_flags::nowait).error() == std::errc::no_message));
}

BOOST_AUTO_TEST_CASE(mailbox_closing_wakes_blocked_senders) {
    auto a = unique_address("closing");
    seqmq::mailbox_options o;
    o.capacity = 8192;
    auto m = std::make_optional(open_mailbox(a, o));
    // Far more than the socket buffer holds: the sender blocks in send.
    peer_process p(a, 0, 1000000, 4096, "1");
    for (int i = 0; i < 200 && m->stat()->bytes < 4096; ++i)
        std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(200ms);
    m.reset();
    BOOST_TEST(p.wait(10s) == 3); // identifier_removed
}

BOOST_AUTO_TEST_CASE(rogue_peers_are_cut_off_and_good_senders_go_on) {
    auto a = unique_address("rogue");
    auto m = open_mailbox(a);
    auto good = connect_to(m, a);
    send_ok(good, 1, "before");

    std::vector<std::vector<std::byte>> garbage = {
        {std::byte{'G'}, std::byte{'E'}, std::byte{'T'}}, // short
        frame(1, 1, "x"),                                 // then see below: bad sequence
        frame(0, 1, "type zero"),
        frame(1, 1, std::string(9000, 'b')), // over max_message_size
        frame(1, 1, "not entries"),          // made a batch below: entries do not fit
    };
    garbage.back()[3] = std::byte{4};
    garbage[1][0] = std::byte{0}; // bad magic
    for (const auto& g : garbage) {
        int fd = raw_connect(m, a);
        BOOST_TEST(::send(fd, g.data(), g.size(), 0) == ssize_t(g.size()));
        send_ok(good, 2, "during");
        BOOST_TEST(m.stat().has_value()); // reads every connection: the rogue is cut here
        auto r = m.receive(selector::any(), receive_flags::none, 2s);
        BOOST_TEST_REQUIRE(r.has_value());
        // The rogue gets the hello, a closing notice, then end of stream.
        std::array<std::byte, 64> in;
        std::vector<ssize_t> got;
        for (int i = 0; i < 3; ++i)
            got.push_back(::recv(fd, in.data(), in.size(), 0));
        BOOST_TEST(got[2] == 0);
        ::close(fd);
    }
    // A rogue that skips a sequence number.
    int fd = raw_connect(m, a);
    auto f1 = frame(1, 1, "one"), f3 = frame(1, 3, "three");
    ::send(fd, f1.data(), f1.size(), 0);
    ::send(fd, f3.data(), f3.size(), 0);
    send_ok(good, 3, "after");
    BOOST_TEST(m.stat().has_value());
    std::vector<std::string> rest;
    for (int i = 0; i < 3; ++i) {
        auto r = m.receive(selector::any(), receive_flags::none, 2s);
        BOOST_TEST_REQUIRE(r.has_value());
        rest.push_back(text(r->data));
    }
    BOOST_TEST((std::find(rest.begin(), rest.end(), "one") != rest.end()));
    BOOST_TEST((std::find(rest.begin(), rest.end(), "after") != rest.end()));
    BOOST_TEST(
        (m.receive(selector::any(), receive_flags::nowait).error() == std::errc::no_message));
    ::close(fd);
    BOOST_TEST(m.stat()->protocol_errors == 6u);
    BOOST_TEST(m.stat()->connections == 1u);
}

BOOST_AUTO_TEST_CASE(oversize_sender_learns_why_it_was_cut) {
    auto a = unique_address("oversize");
    seqmq::mailbox_options o;
    o.max_message_size = 64;
    o.capacity = 640;
    auto m = open_mailbox(a, o);
    seqmq::sender_options so;
    so.max_message_size = 1000; // believes the mailbox takes more than it does
    auto s = sender::connect(a, so);
    BOOST_TEST_REQUIRE(s.has_value());
    if (over_tipc) {
        // TIPC establishes the connection at accept, when the hello is already on its way: the
        // sender always knows the limit before its first message goes.
        BOOST_TEST(m.stat().has_value());
        BOOST_TEST((s->send(1, bytes(std::string(200, 'z'))).error() == std::errc::message_size));
        BOOST_TEST(s->max_message_size() == 64u);
        return;
    }
    // Sent before the mailbox accepted: the mailbox refuses the record and cuts the connection.
    send_ok(*s, 1, std::string(200, 'z'));
    BOOST_TEST(
        (m.receive(selector::any(), receive_flags::nowait).error() == std::errc::no_message));
    std::error_code last;
    for (int i = 0; i < 100 && !last; ++i) {
        auto r = s->send(1, bytes("small"));
        if (!r)
            last = r.error();
        else
            std::this_thread::sleep_for(5ms);
    }
    BOOST_TEST((last == std::errc::message_size), last.message());
    BOOST_TEST(s->max_message_size() == 64u);
}

BOOST_AUTO_TEST_CASE(messages_sent_by_a_process_that_exited_are_not_lost) {
    auto a = unique_address("exited");
    auto m = open_mailbox(a);
    {
        peer_process p(a, 9, 20, 16, "4");
        if (over_tipc) // TIPC connects at accept: serve the listener until the peer is done
            BOOST_TEST(p.wait_serving(m) == 0);
        else // AF_UNIX: nothing read before the peer exits (its close reports ECONNRESET first)
            BOOST_TEST(p.wait() == 0);
    }
    BOOST_TEST(m.list()->size() == 20u);
    for (int i = 0; i < 20; ++i) {
        auto r = m.receive(selector::any(), receive_flags::nowait);
        BOOST_TEST_REQUIRE(r.has_value());
        BOOST_TEST(origin(r->data).second == i);
    }
}

#ifdef SEQMQ_TEST_TIPC
BOOST_AUTO_TEST_CASE(tipc_largest_message_and_limit) {
    auto a = unique_address("max");
    seqmq::mailbox_options o;
    o.max_message_size = 66000 - 24 + 1;
    o.capacity = 1 << 20;
    BOOST_TEST((mailbox::open(a, o).error() == std::errc::invalid_argument));
    o.max_message_size = 66000 - 24;
    auto m = open_mailbox(a, o);
    seqmq::sender_options so;
    so.max_message_size = 66000 - 24;
    auto s = sender::connect(a, so);
    BOOST_TEST_REQUIRE(s.has_value());
    BOOST_TEST(m.stat().has_value()); // accept
    std::string largest(66000 - 24, 'L');
    send_ok(*s, 9, largest);
    BOOST_TEST((s->send(9, bytes(largest + "x")).error() == std::errc::message_size));
    auto r = m.receive(selector::of_type(9), receive_flags::none, 5s);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->data.size() == largest.size());
    so.max_message_size = 66000 - 23;
    BOOST_TEST((sender::connect(a, so).error() == std::errc::invalid_argument));
}

BOOST_AUTO_TEST_CASE(tipc_node_and_cluster_scope) {
    auto node = *address::tipc(0x50000000u + std::uint32_t(::getpid()), 1, seqmq::tipc_scope::node);
    auto m = open_mailbox(node);
    auto s = sender::connect(node);
    BOOST_TEST_REQUIRE(s.has_value(), why(s));
    BOOST_TEST(m.stat().has_value()); // accept
    send_ok(*s, 1, "node scope");
    BOOST_TEST(text(m.receive()->data) == "node scope");
    // A cluster-scope lookup finds a cluster-scope binding on this node too.
    auto cluster = unique_address("cluster");
    auto mc = open_mailbox(cluster);
    auto sc = sender::connect(*address::parse(cluster.to_string() + "/cluster"));
    BOOST_TEST_REQUIRE(sc.has_value(), why(sc));
    BOOST_TEST(mc.stat().has_value()); // accept
    send_ok(*sc, 2, "cluster scope");
    BOOST_TEST(text(mc.receive()->data) == "cluster scope");
}
#endif
