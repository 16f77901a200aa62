#define BOOST_TEST_MODULE stash
#include <boost/test/unit_test.hpp>

#include "store/message_store.hpp"

#include <algorithm>
#include <climits>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <utility>
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

// Arrivals out of order, as put_back makes them: messages taken and pushed back with their old
// arrival number (older than the newest), and new ones pushed into gaps below the newest. Every
// selector kind must agree with the reference, the walk must be in ascending arrival order and
// match what was pushed, byte for byte.
BOOST_AUTO_TEST_CASE(agrees_with_the_reference_with_arrivals_out_of_order) {
    struct shadow_message {
        long type;
        std::vector<std::byte> data;
    };
    auto payload = [](std::uint64_t arrival, std::size_t size) {
        return std::vector<std::byte>(size, std::byte(arrival * 37 + 11));
    };
    std::vector<selector> selectors{selector::any(), {LONG_MIN, false}, {-3, true}, {0, true}};
    for (long t = 1; t <= 9; ++t) {
        selectors.push_back(selector::of_type(t));
        selectors.push_back(selector::except_type(t));
        selectors.push_back(selector::lowest_up_to(t));
    }
    std::size_t out_of_order = 0;
    for (unsigned seed : {11u, 12u, 13u}) {
        std::mt19937 rng(seed);
        message_store s(32);
        std::map<std::uint64_t, shadow_message> shadow;             // what the store must hold
        std::vector<std::pair<std::uint64_t, shadow_message>> held; // taken, to be put back
        std::uint64_t next = 1;
        for (int op = 0; op < 6000; ++op) {
            const unsigned r = rng() % 100;
            std::optional<std::pair<std::uint64_t, shadow_message>> push;
            if (r < 35 && s.count() < 300) { // the newest, after a gap sometimes
                next += rng() % 3;
                push = {next++, {long(rng() % 8 + 1), {}}};
                push->second.data = payload(push->first, rng() % 33);
            } else if (r < 50 && !held.empty()) { // put back: its old place
                const std::size_t i = rng() % held.size();
                push = std::move(held[i]);
                held.erase(held.begin() + std::ptrdiff_t(i));
            } else if (r < 58 && next > 2) { // into a gap below the newest, if it finds one
                const std::uint64_t a = 1 + rng() % (next - 1);
                bool used = shadow.contains(a);
                for (const auto& h : held)
                    used = used || h.first == a;
                if (!used) {
                    push = {a, {long(rng() % 8 + 1), {}}};
                    push->second.data = payload(a, rng() % 33);
                }
            } else { // take one, as a receive does; sometimes hold it to put back later
                const selector w = selectors[rng() % selectors.size()];
                const queued_message* m = s.find(w);
                BOOST_TEST_REQUIRE((m == reference_find(s, w)), "seed " << seed << " op " << op
                                                                        << " sel " << w.type << "/"
                                                                        << w.except);
                if (m) {
                    auto node = shadow.extract(m->arrival);
                    BOOST_TEST_REQUIRE(!node.empty(), "seed " << seed << " op " << op);
                    if (rng() % 2)
                        held.emplace_back(node.key(), std::move(node.mapped()));
                    s.pop(*m);
                }
            }
            if (push) {
                if (s.newest() && push->first < s.newest()->arrival)
                    ++out_of_order;
                s.push(push->second.type, push->second.data, 0, push->first);
                shadow.emplace(push->first, std::move(push->second));
            }

            // The whole store against the shadow, oldest first (one assertion per operation:
            // the first disagreement, described).
            std::ostringstream problem;
            auto it = shadow.begin();
            std::size_t bytes = 0, position = 0;
            std::uint64_t last = 0;
            std::vector<const queued_message*> walked;
            for (const queued_message* m = s.oldest(); m; m = s.after(m), ++it, ++position) {
                const auto p = m->payload();
                if (it == shadow.end()) {
                    problem << "arrival " << m->arrival << " should not be there";
                    break;
                }
                if (m->arrival <= last)
                    problem << "arrival " << m->arrival << " walked after " << last;
                else if (m->arrival != it->first || m->type != it->second.type)
                    problem << "at " << position << ": arrival " << m->arrival << " type "
                            << m->type << ", not arrival " << it->first << " type "
                            << it->second.type;
                else if (!std::equal(p.begin(), p.end(), it->second.data.begin(),
                                     it->second.data.end()))
                    problem << "the payload of arrival " << m->arrival;
                if (problem.tellp() != 0)
                    break;
                bytes += m->size;
                last = m->arrival;
                walked.push_back(m);
            }
            // at() walks too (O(position)): one position per operation.
            if (problem.tellp() == 0 && !walked.empty()) {
                const std::size_t k = std::size_t(op) % walked.size();
                if (s.at(k) != walked[k])
                    problem << "at(" << k << ") is not the walk's";
            }
            if (problem.tellp() == 0 && it != shadow.end())
                problem << "arrival " << it->first << " is missing from the walk";
            if (problem.tellp() == 0 && (s.count() != shadow.size() || s.bytes() != bytes))
                problem << "count " << s.count() << " bytes " << s.bytes() << ", not "
                        << shadow.size() << " and " << bytes;
            if (problem.tellp() == 0 && s.newest() != (walked.empty() ? nullptr : walked.back()))
                problem << "newest() is not the last of the walk";
            for (const selector& w : selectors)
                if (problem.tellp() == 0 && s.find(w) != reference_find(s, w))
                    problem << "find(" << w.type << (w.except ? "/except" : "")
                            << ") differs from the reference";
            BOOST_TEST_REQUIRE(problem.str().empty(),
                               "seed " << seed << " op " << op << ": " << problem.str());
        }
    }
    BOOST_TEST_MESSAGE(out_of_order << " pushes older than the newest message");
    BOOST_TEST(out_of_order > 1000u); // the test does what it says
}
