#define BOOST_TEST_MODULE stash
#include <boost/test/unit_test.hpp>

#include "store/message_store.hpp"

#include <climits>
#include <random>
#include <vector>

using seqmq::selector;
using seqmq::detail::message_store;
using seqmq::detail::queued_message;

namespace {

// The msgrcv rules written the slow, obvious way (as ipc/msg.c's find_msg walks its list): the
// reference the indexed store must agree with.
const queued_message* reference_find(const message_store& s, selector w) {
    const queued_message* found = nullptr;
    for (const queued_message* m = s.oldest(); m; m = s.after(m)) {
        if (w.type == 0)
            return m;
        if (w.type > 0 && !w.except && m->type == w.type)
            return m;
        if (w.type > 0 && w.except && m->type != w.type)
            return m;
        if (w.type < 0) {
            long limit = w.type == LONG_MIN ? LONG_MAX : -w.type;
            if (m->type <= limit && (!found || m->type < found->type))
                found = m;
        }
    }
    return found;
}

std::vector<long> types_of(message_store& s, std::initializer_list<selector> takes) {
    std::vector<long> got;
    for (selector w : takes) {
        auto* m = s.find(w);
        got.push_back(m ? m->type : 0);
        if (m)
            s.pop(*m);
    }
    return got;
}

void fill(message_store& s, std::initializer_list<long> types) {
    static std::uint64_t arrival = 1;
    for (long t : types)
        s.push(t, {}, 0, arrival++);
}

} // namespace

BOOST_AUTO_TEST_CASE(selector_table) {
    // Queue: 3 1 2 1 5 2  (arrival order)
    struct row {
        selector which;
        long expected_type; // 0: nothing
        std::uint64_t expected_position;
    } rows[] = {
        {selector::any(), 3, 0},
        {selector::of_type(1), 1, 1},
        {selector::of_type(2), 2, 2},
        {selector::of_type(4), 0, 0},
        {selector::except_type(3), 1, 1},
        {selector::except_type(1), 3, 0},
        {selector::lowest_up_to(5), 1, 1},
        {selector::lowest_up_to(2), 1, 1},
        {selector::lowest_up_to(0), 3, 0} /* msgtyp 0: any */,
        {{-4, false}, 1, 1},
        {{0, true}, 3, 0},
        {{-3, true}, 1, 1}, // except ignored when type <= 0
        {{LONG_MIN, false}, 1, 1},
    };
    for (const row& r : rows) {
        message_store s(64);
        fill(s, {3, 1, 2, 1, 5, 2});
        const queued_message* m = s.find(r.which);
        if (r.expected_type == 0) {
            BOOST_TEST(!m, "selector " << r.which.type << "/" << r.which.except);
            continue;
        }
        BOOST_TEST_REQUIRE(m);
        BOOST_TEST(m->type == r.expected_type, "selector " << r.which.type);
        BOOST_TEST((m == s.at(r.expected_position)), "selector " << r.which.type);
        BOOST_TEST((m == reference_find(s, r.which)));
    }
}

BOOST_AUTO_TEST_CASE(taking_keeps_arrival_order) {
    message_store s(64);
    fill(s, {2, 1, 2, 1, 3});
    auto got = types_of(s, {selector::of_type(1), selector::except_type(2), selector::any(),
                            selector::lowest_up_to(3), selector::any(), selector::any()});
    BOOST_TEST(got == (std::vector<long>{1, 1, 2, 2, 3, 0}), boost::test_tools::per_element());
    BOOST_TEST(s.empty());
    BOOST_TEST(s.bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(payload_counts_and_positions) {
    message_store s(16);
    std::byte a[3]{std::byte{1}, std::byte{2}, std::byte{3}};
    s.push(7, a, 42, 1);
    s.push(8, {}, 43, 2);
    BOOST_TEST(s.count() == 2u);
    BOOST_TEST(s.bytes() == 3u);
    BOOST_TEST(s.at(0)->sender_pid == 42);
    BOOST_TEST(s.at(0)->size == 3u);
    BOOST_TEST(std::to_integer<int>(s.at(0)->payload()[2]) == 3);
    BOOST_TEST(s.at(1)->type == 8);
    BOOST_TEST(!s.at(2));
}

BOOST_AUTO_TEST_CASE(agrees_with_the_reference_under_random_load) {
    for (unsigned seed : {1u, 2u, 3u, 4u}) {
        std::mt19937 rng(seed);
        message_store s(32);
        std::uint64_t arrival = 1;
        for (int op = 0; op < 20000; ++op) {
            if (rng() % 2 == 0 && s.count() < 500) {
                s.push(long(rng() % 8 + 1), {}, 0, arrival++);
                continue;
            }
            long t = long(rng() % 19) - 9;
            selector w{t, rng() % 3 == 0};
            const queued_message* got = s.find(w);
            const queued_message* want = reference_find(s, w);
            BOOST_TEST_REQUIRE((got == want), "seed " << seed << " op " << op << " sel " << t);
            if (got)
                s.pop(*got);
        }
    }
}
