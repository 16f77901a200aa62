// The System V queue model of seqmqd (daemon/model/), in-process: no socket, no daemon. Each
// test drives a hosted_queue, a registry or the permission rules directly and checks the exact
// errno of every call and the exact order of the answers the model gives through its
// completion (recording_completion.hpp).
#define BOOST_TEST_MODULE queue model
#include <boost/test/unit_test.hpp>

#include "daemon/model/credit.hpp"
#include "daemon/model/hosted_queue.hpp"
#include "daemon/model/msqid_allocator.hpp"
#include "daemon/model/permissions.hpp"
#include "daemon/model/registry.hpp"
#include "recording_completion.hpp"

#include "child_wait.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <sched.h>
#include <span>
#include <string>
#include <string_view>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>
#include <vector>

namespace model = seqmq::daemon::model;
using seqmq::selector;
using seqmq::detail::queued_message;
using seqmq::test::recorded_event;
using seqmq::test::recording_completion;

namespace {

using event_log = std::vector<std::string>;

constexpr std::size_t msgmax = 8192;
constexpr std::size_t plenty = std::size_t(1) << 30;

// Sessions, as far as the model cares: distinct addresses.
int alice = 0, bob = 0, carol = 0;

/// A wait of `owner`'s request `request` (also its name in the event log), from process `pid`.
model::waiter waiter_of(std::uint64_t request, const void* owner = &alice, pid_t pid = 0) {
    return {owner, request, 0, pid ? pid : pid_t(1000 + request)};
}

std::vector<std::byte> bytes_of(std::string_view s) {
    std::vector<std::byte> b;
    for (char c : s)
        b.push_back(std::byte(c));
    return b;
}

std::vector<std::byte> filled(std::size_t n) {
    return std::vector<std::byte>(n, std::byte{'x'});
}

std::string text_of(std::span<const std::byte> b) {
    std::string s;
    for (std::byte c : b)
        s += char(c);
    return s;
}

model::ipc_perm default_perm() {
    model::ipc_perm p;
    p.uid = p.cuid = 1000;
    p.gid = p.cgid = 1000;
    p.mode = 0600;
    return p;
}

/// One queue with its completion and memory budget.
struct queue_bench {
    explicit queue_bench(std::size_t capacity = 1024, std::size_t budget_limit = plenty)
        : budget{budget_limit}, q(1, "q", default_perm(), capacity, msgmax, budget, done) {}

    model::outcome send(const model::waiter& from, long type, std::span<const std::byte> data,
                        bool nowait = true, bool may_park = true) {
        const model::batch_entry e{type, data};
        return q.send(from, std::span(&e, 1), nowait, may_park);
    }
    model::outcome send(const model::waiter& from, long type, std::string_view data,
                        bool nowait = true, bool may_park = true) {
        const auto b = bytes_of(data);
        return send(from, type, b, nowait, may_park);
    }
    model::outcome receive(const model::waiter& who, selector which, std::size_t buffer = msgmax,
                           bool noerror = false, bool nowait = true, bool may_park = true) {
        return q.receive(who, which, buffer, noerror, nowait, may_park);
    }
    /// Parks a receive (it must not find a message).
    void park_receive(const model::waiter& who, selector which, std::size_t buffer = msgmax,
                      bool noerror = false) {
        const model::outcome o = receive(who, which, buffer, noerror, false, true);
        BOOST_TEST_REQUIRE(o.parked, "receive #" << who.request << " should have parked");
    }
    /// Parks a send (it must not fit).
    void park_send(const model::waiter& from, long type, std::string_view data) {
        const model::outcome o = send(from, type, data, false, true);
        BOOST_TEST_REQUIRE(o.parked, "send #" << from.request << " should have parked");
    }

    /// The queued messages' arrival numbers, walking messages() oldest first.
    std::vector<std::uint64_t> arrivals() const {
        std::vector<std::uint64_t> a;
        const auto& s = q.messages();
        for (const queued_message* m = s.oldest(); m; m = s.after(m))
            a.push_back(m->arrival);
        return a;
    }
    std::vector<long> types() const {
        std::vector<long> t;
        const auto& s = q.messages();
        for (const queued_message* m = s.oldest(); m; m = s.after(m))
            t.push_back(m->type);
        return t;
    }
    /// The last hand_over recorded.
    const recorded_event& last_hand_over() const {
        for (auto it = done.events().rbegin(); it != done.events().rend(); ++it)
            if (it->what == recorded_event::kind::hand_over)
                return *it;
        static const recorded_event none;
        BOOST_FAIL("no hand_over recorded");
        return none;
    }

    recording_completion done;
    model::memory_budget budget;
    model::hosted_queue q;
};

bool same(model::queue_usage a, model::queue_usage b) {
    return a.bytes == b.bytes && a.messages == b.messages;
}

/// The errno of a registry answer, 0 if it opened a queue.
int error_of(const std::expected<model::hosted_queue*, int>& r) {
    return r ? 0 : r.error();
}

std::string usage_text(model::queue_usage u) {
    return "{" + std::to_string(u.bytes) + " bytes, " + std::to_string(u.messages) + " messages}";
}

} // namespace

// ---------------------------------------------------------------------------------------------
// msgrcv's selection

BOOST_AUTO_TEST_SUITE(selection)

// Queue: types 3 1 2 1 5 2 (arrivals 1..6). Each selector kind picks what ipc/msg.c's find_msg
// picks; the message leaves the queue and nothing else does.
BOOST_AUTO_TEST_CASE(every_selector_kind_takes_the_message_linux_takes) {
    struct row {
        selector which;
        std::uint64_t arrival; // 0: ENOMSG
    } rows[] = {
        {selector::any(), 1},
        {selector::of_type(1), 2},
        {selector::of_type(2), 3},
        {selector::of_type(5), 5},
        {selector::of_type(4), 0},
        {selector::except_type(3), 2},
        {selector::except_type(1), 1},
        {selector::lowest_up_to(5), 2},
        {selector::lowest_up_to(2), 2},
        {selector::lowest_up_to(0), 1}, // msgtyp 0: any
        {{-4, false}, 2},
        {{-3, true}, 2}, // MSG_EXCEPT is ignored when msgtyp <= 0
        {{0, true}, 1},
        {{LONG_MIN, false}, 2},
    };
    const long types[] = {3, 1, 2, 1, 5, 2};
    for (const row& r : rows) {
        queue_bench b;
        for (std::size_t i = 0; i < 6; ++i)
            BOOST_TEST_REQUIRE(
                b.send(waiter_of(100 + i), types[i], "a" + std::to_string(i + 1)).queued == 1u);
        const model::outcome o = b.receive(waiter_of(1), r.which);
        const std::string sel = std::to_string(r.which.type) + (r.which.except ? "/except" : "");
        BOOST_TEST(!o.parked, sel);
        if (r.arrival == 0) {
            BOOST_TEST(o.error == ENOMSG, sel);
            BOOST_TEST(b.done.take_log().empty(), sel);
            BOOST_TEST(b.q.status().count == 6u, sel);
            continue;
        }
        BOOST_TEST(o.error == 0, sel);
        const long t = types[r.arrival - 1];
        BOOST_TEST(b.done.events().size() == 1u, sel);
        BOOST_TEST(text_of(b.last_hand_over().data) == "a" + std::to_string(r.arrival), sel);
        BOOST_TEST(b.done.take_log() ==
                       (event_log{"hand_over #1 type " + std::to_string(t) + " arrival " +
                                  std::to_string(r.arrival) + " bytes 2 buffer 8192 at once"}),
                   sel);
        std::vector<std::uint64_t> left;
        for (std::uint64_t a = 1; a <= 6; ++a)
            if (a != r.arrival)
                left.push_back(a);
        BOOST_TEST(b.arrivals() == left, boost::test_tools::per_element());
    }
}

// Types that need the whole of a long, and LONG_MIN (|LONG_MIN| does not fit a long: it admits
// every type), taken one after another.
BOOST_AUTO_TEST_CASE(lowest_type_and_long_min_over_wide_types) {
    queue_bench b;
    const long types[] = {LONG_MAX, 7, 3, 7};
    for (long t : types)
        BOOST_TEST_REQUIRE(b.send(waiter_of(100), t, "").queued == 1u);
    struct step {
        selector which;
        int error;
        std::uint64_t arrival;
    } steps[] = {
        {{LONG_MIN, false}, 0, 3},
        {selector::lowest_up_to(6), ENOMSG, 0},
        {selector::lowest_up_to(LONG_MAX - 1), 0, 2},
        {selector::except_type(7), 0, 1},
        {{LONG_MIN, true}, 0, 4},
        {selector::any(), ENOMSG, 0},
    };
    std::uint64_t request = 1;
    for (const step& s : steps) {
        const model::outcome o = b.receive(waiter_of(request), s.which);
        BOOST_TEST(o.error == s.error, "step " << request);
        if (s.arrival) {
            BOOST_TEST_REQUIRE(b.done.events().size() == 1u, "step " << request);
            BOOST_TEST(b.last_hand_over().arrival == s.arrival, "step " << request);
        } else {
            BOOST_TEST(b.done.events().empty(), "step " << request);
        }
        b.done.clear();
        ++request;
    }
}

// E2BIG: the message stays where it was, first in line, for the next receive to meet.
BOOST_AUTO_TEST_CASE(e2big_leaves_the_message_first_in_line) {
    queue_bench b;
    b.send(waiter_of(100), 1, "0123456789");
    b.send(waiter_of(101), 1, "ab");
    BOOST_TEST(b.receive(waiter_of(1), selector::any(), 9).error == E2BIG);
    BOOST_TEST(b.receive(waiter_of(2), selector::of_type(1), 9).error == E2BIG);
    BOOST_TEST(b.receive(waiter_of(3), selector::lowest_up_to(1), 0).error == E2BIG);
    BOOST_TEST(b.done.take_log().empty());
    BOOST_TEST(b.q.status().count == 2u);
    BOOST_TEST(b.q.status().bytes == 12u);
    BOOST_TEST(b.q.status().last_receive_pid == 0);
    BOOST_TEST(b.arrivals() == (std::vector<std::uint64_t>{1, 2}),
               boost::test_tools::per_element());
    BOOST_TEST(b.q.find(selector::any())->arrival == 1u);
    BOOST_TEST(b.receive(waiter_of(4), selector::any(), 10).error == 0);
    BOOST_TEST(b.done.take_log() ==
                   (event_log{"hand_over #4 type 1 arrival 1 bytes 10 buffer 10 at once"}),
               boost::test_tools::per_element());
}

// MSG_NOERROR: the message is taken; the completion sees a buffer smaller than the message (it
// cuts the copy), and the whole message leaves the queue.
BOOST_AUTO_TEST_CASE(noerror_takes_a_message_longer_than_the_buffer) {
    queue_bench b;
    b.send(waiter_of(100), 4, "0123456789");
    b.send(waiter_of(101), 4, "abc");
    BOOST_TEST(b.receive(waiter_of(1), selector::any(), 4, true).error == 0);
    BOOST_TEST(b.receive(waiter_of(2), selector::any(), 0, true).error == 0);
    const auto& ev = b.done.events();
    BOOST_TEST_REQUIRE(ev.size() == 2u);
    BOOST_TEST(text_of(ev[0].data) == "0123456789");
    BOOST_TEST(ev[0].buffer < ev[0].data.size());
    BOOST_TEST(b.done.take_log() == (event_log{"hand_over #1 type 4 arrival 1 bytes 10 buffer 4 "
                                               "at once",
                                               "hand_over #2 type 4 arrival 2 bytes 3 buffer 0 "
                                               "at once"}),
               boost::test_tools::per_element());
    BOOST_TEST(b.q.status().count == 0u);
    BOOST_TEST(b.q.status().bytes == 0u);
    // In transit, whole: the room of the whole message until it is acknowledged.
    BOOST_TEST(same(b.q.used(), {13, 2}), usage_text(b.q.used()));
    b.q.acknowledge({13, 2});
    BOOST_TEST(same(b.q.used(), {0, 0}), usage_text(b.q.used()));
}

BOOST_AUTO_TEST_CASE(enomsg_with_nowait_and_a_wait_without) {
    queue_bench b;
    BOOST_TEST(b.receive(waiter_of(1), selector::any()).error == ENOMSG);
    b.send(waiter_of(100), 2, "x");
    BOOST_TEST(b.receive(waiter_of(2), selector::of_type(1)).error == ENOMSG);
    BOOST_TEST(b.receive(waiter_of(3), selector::except_type(2)).error == ENOMSG);
    BOOST_TEST(b.receive(waiter_of(4), selector::lowest_up_to(1)).error == ENOMSG);
    BOOST_TEST(b.q.status().waiting_receivers == 0u);
    BOOST_TEST(b.q.status().count == 1u);
    const model::outcome o = b.receive(waiter_of(5), selector::of_type(1), msgmax, false, false);
    BOOST_TEST(o.parked);
    BOOST_TEST(o.error == 0);
    BOOST_TEST(b.q.status().waiting_receivers == 1u);
    BOOST_TEST(b.done.take_log().empty());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// msg_fits_inqueue: capacity bounds bytes and messages

BOOST_AUTO_TEST_SUITE(capacity)

BOOST_AUTO_TEST_CASE(capacity_bounds_the_bytes) {
    queue_bench b(10);
    BOOST_TEST(b.send(waiter_of(1), 1, filled(6)).queued == 1u);
    BOOST_TEST(b.send(waiter_of(2), 1, filled(5)).error == EAGAIN);
    BOOST_TEST(b.send(waiter_of(3), 1, filled(4)).queued == 1u);
    BOOST_TEST(b.send(waiter_of(4), 1, filled(1)).error == EAGAIN);
    BOOST_TEST(b.send(waiter_of(5), 1, filled(0)).queued == 1u);
    BOOST_TEST(b.q.status().count == 3u);
    BOOST_TEST(b.q.status().bytes == 10u);
    BOOST_TEST(b.done.take_log().empty()); // no credit is held: nothing to ask back
}

// msg_qbytes also bounds the number of messages: capacity 3 holds 3 zero-length messages.
BOOST_AUTO_TEST_CASE(capacity_bounds_the_message_count) {
    queue_bench b(3);
    for (std::uint64_t i = 1; i <= 3; ++i)
        BOOST_TEST(b.send(waiter_of(i), 1, "").queued == 1u, "send " << i);
    const model::outcome o = b.send(waiter_of(4), 1, "");
    BOOST_TEST(o.error == EAGAIN);
    BOOST_TEST(o.queued == 0u);
    BOOST_TEST(b.q.status().count == 3u);
    BOOST_TEST(b.q.status().bytes == 0u);
}

// Taken but not acknowledged: still counted, so a send gets EAGAIN or waits; acknowledge()
// frees the room and admits the parked sender.
BOOST_AUTO_TEST_CASE(messages_in_transit_count_until_acknowledged) {
    queue_bench b(3);
    for (long t = 1; t <= 3; ++t)
        b.send(waiter_of(100), t, "");
    BOOST_TEST(b.receive(waiter_of(1), selector::any()).error == 0);
    BOOST_TEST(b.q.status().count == 2u);
    BOOST_TEST(same(b.q.used(), {0, 3}), usage_text(b.q.used()));
    BOOST_TEST(b.send(waiter_of(2), 4, "").error == EAGAIN);
    b.park_send(waiter_of(3), 4, "");
    BOOST_TEST(b.done.take_log() ==
                   (event_log{"hand_over #1 type 1 arrival 1 bytes 0 buffer 8192 at once"}),
               boost::test_tools::per_element());
    b.q.acknowledge({0, 1});
    BOOST_TEST(b.done.take_log() == (event_log{"sent #3"}), boost::test_tools::per_element());
    BOOST_TEST(b.q.status().count == 3u);
    BOOST_TEST(b.q.status().waiting_senders == 0u);
    BOOST_TEST(b.types() == (std::vector<long>{2, 3, 4}), boost::test_tools::per_element());

    // take() (receive_many's path) holds the room the same way; admit_senders() does not
    // admit anyone while it is in transit.
    b.q.take(*b.q.find(selector::of_type(3)), 2000);
    b.q.admit_senders();
    BOOST_TEST(b.send(waiter_of(4), 5, "").error == EAGAIN);
    BOOST_TEST(b.q.status().last_receive_pid == 2000);
    b.q.acknowledge({0, 1});
    BOOST_TEST(b.send(waiter_of(5), 5, "").queued == 1u);
    BOOST_TEST(b.types() == (std::vector<long>{2, 4, 5}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bytes_in_transit_count_until_acknowledged) {
    queue_bench b(10);
    b.send(waiter_of(100), 1, filled(10));
    BOOST_TEST(b.receive(waiter_of(1), selector::any()).error == 0);
    BOOST_TEST(b.q.status().bytes == 0u);
    BOOST_TEST(b.send(waiter_of(2), 1, filled(1)).error == EAGAIN);
    b.q.acknowledge({10, 1});
    BOOST_TEST(b.send(waiter_of(3), 1, filled(10)).queued == 1u);
}

BOOST_AUTO_TEST_CASE(enobufs_when_it_may_not_park) {
    queue_bench b(1);
    BOOST_TEST(b.receive(waiter_of(1), selector::any(), msgmax, false, false, false).error ==
               ENOBUFS);
    BOOST_TEST(b.receive(waiter_of(2), selector::any(), msgmax, false, true, false).error ==
               ENOMSG); // IPC_NOWAIT first
    BOOST_TEST(b.send(waiter_of(3), 1, "").queued == 1u);
    BOOST_TEST(b.send(waiter_of(4), 1, "", false, false).error == ENOBUFS);
    BOOST_TEST(b.send(waiter_of(5), 1, "", true, false).error == EAGAIN);
    BOOST_TEST(b.q.status().waiting_receivers == 0u);
    BOOST_TEST(b.q.status().waiting_senders == 0u);
    BOOST_TEST(b.done.take_log().empty());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// Waiting receivers: pipelined_send

BOOST_AUTO_TEST_SUITE(waiting_receivers)

BOOST_AUTO_TEST_CASE(a_send_goes_to_the_longest_waiting_matching_receiver) {
    queue_bench b;
    b.park_receive(waiter_of(1), selector::of_type(2));
    b.park_receive(waiter_of(2), selector::any());
    b.park_receive(waiter_of(3), selector::any());
    BOOST_TEST(b.send(waiter_of(10, &bob, 500), 1, "hi").queued == 1u);
    BOOST_TEST(b.done.take_log() ==
                   (event_log{"hand_over #2 type 1 arrival 1 bytes 2 buffer 8192 parked"}),
               boost::test_tools::per_element());
    BOOST_TEST(b.q.status().last_receive_pid == 1002);
    BOOST_TEST(b.q.status().last_send_pid == 500);
    BOOST_TEST(b.send(waiter_of(11), 2, "hi").queued == 1u);
    BOOST_TEST(b.send(waiter_of(12), 3, "hi").queued == 1u);
    BOOST_TEST(b.done.take_log() ==
                   (event_log{"hand_over #1 type 2 arrival 2 bytes 2 buffer 8192 parked",
                              "hand_over #3 type 3 arrival 3 bytes 2 buffer 8192 parked"}),
               boost::test_tools::per_element());
    BOOST_TEST(b.q.status().waiting_receivers == 0u);
    BOOST_TEST(b.q.status().count == 0u);
    BOOST_TEST(same(b.q.used(), {6, 3}), usage_text(b.q.used())); // in transit
    BOOST_TEST(b.send(waiter_of(13), 3, "hi").queued == 1u);
    BOOST_TEST(b.done.take_log().empty());
    BOOST_TEST(b.q.status().count == 1u);
}

// A waiting receiver whose buffer is too small (without MSG_NOERROR) is woken with E2BIG and
// the message moves on, as in Linux; a receiver that does not want the message is left alone.
BOOST_AUTO_TEST_CASE(a_waiting_receiver_too_small_gets_e2big_and_the_message_moves_on) {
    queue_bench b;
    b.park_receive(waiter_of(1), selector::of_type(9), 0);
    b.park_receive(waiter_of(2), selector::any(), 2);
    b.park_receive(waiter_of(3), selector::any(), 2, true);
    b.park_receive(waiter_of(4), selector::any(), 100);
    b.send(waiter_of(10), 1, "12345");
    BOOST_TEST(
        b.done.take_log() ==
            (event_log{"fail #2 E2BIG", "hand_over #3 type 1 arrival 1 bytes 5 buffer 2 parked"}),
        boost::test_tools::per_element());
    // Every matching receiver too small: they all learn E2BIG, the message is queued.
    b.park_receive(waiter_of(5), selector::lowest_up_to(3), 4);
    b.send(waiter_of(11), 1, filled(200));
    BOOST_TEST(b.done.take_log() == (event_log{"fail #4 E2BIG", "fail #5 E2BIG"}),
               boost::test_tools::per_element());
    BOOST_TEST(b.q.status().count == 1u);
    BOOST_TEST(b.q.status().waiting_receivers == 1u); // #1 still waits for type 9
    BOOST_TEST(b.q.status().last_receive_pid == 1003);
}

// A receiver that went away (hand_over answers false): the message goes on to the next
// receiver, or stays queued; nothing counts as in transit for it.
BOOST_AUTO_TEST_CASE(a_refused_hand_over_passes_the_message_on) {
    queue_bench b;
    b.park_receive(waiter_of(1), selector::any());
    b.park_receive(waiter_of(2), selector::any());
    b.done.refuse(waiter_of(1));
    b.send(waiter_of(10), 1, "ab");
    BOOST_TEST(b.done.take_log() ==
                   (event_log{"hand_over #1 type 1 arrival 1 bytes 2 buffer 8192 parked, refused",
                              "hand_over #2 type 1 arrival 1 bytes 2 buffer 8192 parked"}),
               boost::test_tools::per_element());
    BOOST_TEST(b.q.status().waiting_receivers == 0u);
    BOOST_TEST(b.q.status().count == 0u);

    b.park_receive(waiter_of(3), selector::any());
    b.done.refuse(waiter_of(3));
    b.send(waiter_of(11), 2, "cd");
    BOOST_TEST(b.done.take_log() ==
                   (event_log{"hand_over #3 type 2 arrival 2 bytes 2 buffer 8192 parked, refused"}),
               boost::test_tools::per_element());
    BOOST_TEST(b.q.status().waiting_receivers == 0u); // its wait ended anyway
    BOOST_TEST(b.arrivals() == (std::vector<std::uint64_t>{2}), boost::test_tools::per_element());
    BOOST_TEST(same(b.q.used(), {4, 2}), usage_text(b.q.used())); // #2's in transit + queued
    BOOST_TEST(b.q.status().last_receive_pid == 1002);

    // A receive answered at once, refused: the message stays queued.
    b.done.refuse(waiter_of(4));
    const model::outcome o = b.receive(waiter_of(4), selector::any());
    BOOST_TEST(o.error == 0);
    BOOST_TEST(!o.parked);
    BOOST_TEST(
        b.done.take_log() ==
            (event_log{"hand_over #4 type 2 arrival 2 bytes 2 buffer 8192 at once, refused"}),
        boost::test_tools::per_element());
    BOOST_TEST(b.arrivals() == (std::vector<std::uint64_t>{2}), boost::test_tools::per_element());
    BOOST_TEST(same(b.q.used(), {4, 2}), usage_text(b.q.used()));
    BOOST_TEST(b.receive(waiter_of(5), selector::any()).error == 0);
    BOOST_TEST(b.last_hand_over().arrival == 2u);
    BOOST_TEST(b.q.status().count == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// Waiting senders

BOOST_AUTO_TEST_SUITE(waiting_senders)

// Room appears: the parked senders whose message fits go in, oldest first, each answered by
// completion::sent (one that does not fit stays, as ss_wakeup leaves it).
BOOST_AUTO_TEST_CASE(parked_senders_are_admitted_in_order_as_room_appears) {
    queue_bench b(10);
    b.send(waiter_of(100), 1, filled(10));
    b.park_send(waiter_of(11), 2, std::string(6, 'a'));
    b.park_send(waiter_of(12), 3, std::string(8, 'b'));
    b.park_send(waiter_of(13), 4, std::string(4, 'c'));
    BOOST_TEST(b.q.status().waiting_senders == 3u);
    BOOST_TEST(b.done.take_log().empty());
    BOOST_TEST(b.receive(waiter_of(1), selector::any()).error == 0);
    BOOST_TEST(b.done.take_log() ==
                   (event_log{"hand_over #1 type 1 arrival 1 bytes 10 buffer 8192 at once"}),
               boost::test_tools::per_element());
    b.q.acknowledge({10, 1});
    BOOST_TEST(b.done.take_log() == (event_log{"sent #11", "sent #13"}),
               boost::test_tools::per_element());
    BOOST_TEST(b.types() == (std::vector<long>{2, 4}), boost::test_tools::per_element());
    BOOST_TEST(b.q.status().waiting_senders == 1u);
    BOOST_TEST(b.q.status().last_send_pid == 1013);

    BOOST_TEST(b.receive(waiter_of(2), selector::of_type(2)).error == 0);
    b.q.acknowledge({6, 1});
    BOOST_TEST(b.done.take_log() ==
                   (event_log{"hand_over #2 type 2 arrival 2 bytes 6 buffer 8192 at once"}),
               boost::test_tools::per_element()); // 4 + 8 > 10: #12 still waits
    BOOST_TEST(b.receive(waiter_of(3), selector::any()).error == 0);
    b.q.acknowledge({4, 1});
    BOOST_TEST(
        b.done.take_log() ==
            (event_log{"hand_over #3 type 4 arrival 3 bytes 4 buffer 8192 at once", "sent #12"}),
        boost::test_tools::per_element());
    BOOST_TEST(b.types() == (std::vector<long>{3}), boost::test_tools::per_element());
    BOOST_TEST(b.arrivals() == (std::vector<std::uint64_t>{4}), boost::test_tools::per_element());
}

// An admitted sender's message goes straight to a receiver waiting for it.
BOOST_AUTO_TEST_CASE(an_admitted_send_is_pipelined_to_a_waiting_receiver) {
    queue_bench b(2);
    b.park_receive(waiter_of(20), selector::of_type(9));
    b.send(waiter_of(100), 1, "");
    b.send(waiter_of(101), 1, "");
    b.park_send(waiter_of(21), 9, "x");
    BOOST_TEST(b.receive(waiter_of(22), selector::any()).error == 0);
    b.q.acknowledge({0, 1});
    BOOST_TEST(
        b.done.take_log() ==
            (event_log{"hand_over #22 type 1 arrival 1 bytes 0 buffer 8192 at once",
                       "hand_over #20 type 9 arrival 3 bytes 1 buffer 8192 parked", "sent #21"}),
        boost::test_tools::per_element());
    BOOST_TEST(b.arrivals() == (std::vector<std::uint64_t>{2}), boost::test_tools::per_element());
    BOOST_TEST(same(b.q.used(), {1, 2}), usage_text(b.q.used()));
}

// IPC_SET with a larger msg_qbytes admits the senders that now fit; credit granted under the
// old limits is asked back.
BOOST_AUTO_TEST_CASE(a_larger_capacity_admits_parked_senders) {
    queue_bench b(1);
    b.send(waiter_of(100), 1, "a");
    b.park_send(waiter_of(2), 1, "b");
    model::ipc_perm p = default_perm();
    p.mode = 0640;
    b.q.set(p, 2);
    BOOST_TEST(b.done.take_log() == (event_log{"sent #2"}), boost::test_tools::per_element());
    BOOST_TEST(b.q.capacity() == 2u);
    BOOST_TEST(b.q.perm().mode == 0640u);
    b.q.reserve({0, 0});
    b.q.set(p, 4);
    BOOST_TEST(b.done.take_log().empty()); // no credit held
    b.q.reserve({1, 1});
    b.q.set(p, 8);
    BOOST_TEST(b.done.take_log() == (event_log{"credit_wanted q1"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// Ending waits: IPC_RMID, cancel, a client gone

BOOST_AUTO_TEST_SUITE(ending_waits)

BOOST_AUTO_TEST_CASE(remove_gives_eidrm_to_every_waiter) {
    queue_bench b(2);
    b.park_receive(waiter_of(1), selector::of_type(9));
    b.park_receive(waiter_of(2, &bob), selector::except_type(1));
    b.send(waiter_of(100), 1, "a");
    b.send(waiter_of(101), 1, "b");
    b.park_send(waiter_of(3), 1, "c");
    b.park_send(waiter_of(4, &bob), 2, "");
    BOOST_TEST(b.budget.used == model::memory_budget::cost({2, 2}));
    b.q.remove();
    BOOST_TEST(b.done.take_log() ==
                   (event_log{"fail #1 EIDRM", "fail #2 EIDRM", "fail #3 EIDRM", "fail #4 EIDRM"}),
               boost::test_tools::per_element());
    const model::queue_status s = b.q.status();
    BOOST_TEST(s.count == 0u);
    BOOST_TEST(s.bytes == 0u);
    BOOST_TEST(s.waiting_receivers == 0u);
    BOOST_TEST(s.waiting_senders == 0u);
    BOOST_TEST(b.budget.used == 0u);
    BOOST_TEST(!b.q.cancel(&alice, 1)); // nobody waits any more
}

BOOST_AUTO_TEST_CASE(cancel_gives_ecanceled_and_false_for_an_unknown_wait) {
    queue_bench b(1);
    b.park_receive(waiter_of(1), selector::of_type(9));
    b.send(waiter_of(100), 1, "");
    b.park_send(waiter_of(2), 1, "");
    BOOST_TEST(!b.q.cancel(&bob, 1)); // the same request number, another session
    BOOST_TEST(!b.q.cancel(&alice, 99));
    BOOST_TEST(b.done.take_log().empty());
    BOOST_TEST(b.q.cancel(&alice, 1));
    BOOST_TEST(b.done.take_log() == (event_log{"fail #1 ECANCELED"}),
               boost::test_tools::per_element());
    BOOST_TEST(!b.q.cancel(&alice, 1));
    BOOST_TEST(b.q.cancel(&alice, 2));
    BOOST_TEST(b.done.take_log() == (event_log{"fail #2 ECANCELED"}),
               boost::test_tools::per_element());
    BOOST_TEST(b.q.status().waiting_receivers == 0u);
    BOOST_TEST(b.q.status().waiting_senders == 0u);
    BOOST_TEST(b.receive(waiter_of(3), selector::any()).error == 0);
    b.q.acknowledge({0, 1});
    BOOST_TEST(b.send(waiter_of(101), 9, "").queued == 1u);
    BOOST_TEST(b.q.status().count == 1u); // #1 no longer takes type 9
    BOOST_TEST(b.done.take_log() ==
                   (event_log{"hand_over #3 type 1 arrival 1 bytes 0 buffer 8192 at once"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(forget_drops_an_owners_waits_silently) {
    queue_bench b(1);
    b.park_receive(waiter_of(1, &alice), selector::of_type(9));
    b.park_receive(waiter_of(2, &bob), selector::of_type(9));
    b.send(waiter_of(100, &carol), 1, "");
    b.park_send(waiter_of(3, &alice), 9, "");
    b.park_send(waiter_of(4, &bob), 9, "");
    b.q.forget(&alice);
    BOOST_TEST(b.done.take_log().empty());
    BOOST_TEST(b.q.status().waiting_receivers == 1u);
    BOOST_TEST(b.q.status().waiting_senders == 1u);
    BOOST_TEST(b.receive(waiter_of(5, &carol), selector::any()).error == 0);
    b.q.acknowledge({0, 1});
    BOOST_TEST(
        b.done.take_log() ==
            (event_log{"hand_over #5 type 1 arrival 1 bytes 0 buffer 8192 at once",
                       "hand_over #2 type 9 arrival 2 bytes 0 buffer 8192 parked", "sent #4"}),
        boost::test_tools::per_element());
    BOOST_TEST(!b.q.cancel(&alice, 1));
    BOOST_TEST(!b.q.cancel(&alice, 3));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// put_back: a receiver went away holding a message

BOOST_AUTO_TEST_SUITE(put_back)

BOOST_AUTO_TEST_CASE(a_message_put_back_returns_to_its_arrival_place) {
    queue_bench b;
    b.send(waiter_of(100, &bob, 501), 1, "m1");
    b.send(waiter_of(101, &bob, 502), 2, "m2");
    b.send(waiter_of(102, &bob, 503), 3, "m3");
    auto take = [&](std::uint64_t request, selector which) {
        BOOST_TEST_REQUIRE(b.receive(waiter_of(request), which).error == 0);
        return b.last_hand_over();
    };
    auto view = [](const recorded_event& e) {
        return model::message_view{e.type, e.arrival, e.sender, e.data};
    };
    const recorded_event first = take(1, selector::any());
    const recorded_event third = take(2, selector::of_type(3));
    BOOST_TEST(b.arrivals() == (std::vector<std::uint64_t>{2}), boost::test_tools::per_element());
    b.q.put_back(view(third));
    BOOST_TEST(b.arrivals() == (std::vector<std::uint64_t>{2, 3}),
               boost::test_tools::per_element());
    b.q.put_back(view(first));
    BOOST_TEST(b.arrivals() == (std::vector<std::uint64_t>{1, 2, 3}),
               boost::test_tools::per_element());
    BOOST_TEST(b.types() == (std::vector<long>{1, 2, 3}), boost::test_tools::per_element());
    BOOST_TEST(same(b.q.used(), {6, 3}), usage_text(b.q.used())); // no longer in transit
    BOOST_TEST(b.q.status().bytes == 6u);
    const queued_message* m = b.q.find(selector::any());
    BOOST_TEST_REQUIRE(m);
    BOOST_TEST(m->arrival == 1u);
    BOOST_TEST(m->sender_pid == 501);
    BOOST_TEST(text_of(m->payload()) == "m1");
    BOOST_TEST(b.q.find(selector::lowest_up_to(5))->arrival == 1u);

    // The next send is newer than every message put back.
    b.send(waiter_of(103), 4, "m4");
    BOOST_TEST(b.arrivals() == (std::vector<std::uint64_t>{1, 2, 3, 4}),
               boost::test_tools::per_element());
    // From the middle.
    const recorded_event second = take(3, selector::of_type(2));
    BOOST_TEST(b.arrivals() == (std::vector<std::uint64_t>{1, 3, 4}),
               boost::test_tools::per_element());
    b.q.put_back(view(second));
    BOOST_TEST(b.arrivals() == (std::vector<std::uint64_t>{1, 2, 3, 4}),
               boost::test_tools::per_element());
    BOOST_TEST(b.q.find(selector::except_type(1))->arrival == 2u);
    b.done.clear();

    // To a receiver waiting for it, rather than to the queue.
    const recorded_event again = take(4, selector::of_type(2));
    b.done.clear();
    b.park_receive(waiter_of(5), selector::of_type(2));
    b.q.put_back(view(again));
    BOOST_TEST(b.done.take_log() ==
                   (event_log{"hand_over #5 type 2 arrival 2 bytes 2 buffer 8192 parked"}),
               boost::test_tools::per_element());
    BOOST_TEST(b.arrivals() == (std::vector<std::uint64_t>{1, 3, 4}),
               boost::test_tools::per_element());
    BOOST_TEST(b.q.status().waiting_receivers == 0u);
    BOOST_TEST(same(b.q.used(), {8, 4}), usage_text(b.q.used()));

    // A waiting receiver too small for it: E2BIG, and the message goes back to its place.
    b.park_receive(waiter_of(6), selector::of_type(2), 1);
    b.q.put_back(view(again));
    BOOST_TEST(b.done.take_log() == (event_log{"fail #6 E2BIG"}), boost::test_tools::per_element());
    BOOST_TEST(b.arrivals() == (std::vector<std::uint64_t>{1, 2, 3, 4}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// Memory and credit

BOOST_AUTO_TEST_SUITE(memory_and_credit)

BOOST_AUTO_TEST_CASE(a_send_beyond_the_memory_budget_is_enomem) {
    const std::size_t limit = model::memory_budget::cost({100, 2});
    queue_bench b(1024, limit);
    BOOST_TEST(b.send(waiter_of(1), 1, filled(50)).queued == 1u);
    BOOST_TEST(b.send(waiter_of(2), 1, filled(50)).queued == 1u);
    BOOST_TEST(b.budget.used == limit);
    BOOST_TEST(b.send(waiter_of(3), 1, "").error == ENOMEM);
    BOOST_TEST(b.send(waiter_of(4), 1, "", false).error == ENOMEM); // not a wait
    BOOST_TEST(b.q.status().waiting_senders == 0u);
    // The budget is the daemon's: another queue meets it too.
    model::hosted_queue other(2, "other", default_perm(), 1024, msgmax, b.budget, b.done);
    const model::batch_entry e{1, {}};
    BOOST_TEST(other.send(waiter_of(5), std::span(&e, 1), true, true).error == ENOMEM);
    BOOST_TEST(b.done.take_log().empty());

    BOOST_TEST(b.receive(waiter_of(6), selector::any()).error == 0);
    BOOST_TEST(b.send(waiter_of(7), 1, "").error == ENOMEM); // in transit: still charged
    b.q.acknowledge({50, 1});
    BOOST_TEST(b.budget.used == model::memory_budget::cost({50, 1}));
    BOOST_TEST(b.send(waiter_of(8), 1, filled(50)).queued == 1u);
    BOOST_TEST(b.receive(waiter_of(9), selector::any()).error == 0);
    BOOST_TEST(b.receive(waiter_of(10), selector::any()).error == 0);
    b.q.acknowledge({100, 2});
    BOOST_TEST(b.budget.used == 0u);
}

// A sender parked because its queue was full, whose message then fits the queue but not the
// daemon-wide budget (another queue holds the memory), must not be left waiting once that memory
// is freed: either admission answers it (ENOMEM, as a send beyond the budget is) or freed memory
// admits it. Nothing may leave it parked while its message fits both the queue and the budget.
BOOST_AUTO_TEST_CASE(a_sender_parked_behind_the_memory_budget_is_not_forgotten) {
    const std::size_t limit =
        model::memory_budget::cost({5, 1}) + model::memory_budget::cost({8, 1});
    queue_bench a(10, limit);
    model::hosted_queue other(2, "other", default_perm(), 100, msgmax, a.budget, a.done);
    BOOST_TEST_REQUIRE(a.send(waiter_of(1), 1, filled(5)).queued == 1u);
    const auto eight = filled(8);
    const model::batch_entry e{1, eight};
    BOOST_TEST_REQUIRE(other.send(waiter_of(2), std::span(&e, 1), true, true).queued == 1u);
    a.park_send(waiter_of(3), 1, std::string(10, 'x')); // 5 + 10 > 10
    BOOST_TEST_REQUIRE(a.receive(waiter_of(4), selector::any()).error == 0);
    a.q.acknowledge({5, 1}); // the queue has room for #3 now; the budget has not (8 + 10 > 13)
    BOOST_TEST_REQUIRE(
        other.receive(waiter_of(5), selector::any(), msgmax, false, true, true).error == 0);
    other.acknowledge({8, 1}); // now it has
    BOOST_TEST_REQUIRE(a.budget.admits({10, 1}));
    std::string events;
    for (const recorded_event& ev : a.done.events())
        events += "[" + seqmq::test::describe(ev) + "] ";
    BOOST_TEST(a.q.status().waiting_senders == 0u,
               "send #3 still waits, though its 10 bytes fit the queue ("
                   << usage_text(a.q.used()) << " used of 10) and the memory budget ("
                   << a.budget.used << " of " << a.budget.limit << " used); events: " << events);
}

// Queued, in transit and reserved: all given back to the budget when the queue goes.
BOOST_AUTO_TEST_CASE(a_destroyed_queue_gives_its_memory_back) {
    recording_completion done;
    model::memory_budget budget{plenty};
    {
        model::hosted_queue q(7, "", default_perm(), 1024, msgmax, budget, done);
        const auto data = filled(30);
        const model::batch_entry e[] = {{1, data}, {2, data}};
        BOOST_TEST(q.send(waiter_of(1), e, true, true).queued == 2u);
        q.take(*q.find(selector::any()), 1);
        q.reserve({10, 3});
        BOOST_TEST(budget.used == model::memory_budget::cost({70, 5}));
    }
    BOOST_TEST(budget.used == 0u);
}

// Credit clients hold counts as used: a send that fits only without it asks for the credit
// back (credit_wanted) and meets EAGAIN, or waits; one that would not fit anyway asks nothing.
BOOST_AUTO_TEST_CASE(reserved_credit_counts_as_used) {
    queue_bench b(10);
    b.q.reserve({6, 1});
    BOOST_TEST(b.budget.used == model::memory_budget::cost({6, 1}));
    BOOST_TEST(b.send(waiter_of(1), 1, filled(5)).error == EAGAIN);
    BOOST_TEST(b.done.take_log() == (event_log{"credit_wanted q1"}),
               boost::test_tools::per_element());
    BOOST_TEST(b.send(waiter_of(2), 1, filled(4)).queued == 1u);
    BOOST_TEST(b.send(waiter_of(3), 1, filled(7)).error == EAGAIN); // 4 + 7 > 10 even without
    BOOST_TEST(b.done.take_log().empty());
    b.park_send(waiter_of(4), 1, "a");
    BOOST_TEST(b.done.take_log() == (event_log{"credit_wanted q1"}),
               boost::test_tools::per_element());
    b.q.unreserve({6, 1});
    BOOST_TEST(b.budget.used == model::memory_budget::cost({4, 1}));
    b.q.admit_senders();
    BOOST_TEST(b.done.take_log() == (event_log{"sent #4"}), boost::test_tools::per_element());

    // A send on credit goes in without a capacity check, and its room is no longer reserved.
    b.q.reserve({3, 1});
    b.q.send_reserved(777, 5, bytes_of("abc"));
    BOOST_TEST(same(b.q.reserved(), {0, 0}), usage_text(b.q.reserved()));
    BOOST_TEST(b.types() == (std::vector<long>{1, 1, 5}), boost::test_tools::per_element());
    BOOST_TEST(b.q.status().last_send_pid == 777);
    BOOST_TEST(b.budget.used == model::memory_budget::cost({8, 3}));
}

BOOST_AUTO_TEST_CASE(reserved_messages_count_against_the_message_bound) {
    queue_bench b(3);
    b.q.reserve({0, 2});
    BOOST_TEST(b.send(waiter_of(1), 1, "").queued == 1u);
    BOOST_TEST(b.send(waiter_of(2), 1, "").error == EAGAIN);
    BOOST_TEST(b.done.take_log() == (event_log{"credit_wanted q1"}),
               boost::test_tools::per_element());
}

// credit_to_grant: only from the room above half the capacity, within the window, and none
// while senders wait.
BOOST_AUTO_TEST_CASE(credit_is_granted_from_the_lower_half_only) {
    queue_bench b(100);
    auto grant = model::credit_to_grant(b.q, {}, 16);
    BOOST_TEST_REQUIRE(grant.has_value());
    BOOST_TEST(same(*grant, {16, 16}), usage_text(*grant));
    BOOST_TEST(!model::credit_to_grant(b.q, {8, 8}, 16)); // holds half the window already
    b.send(waiter_of(1), 1, filled(45));
    grant = model::credit_to_grant(b.q, {}, 16);
    BOOST_TEST_REQUIRE(grant.has_value());
    BOOST_TEST(same(*grant, {5, 16}), usage_text(*grant));
    b.send(waiter_of(2), 1, filled(5));
    BOOST_TEST(!model::credit_to_grant(b.q, {}, 16)); // half full
    b.send(waiter_of(3), 1, filled(50));
    b.park_send(waiter_of(4), 1, "x");
    BOOST_TEST(b.receive(waiter_of(5), selector::of_type(1)).error == 0);
    b.q.acknowledge({45, 1}); // #4 goes in: 56 used
    b.receive(waiter_of(6), selector::any());
    b.receive(waiter_of(7), selector::any());
    b.q.acknowledge({55, 2}); // 1 used
    grant = model::credit_to_grant(b.q, {}, 16);
    BOOST_TEST_REQUIRE(grant.has_value());
    BOOST_TEST(same(*grant, {16, 16}), usage_text(*grant));
    b.send(waiter_of(8), 1, filled(99));
    b.park_send(waiter_of(9), 1, std::string(10, 'x'));
    BOOST_TEST(!model::credit_to_grant(b.q, {}, 16)); // a sender waits
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// IPC_STAT

BOOST_AUTO_TEST_CASE(status_counts_messages_pids_and_waiters) {
    queue_bench b(5);
    model::queue_status s = b.q.status();
    BOOST_TEST(s.count == 0u);
    BOOST_TEST(s.capacity == 5u);
    BOOST_TEST(s.last_send_pid == 0);
    BOOST_TEST(s.last_receive_pid == 0);
    BOOST_TEST(s.send_time == 0);
    BOOST_TEST(s.receive_time == 0);
    BOOST_TEST(s.change_time > 0);

    b.send(waiter_of(1, &bob, 501), 1, "abc");
    b.send(waiter_of(2, &bob, 502), 2, "");
    s = b.q.status();
    BOOST_TEST(s.count == 2u);
    BOOST_TEST(s.bytes == 3u);
    BOOST_TEST(s.last_send_pid == 502);
    BOOST_TEST(s.send_time > 0);
    BOOST_TEST(s.receive_time == 0);

    BOOST_TEST(b.receive(waiter_of(3, &alice, 602), selector::any(), 1).error == E2BIG);
    BOOST_TEST(b.q.status().last_receive_pid == 0); // nothing was received
    BOOST_TEST(b.receive(waiter_of(4, &alice, 601), selector::any()).error == 0);
    s = b.q.status();
    BOOST_TEST(s.count == 1u);
    BOOST_TEST(s.bytes == 0u); // in transit is not queued
    BOOST_TEST(s.last_receive_pid == 601);
    BOOST_TEST(s.receive_time > 0);
    b.q.acknowledge({3, 1});

    b.park_receive(waiter_of(5, &alice, 603), selector::of_type(9));
    BOOST_TEST(b.q.status().waiting_receivers == 1u);
    b.send(waiter_of(6, &bob, 504), 9, "zz");
    s = b.q.status();
    BOOST_TEST(s.waiting_receivers == 0u);
    BOOST_TEST(s.last_send_pid == 504);
    BOOST_TEST(s.last_receive_pid == 603);
    BOOST_TEST(s.count == 1u);

    b.park_send(waiter_of(7, &bob, 505), 1, "xxxx"); // 2 in transit + 4 > 5
    s = b.q.status();
    BOOST_TEST(s.waiting_senders == 1u);
    BOOST_TEST(s.last_send_pid == 504); // not sent yet
    b.q.acknowledge({2, 1});
    s = b.q.status();
    BOOST_TEST(s.waiting_senders == 0u);
    BOOST_TEST(s.last_send_pid == 505);
    BOOST_TEST(s.count == 2u);
    BOOST_TEST(s.bytes == 4u);
}

// ---------------------------------------------------------------------------------------------
// Permissions (ipcperms) and ownership

BOOST_AUTO_TEST_SUITE(permissions)

model::credentials client(uid_t uid, gid_t gid,
                          std::optional<std::vector<gid_t>> groups = std::vector<gid_t>{}) {
    model::credentials c;
    c.known = true;
    c.uid = uid;
    c.gid = gid;
    c.groups = std::move(groups);
    return c;
}

// Owner 10/20, creator 11/21: mode 0640.
model::ipc_perm perm_0640() {
    model::ipc_perm p;
    p.uid = 10;
    p.gid = 20;
    p.cuid = 11;
    p.cgid = 21;
    p.mode = 0640;
    return p;
}

BOOST_AUTO_TEST_CASE(permitted_by_owner_creator_group_other_and_root) {
    const model::ipc_perm p = perm_0640();
    const unsigned r = model::read_access, w = model::write_access, rw = r | w;
    struct row {
        const char* who;
        model::credentials c;
        bool read, write;
    } rows[] = {
        {"owner", client(10, 99), true, true},
        {"creator", client(11, 99), true, true},
        {"group", client(50, 20), true, false},
        {"creator's group", client(50, 21), true, false},
        {"supplementary group", client(50, 99, std::vector<gid_t>{7, 20}), true, false},
        {"supplementary creator group", client(50, 99, std::vector<gid_t>{21}), true, false},
        {"other", client(50, 99, std::vector<gid_t>{7, 8}), false, false},
        {"root", client(0, 0), true, true},
        {"unknown peer (TIPC)", model::credentials{}, false, false},
    };
    for (const row& x : rows) {
        BOOST_TEST(model::permitted(x.c, p, r) == x.read, x.who);
        BOOST_TEST(model::permitted(x.c, p, w) == x.write, x.who);
        BOOST_TEST(model::permitted(x.c, p, rw) == (x.read && x.write), x.who);
        BOOST_TEST(model::permitted(x.c, p, 0), x.who); // nothing asked
    }
    // Any triplet of the flag counts, as in ipcperms: 0004 asks read as well as 0400.
    BOOST_TEST(model::permitted(client(50, 20), p, 0004));
    BOOST_TEST(!model::permitted(client(50, 20), p, 0020));
    // The owner's bits only, not the group's, for the owner.
    model::ipc_perm q = p;
    q.mode = 0070;
    BOOST_TEST(!model::permitted(client(10, 20), q, r));
    BOOST_TEST(model::permitted(client(50, 20), q, rw));
    // Other bits.
    q.mode = 0006;
    BOOST_TEST(model::permitted(client(50, 99), q, rw));
    BOOST_TEST(!model::permitted(client(50, 20), q, r)); // a member gets the group's: none
}

BOOST_AUTO_TEST_CASE(owns_is_the_owner_the_creator_or_root) {
    const model::ipc_perm p = perm_0640();
    BOOST_TEST(model::owns(client(10, 99), p));
    BOOST_TEST(model::owns(client(11, 99), p));
    BOOST_TEST(model::owns(client(0, 99), p));
    BOOST_TEST(!model::owns(client(50, 20), p));
    BOOST_TEST(!model::owns(client(50, 21, std::vector<gid_t>{20}), p));
    model::credentials unknown; // uid 0 is not known to be root
    unknown.uid = 0;
    BOOST_TEST(!model::owns(unknown, p));
    BOOST_TEST(!model::permitted(unknown, p, model::read_access));
    unknown.uid = 10; // the owner's uid, unverified: other bits only
    unknown.gid = 20;
    BOOST_TEST(!model::owns(unknown, p));
    BOOST_TEST(!model::permitted(unknown, p, model::read_access));
    model::ipc_perm open_to_others = p;
    open_to_others.mode = 0604;
    BOOST_TEST(model::permitted(unknown, open_to_others, model::read_access));
    BOOST_TEST(!model::permitted(unknown, open_to_others, model::write_access));
}

// Supplementary groups unknown (SO_PEERGROUPS failed): the client gets only what both the group
// and the other bits grant, since it might be a member or not.
BOOST_AUTO_TEST_CASE(unknown_groups_fail_closed) {
    model::ipc_perm p = perm_0640();
    const auto unknown_groups = client(50, 99, std::nullopt);
    const unsigned r = model::read_access, w = model::write_access;
    struct row {
        unsigned mode;
        bool read, write;
    } rows[] = {
        {0604, false, false}, // other may read, a member may not
        {0640, false, false}, // a member may read, other may not
        {0664, true, false},  {0666, true, true}, {0646, true, false}, {0600, false, false},
    };
    for (const row& x : rows) {
        p.mode = x.mode;
        BOOST_TEST(model::permitted(unknown_groups, p, r) == x.read,
                   "mode 0" << std::oct << x.mode);
        BOOST_TEST(model::permitted(unknown_groups, p, w) == x.write,
                   "mode 0" << std::oct << x.mode);
    }
    // Known without the supplementary list: the primary group still makes it a member, and the
    // owner is still the owner.
    p.mode = 0640;
    BOOST_TEST(model::permitted(client(50, 20, std::nullopt), p, r));
    BOOST_TEST(model::permitted(client(50, 21, std::nullopt), p, r));
    BOOST_TEST(model::permitted(client(10, 99, std::nullopt), p, r | w));
    p.mode = 0604;
    BOOST_TEST(!model::permitted(client(50, 20, std::nullopt), p, r)); // a member: group bits
    // The same client with its groups known: other bits.
    BOOST_TEST(model::permitted(client(50, 99), p, r));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// The registry (ipcget)

BOOST_AUTO_TEST_SUITE(registry)

struct registry_bench {
    explicit registry_bench(model::registry_limits limits = {}) : reg(limits, budget, done) {}
    std::expected<model::hosted_queue*, int> open(std::string_view name, bool create,
                                                  bool exclusive, unsigned mode,
                                                  const model::credentials& who,
                                                  std::size_t capacity = 0) {
        model::open_params p;
        p.how = model::open_params::by::name;
        p.name = name;
        p.create = create;
        p.exclusive = exclusive;
        p.mode = mode;
        p.capacity = capacity;
        return reg.open(p, who, created);
    }
    std::expected<model::hosted_queue*, int> open_id(std::uint64_t id, unsigned mode,
                                                     const model::credentials& who) {
        model::open_params p;
        p.how = model::open_params::by::id;
        p.id = id;
        p.mode = mode;
        return reg.open(p, who, created);
    }
    std::expected<model::hosted_queue*, int> open_private(const model::credentials& who) {
        model::open_params p;
        p.how = model::open_params::by::none;
        p.mode = 0600;
        return reg.open(p, who, created);
    }

    recording_completion done;
    model::memory_budget budget{plenty};
    model::registry reg;
    bool created = false;
};

model::credentials user(uid_t uid) {
    model::credentials c;
    c.known = true;
    c.uid = uid;
    c.gid = uid + 1000;
    return c;
}

BOOST_AUTO_TEST_CASE(enoent_eexist_and_an_existing_queue) {
    registry_bench b;
    auto missing = b.open("songs", false, false, 0600, user(10));
    BOOST_TEST_REQUIRE(!missing.has_value());
    BOOST_TEST(error_of(missing) == ENOENT);
    BOOST_TEST(error_of(b.open_id(1, 0600, user(10))) == ENOENT);

    auto made = b.open("songs", true, false, 01640, user(10)); // mode: the low 9 bits
    BOOST_TEST_REQUIRE(made.has_value());
    BOOST_TEST(b.created);
    model::hosted_queue& q = **made;
    BOOST_TEST(q.name() == "songs");
    BOOST_TEST(q.perm().mode == 0640u);
    BOOST_TEST(q.perm().uid == 10u);
    BOOST_TEST(q.perm().cuid == 10u);
    BOOST_TEST(q.perm().gid == 1010u);
    BOOST_TEST(q.perm().cgid == 1010u);
    BOOST_TEST(q.capacity() == model::registry_limits{}.default_capacity);
    BOOST_TEST(q.max_message_size() == model::registry_limits{}.max_message_size);

    auto again = b.open("songs", true, true, 0600, user(10));
    BOOST_TEST_REQUIRE(!again.has_value());
    BOOST_TEST(error_of(again) == EEXIST);
    // EEXIST before the access check, as ipcget_public.
    BOOST_TEST(error_of(b.open("songs", true, true, 0600, user(99))) == EEXIST);

    auto existing = b.open("songs", true, false, 0600, user(10));
    BOOST_TEST_REQUIRE(existing.has_value());
    BOOST_TEST(!b.created);
    BOOST_TEST(*existing == &q);
    BOOST_TEST(*b.open_id(q.id(), 0400, user(10)) == &q);
    BOOST_TEST(b.reg.size() == 1u);
}

BOOST_AUTO_TEST_CASE(eacces_on_opening_an_existing_queue) {
    registry_bench b;
    auto q = b.open("private-songs", true, false, 0600, user(10));
    BOOST_TEST_REQUIRE(q.has_value());
    const std::uint64_t id = (*q)->id();
    BOOST_TEST(error_of(b.open("private-songs", false, false, 0400, user(20))) == EACCES);
    BOOST_TEST(error_of(b.open("private-songs", true, false, 0200, user(20))) == EACCES);
    BOOST_TEST(error_of(b.open_id(id, 0600, user(20))) == EACCES);
    BOOST_TEST(b.open("private-songs", false, false, 0, user(20)).has_value()); // nothing asked
    BOOST_TEST(b.open_id(id, 0600, user(0)).has_value());                       // root
    BOOST_TEST(b.open("private-songs", false, false, 0600, user(10)).has_value());
    BOOST_TEST(b.reg.size() == 1u);
}

BOOST_AUTO_TEST_CASE(enospc_past_max_queues) {
    model::registry_limits limits;
    limits.max_queues = 2;
    registry_bench b(limits);
    BOOST_TEST(b.open("a", true, false, 0600, user(10)).has_value());
    BOOST_TEST(b.open_private(user(10)).has_value());
    BOOST_TEST(error_of(b.open("c", true, false, 0600, user(10))) == ENOSPC);
    BOOST_TEST(error_of(b.open_private(user(0))) == ENOSPC);          // root too: msgmni
    BOOST_TEST(b.open("a", true, false, 0600, user(10)).has_value()); // existing: fine
    BOOST_TEST(b.reg.size() == 2u);
}

BOOST_AUTO_TEST_CASE(einval_for_a_capacity_above_the_limit_unless_root) {
    model::registry_limits limits;
    limits.max_queue_bytes = 1000;
    limits.default_capacity = 500;
    registry_bench b(limits);
    BOOST_TEST(error_of(b.open("big", true, false, 0600, user(10), 1001)) == EINVAL);
    auto at_limit = b.open("limit", true, false, 0600, user(10), 1000);
    BOOST_TEST_REQUIRE(at_limit.has_value());
    BOOST_TEST((*at_limit)->capacity() == 1000u);
    auto by_root = b.open("big", true, false, 0600, user(0), 5000);
    BOOST_TEST_REQUIRE(by_root.has_value());
    BOOST_TEST((*by_root)->capacity() == 5000u);
    auto by_default = b.open("default", true, false, 0600, user(10));
    BOOST_TEST_REQUIRE(by_default.has_value());
    BOOST_TEST((*by_default)->capacity() == 500u);
}

// A fresh registry numbers as a fresh IPC namespace: 0, 1, 2, ...; a removed id stays invalid
// (its index is given again only once the cycle comes round, with the next sequence number).
BOOST_AUTO_TEST_CASE(ids_as_linux_gives_them) {
    registry_bench b;
    std::vector<model::hosted_queue*> q;
    for (int i = 0; i < 3; ++i)
        q.push_back(*b.open_private(user(10)));
    BOOST_TEST(q[0]->id() == 0u);
    BOOST_TEST(q[1]->id() == 1u);
    BOOST_TEST(q[2]->id() == 2u);
    BOOST_TEST(*b.reg.highest_index() == 2u);
    q[1]->remove();
    b.reg.erase(*q[1]);
    BOOST_TEST(!b.reg.find(1));
    BOOST_TEST(error_of(b.open_id(1, 0600, user(10))) == ENOENT);
    BOOST_TEST((*b.open_private(user(10)))->id() == 3u); // not 1: the cursor goes on
    q[2]->remove();
    b.reg.erase(*q[2]);
    BOOST_TEST(*b.reg.highest_index() == 3u);
    BOOST_TEST(b.reg.at_index(0) == q[0]);
    BOOST_TEST(!b.reg.at_index(2));
}

// One queue made and removed over and over: indexes 0..63 (ipc_min_cycle), then index 0 again
// with sequence number 1 (id 32768), and so on; at INT_MAX >> 15 the sequence number wraps.
BOOST_AUTO_TEST_CASE(the_cycle_and_the_sequence_number) {
    registry_bench b;
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < 130; ++i) {
        model::hosted_queue* q = *b.open_private(user(10));
        ids.push_back(q->id());
        q->remove();
        b.reg.erase(*q);
    }
    BOOST_TEST(ids[0] == 0u);
    BOOST_TEST(ids[63] == 63u);
    BOOST_TEST(ids[64] == 32768u);
    BOOST_TEST(ids[65] == 32769u);
    BOOST_TEST(ids[128] == 2u * 32768u);
    BOOST_TEST(!b.reg.highest_index());

    model::msqid_allocator a;
    const auto none_used = [](std::uint32_t) { return false; };
    std::uint64_t last = 0, highest = 0;
    for (std::uint64_t i = 0; i < std::uint64_t(model::msqid_allocator::seq_limit) * 64 + 1; ++i) {
        last = *a.allocate(0, none_used);
        highest = std::max(highest, last);
    }
    BOOST_TEST(last == 0u); // sequence numbers 0 .. 65534, then 0 again
    BOOST_TEST(highest == 65534u * 32768u + 63u);
    BOOST_TEST(highest <= std::uint64_t(INT_MAX));
}

// With many queues in use the cycle is longer: max(in_use * 3 / 2, 64) indexes.
BOOST_AUTO_TEST_CASE(the_cycle_grows_with_the_queues_in_use) {
    registry_bench b;
    std::vector<model::hosted_queue*> q;
    for (int i = 0; i < 100; ++i)
        q.push_back(*b.open_private(user(10)));
    BOOST_TEST(q[99]->id() == 99u);
    BOOST_TEST(*b.reg.highest_index() == 99u);
    q[5]->remove();
    b.reg.erase(*q[5]);
    // 99 in use: indexes below 148; the cursor is at 100.
    BOOST_TEST((*b.open_private(user(10)))->id() == 100u);
}

// The kernel's own msqids in a private IPC namespace, for a sequence of msgget(IPC_PRIVATE) and
// IPC_RMID: for each step, the id made (-1 for a removal) and what IPC_INFO returns after it.
struct id_step {
    bool create;
    std::size_t victim; // a removal: which of the live queues, in order of creation
};

std::vector<int> kernel_ids(const std::vector<id_step>& steps) {
    int fds[2];
    BOOST_TEST_REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    BOOST_TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        if (::unshare(CLONE_NEWIPC) < 0)
            ::_exit(125);
        std::vector<int> live, out;
        for (const id_step& s : steps) {
            int made = -1;
            if (s.create) {
                made = ::msgget(IPC_PRIVATE, 0600);
                if (made < 0)
                    ::_exit(1);
                live.push_back(made);
            } else {
                if (::msgctl(live.at(s.victim), IPC_RMID, nullptr) < 0)
                    ::_exit(2);
                live.erase(live.begin() + std::ptrdiff_t(s.victim));
            }
            msginfo info{};
            out.push_back(made);
            out.push_back(::msgctl(0, IPC_INFO, reinterpret_cast<msqid_ds*>(&info)));
        }
        const auto size = out.size() * sizeof(int);
        ::_exit(::write(fds[1], out.data(), size) == ssize_t(size) ? 0 : 3);
    }
    ::close(fds[1]);
    std::vector<int> got(steps.size() * 2);
    std::size_t at = 0;
    const auto bytes = got.size() * sizeof(int);
    while (at < bytes) {
        const ssize_t n = ::read(fds[0], reinterpret_cast<char*>(got.data()) + at, bytes - at);
        if (n <= 0)
            break;
        at += std::size_t(n);
    }
    ::close(fds[0]);
    const int status =
        seqmq::test::exit_code(seqmq::test::wait_for_child(pid, std::chrono::seconds(60)));
    BOOST_TEST_REQUIRE(status == 0, "the kernel's side exited " << status);
    BOOST_TEST_REQUIRE(at == bytes);
    return got;
}

// The same steps on a registry.
std::vector<int> registry_ids(const std::vector<id_step>& steps) {
    registry_bench b;
    std::vector<model::hosted_queue*> live;
    std::vector<int> out;
    for (const id_step& s : steps) {
        int made = -1;
        if (s.create) {
            model::hosted_queue* q = *b.open_private(user(10));
            made = int(q->id());
            live.push_back(q);
        } else {
            model::hosted_queue* q = live.at(s.victim);
            live.erase(live.begin() + std::ptrdiff_t(s.victim));
            q->remove();
            b.reg.erase(*q);
        }
        out.push_back(made);
        out.push_back(int(b.reg.highest_index().value_or(0)));
    }
    return out;
}

// A precondition: a private IPC namespace (unshare(CLONE_NEWIPC): root, or CAP_SYS_ADMIN).
struct private_ipc_namespace {
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        const pid_t pid = ::fork();
        if (pid == 0)
            ::_exit(::unshare(CLONE_NEWIPC) == 0 ? 0 : 1);
        const int status =
            seqmq::test::exit_code(seqmq::test::wait_for_child(pid, std::chrono::seconds(10)));
        boost::test_tools::assertion_result ok(status == 0);
        ok.message() << "unshare(CLONE_NEWIPC) is not permitted here (needs CAP_SYS_ADMIN): no "
                        "kernel to compare the ids with";
        return ok;
    }
};

// Returns the kernel's ids.
std::vector<int> same_ids(const std::vector<id_step>& steps) {
    const std::vector<int> kernel = kernel_ids(steps), ours = registry_ids(steps);
    BOOST_TEST_REQUIRE(kernel.size() == ours.size());
    int reported = 0;
    for (std::size_t i = 0; i < kernel.size() && reported < 10; i += 2)
        if (kernel[i] != ours[i] || kernel[i + 1] != ours[i + 1]) {
            ++reported;
            BOOST_TEST(false, "step " << i / 2 << (steps[i / 2].create ? " (create)" : " (remove)")
                                      << ": kernel id " << kernel[i] << " highest index "
                                      << kernel[i + 1] << ", registry id " << ours[i]
                                      << " highest index " << ours[i + 1]);
        }
    return kernel;
}

BOOST_AUTO_TEST_CASE(create_three_remove_the_second_create_again_as_the_kernel,
                     *boost::unit_test::precondition(private_ipc_namespace())) {
    const std::vector<int> kernel =
        same_ids({{true, 0}, {true, 0}, {true, 0}, {false, 1}, {true, 0}});
    BOOST_TEST(kernel[6] == -1); // (the removal)
    BOOST_TEST(kernel[8] == 3);
}

// Many steps, up to 150 queues at once and down to none: the cycle's length, its wrapping,
// sequence numbers and the highest index after removals, all as the kernel has them.
BOOST_AUTO_TEST_CASE(a_long_sequence_as_the_kernel,
                     *boost::unit_test::precondition(private_ipc_namespace())) {
    std::vector<id_step> steps;
    std::uint32_t seed = 12345;
    auto next = [&] { return (seed = seed * 1103515245u + 12345u) >> 16; };
    std::size_t live = 0;
    for (int phase = 0; phase < 6; ++phase) {
        const std::size_t target = phase % 2 == 0 ? 150 : 3;
        while (live != target) {
            // towards the target, with a step the other way now and then
            const bool create = (live < target) == (next() % 4 != 0) || live == 0;
            if (create) {
                steps.push_back({true, 0});
                ++live;
            } else {
                steps.push_back({false, next() % live});
                --live;
            }
        }
    }
    for (int i = 0; i < 100; ++i) { // one queue in, one out: round the cycle several times
        steps.push_back({true, 0});
        steps.push_back({false, next() % (live + 1)});
    }
    const std::vector<int> kernel = same_ids(steps);
    // (The steps reach what they are for: indexes past 64, and sequence numbers above 1.)
    int most = 0;
    for (std::size_t i = 0; i < kernel.size(); i += 2)
        most = std::max(most, kernel[i] & 0x7fff);
    BOOST_TEST(most >= 150);
    BOOST_TEST(*std::max_element(kernel.begin(), kernel.end()) >= 2 * 32768);
}

BOOST_AUTO_TEST_CASE(ids_are_not_reused) {
    registry_bench b;
    auto a = b.open("a", true, false, 0600, user(10));
    auto p = b.open_private(user(10));
    BOOST_TEST_REQUIRE(a.has_value());
    BOOST_TEST_REQUIRE(p.has_value());
    const std::uint64_t a_id = (*a)->id(), p_id = (*p)->id();
    BOOST_TEST(a_id != p_id);
    BOOST_TEST((*p)->name().empty());
    auto p2 = b.open_private(user(10));
    BOOST_TEST_REQUIRE(p2.has_value());
    BOOST_TEST(*p2 != *p); // IPC_PRIVATE always makes a new queue
    const std::uint64_t p2_id = (*p2)->id();

    (*a)->remove();
    b.reg.erase(**a);
    BOOST_TEST(!b.reg.find(a_id));
    BOOST_TEST(error_of(b.open_id(a_id, 0600, user(10))) == ENOENT);
    BOOST_TEST(error_of(b.open("a", false, false, 0600, user(10))) == ENOENT);
    auto a2 = b.open("a", true, false, 0600, user(10));
    BOOST_TEST_REQUIRE(a2.has_value());
    BOOST_TEST(b.created);
    const std::uint64_t a2_id = (*a2)->id();
    BOOST_TEST(a2_id != a_id);
    BOOST_TEST(a2_id != p_id);
    BOOST_TEST(a2_id != p2_id);
    BOOST_TEST(a2_id > p2_id);
    BOOST_TEST(b.reg.find(p_id) == *p);
    BOOST_TEST(b.reg.size() == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
