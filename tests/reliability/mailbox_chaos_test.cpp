// kill -9 chaos on a mailbox: the owner (this process: its stash is in its memory, so it is
// never killed) receives from 4 sender processes that are SIGKILLed at random moments (seeded;
// the seed is printed, $SEQMQ_CHAOS_SEED sets it) and restarted. Now and then the owner stops
// receiving for a while, so that the mailbox fills, senders wait on full socket buffers and are
// killed with messages still in them. Each sender logs "sent N" after its send returned, one
// write() a line. Every message logged as sent must be received exactly once, in its sender's
// order, including those still in a killed sender's socket buffer.
#define BOOST_TEST_MODULE mailbox SIGKILL chaos
#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include <seqmq/mailbox.hpp>
#include <seqmq/sender.hpp>

#include "ledger.hpp"

#include <array>
#include <set>

using namespace reliability;
using seqmq::mailbox;
using seqmq::receive_flags;
using seqmq::selector;

namespace {

constexpr std::uint32_t sender_count = 4;
constexpr std::uint32_t per_sender = 25000;
constexpr std::size_t most_kills = 1000;
// A sender rests 1 ms after every `pace` messages: the run lasts long enough for its kills.
constexpr std::uint32_t pace = 3;
constexpr auto chaos_limit = 90s; // the senders must be done by then

template <class R>
std::string why(const R& r) {
    return r ? std::string("ok") : r.error().message();
}

// A sender: sends its sequence from `first` up to per_sender, logging each once sent.
int send_all(const seqmq::address& where, std::uint32_t slot, std::uint32_t incarnation,
             std::uint32_t first, const std::string& log_path) {
    line_log log(log_path);
    if (!log.ok())
        return 10;
    seqmq::sender_options o;
    o.wait_for_mailbox = 10s;
    auto s = seqmq::sender::connect(where, o);
    if (!s) {
        log.write("error connect: " + s.error().message());
        return 11;
    }
    std::array<std::byte, max_payload> buf;
    for (std::uint32_t seq = first; seq < per_sender; ++seq) {
        const message_id id{slot, incarnation, seq};
        const std::size_t size = compose(id, buf);
        const std::int64_t t0 = now_ns();
        auto r = s->send(message_type(id), std::span(buf).first(size));
        if (!r) {
            log.write("error send " + std::to_string(seq) + ": " + r.error().message());
            return 12;
        }
        if (!log.write(sent_line(seq, t0)))
            return 13;
        if (seq % pace == pace - 1)
            std::this_thread::sleep_for(1ms);
    }
    return 0;
}

struct sender_slot {
    worker process;
    producer_run run;
    bool done = false;
};

class chaos_run {
public:
    chaos_run(mailbox& m, std::uint32_t seed) : m_(m), where_(m.bound_address()), rng_(seed) {
        BOOST_TEST_REQUIRE(logs_.ok());
    }

    void start() {
        for (std::uint32_t s = 0; s < sender_count; ++s)
            start_sender(s, 0);
    }

    // Receives, and kills senders at random moments, restarting each, until they are done
    // (after most_kills kills they go on undisturbed). False if they were not done in time.
    bool run_chaos() {
        const auto until = std::chrono::steady_clock::now() + chaos_limit;
        while (!senders_done()) {
            if (std::chrono::steady_clock::now() > until || problems_.size() > 20)
                return false;
            reap_ended();
            if (kills_ >= most_kills) {
                receive_for(std::chrono::milliseconds(20));
                continue;
            }
            if (const std::size_t what = pick(0, 99); what < 10) {
                // A stall: the mailbox fills, then the senders' socket buffers; then kills,
                // now and then of every sender at once.
                ++stalls_;
                std::this_thread::sleep_for(std::chrono::milliseconds(pick(20, 150)));
                if (what < 2)
                    stall_kills_ += kill_all();
                else
                    for (std::size_t k = pick(1, 2); k > 0; --k)
                        stall_kills_ += kill_one();
            } else {
                receive_for(std::chrono::microseconds(pick(0, 20000)));
                kill_one();
            }
        }
        return true;
    }

    // Takes what is left: every sender has ended, so once nothing more comes and no
    // connection is left, it is all in.
    void drain() {
        for (std::int64_t quiet_since = now_ns(); now_ns() - quiet_since < 300'000'000;) {
            if (receive_for(std::chrono::milliseconds(10)) > 0) {
                quiet_since = now_ns();
                continue;
            }
            auto st = m_.stat();
            if (!st || st->connections > 0 || st->count > 0)
                quiet_since = now_ns();
        }
    }

    ledger& book() { return ledger_; }
    const std::vector<std::string>& problems() const { return problems_; }
    std::size_t kills() const { return kills_; }
    std::size_t stall_kills() const { return stall_kills_; }
    std::size_t stalls() const { return stalls_; }
    std::size_t massacres() const { return massacres_; }
    std::size_t corrupt() const { return corrupt_; }
    std::size_t out_of_order() const { return out_of_order_; }
    const std::string& first_out_of_order() const { return first_out_of_order_; }
    std::size_t after_kill() const { return after_kill_; }
    std::size_t received() const { return received_; }
    log_directory& logs() { return logs_; }

private:
    std::size_t pick(std::size_t lo, std::size_t hi) {
        return std::uniform_int_distribution<std::size_t>(lo, hi)(rng_);
    }

    bool senders_done() const {
        return std::all_of(senders_.begin(), senders_.end(),
                           [](const sender_slot& s) { return s.done; });
    }

    void start_sender(std::uint32_t slot, std::uint32_t incarnation) {
        sender_slot& s = senders_[slot];
        s.run = producer_run{};
        s.run.slot = slot;
        s.run.incarnation = incarnation;
        s.run.first = next_sequence_[slot];
        const std::string path = logs_.file("sender", slot, incarnation);
        const std::uint32_t first = s.run.first;
        s.process = worker([&, slot, incarnation, first, path] {
            return send_all(where_, slot, incarnation, first, path);
        });
    }

    // Records how the sender's run ended and starts the next, unless it had sent everything.
    void sender_ended(std::uint32_t slot, int status) {
        sender_slot& s = senders_[slot];
        s.run.status = status;
        s.run.killed = killed_by_sigkill(status);
        s.run.read_log(logs_.file("sender", slot, s.run.incarnation));
        if (!s.run.killed && !exited_ok(status))
            problems_.push_back("sender " + std::to_string(slot) + "." +
                                std::to_string(s.run.incarnation) + " ended with " +
                                describe_status(status));
        if (s.run.killed)
            killed_.insert({slot, s.run.incarnation});
        const std::uint32_t incarnation = s.run.incarnation + 1;
        next_sequence_[slot] = s.run.next();
        ledger_.add_run(std::move(s.run));
        s.done = next_sequence_[slot] >= per_sender;
        if (!s.done)
            start_sender(slot, incarnation);
    }

    void reap_ended() {
        for (std::uint32_t s = 0; s < sender_count; ++s)
            if (!senders_[s].done)
                if (auto status = senders_[s].process.poll())
                    sender_ended(s, *status);
    }

    // SIGKILLs one running sender, chosen at random, and restarts it. 1 if it was killed (it
    // may have ended by itself just before).
    std::size_t kill_one() {
        std::vector<std::uint32_t> alive;
        for (std::uint32_t s = 0; s < sender_count; ++s)
            if (!senders_[s].done)
                alive.push_back(s);
        if (alive.empty())
            return 0;
        const std::uint32_t victim = alive[pick(0, alive.size() - 1)];
        const int status = senders_[victim].process.kill();
        const bool killed = killed_by_sigkill(status);
        kills_ += killed;
        sender_ended(victim, status);
        return killed;
    }

    // SIGKILLs every running sender at once, and restarts them. Returns how many were killed.
    std::size_t kill_all() {
        ++massacres_;
        for (auto& s : senders_)
            if (!s.done)
                s.process.signal(SIGKILL);
        std::size_t killed = 0;
        for (std::uint32_t s = 0; s < sender_count; ++s)
            if (!senders_[s].done) {
                const int status = senders_[s].process.reap();
                killed += killed_by_sigkill(status);
                sender_ended(s, status);
            }
        kills_ += killed;
        return killed;
    }

    // Receives for `period`; returns how many messages came.
    std::size_t receive_for(std::chrono::microseconds period) {
        std::size_t n = 0;
        const std::int64_t until = now_ns() + std::int64_t(period.count()) * 1000;
        std::array<std::byte, max_payload> buf;
        do {
            const std::int64_t left_ms = std::max<std::int64_t>(0, (until - now_ns()) / 1'000'000);
            auto r = m_.receive(buf, selector::any(), receive_flags::none,
                                std::chrono::milliseconds(left_ms));
            if (!r) {
                if (r.error() != std::errc::timed_out && r.error() != std::errc::no_message)
                    problems_.push_back("receive: " + r.error().message());
                break;
            }
            ++n;
            ++received_;
            auto id = verify(r->type, std::span(buf).first(r->size));
            if (!id || r->truncated()) {
                ++corrupt_;
                continue;
            }
            ledger_.received(*id, found_by::owner);
            if (killed_.contains({id->slot, id->incarnation}))
                ++after_kill_;
            // One connection's messages arrive in the order they were sent.
            auto [last, fresh] = last_sequence_.try_emplace({id->slot, id->incarnation}, 0);
            if (!fresh && id->sequence <= last->second && ++out_of_order_ <= 10)
                first_out_of_order_ += " " + id->text() + " after #" + std::to_string(last->second);
            last->second = std::max(last->second, id->sequence);
        } while (now_ns() < until);
        return n;
    }

    mailbox& m_;
    seqmq::address where_;
    std::mt19937 rng_;
    log_directory logs_;
    std::array<sender_slot, sender_count> senders_;
    std::array<std::uint32_t, sender_count> next_sequence_{};
    std::set<std::pair<std::uint32_t, std::uint32_t>> killed_;
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint32_t> last_sequence_;
    ledger ledger_;
    std::vector<std::string> problems_;
    std::size_t kills_ = 0, stall_kills_ = 0, stalls_ = 0, corrupt_ = 0, received_ = 0;
    std::size_t out_of_order_ = 0, after_kill_ = 0, massacres_ = 0;
    std::string first_out_of_order_;
};

} // namespace

BOOST_AUTO_TEST_CASE(every_message_sent_is_received_once_through_kill_9_of_senders) {
    const std::int64_t started = now_ns();
    const std::uint32_t seed = chaos_seed();
    BOOST_TEST_MESSAGE("seed " << seed << " (SEQMQ_CHAOS_SEED=" << seed << " to choose the same)");
    auto where = seqmq::address::parse("unix:@seqmq-chaos-" + std::to_string(::getpid()));
    BOOST_TEST_REQUIRE(where.has_value());
    seqmq::mailbox_options o;
    o.max_message_size = 1024;
    auto m = mailbox::open(*where, o);
    BOOST_TEST_REQUIRE(m.has_value(), why(m));
    chaos_run run(*m, seed);
    run.start();
    const bool in_time = run.run_chaos();
    if (!in_time)
        run.logs().keep();
    BOOST_TEST_REQUIRE(in_time, "the senders were not done within "
                                    << chaos_limit.count() << " s; logs in " << run.logs().path());
    const long chaos_ms = elapsed_ms(started);
    run.drain();

    const ledger::outcome r = run.book().settle();
    BOOST_TEST_MESSAGE(
        "seed " << seed << ": " << r.logged << " logged as sent by " << sender_count
                << " senders; received " << run.received() << " (" << r.found << " distinct), "
                << run.after_kill() << " of them after their sender was killed; " << r.sent_unlogged
                << " sent but unlogged (in flight at a kill):" << r.sent_unlogged_ids << "; "
                << r.missing << " never received:" << r.missing_ids << "; " << r.duplicates
                << " duplicates, " << r.unknown << " unknown, " << run.corrupt() << " corrupt, "
                << run.out_of_order() << " out of order; " << run.kills() << " SIGKILLs ("
                << run.stall_kills() << " in " << run.stalls() << " stalls, " << run.massacres()
                << " times every sender at once); chaos " << chaos_ms << " ms, wall time "
                << elapsed_ms(started) << " ms");
    BOOST_TEST(r.logged == std::size_t(sender_count) * per_sender);
    BOOST_TEST(r.missing == 0u, "logged as sent, never received:" << r.missing_ids);
    BOOST_TEST(r.duplicates == 0u, "received more than once:" << r.duplicate_ids);
    BOOST_TEST(r.unknown == 0u, "received, never sent:" << r.unknown_ids);
    BOOST_TEST(r.sent_unlogged <= r.producer_kills);
    BOOST_TEST(run.corrupt() == 0u, "messages not as sent");
    BOOST_TEST(run.out_of_order() == 0u, "out of order:" << run.first_out_of_order());
    BOOST_TEST(r.producer_errors == 0u, r.first_errors);
    std::string problems;
    for (const auto& p : run.problems())
        problems += "\n  " + p;
    BOOST_TEST(run.problems().empty(), "problems:" << problems);
    BOOST_TEST(run.kills() > 0u);
    BOOST_TEST(run.after_kill() > 0u, "no message was still unread when its sender was killed: "
                                      "the test did not try what it is for");
    auto st = m->stat();
    BOOST_TEST_REQUIRE(st.has_value());
    BOOST_TEST(st->count == 0u);
    BOOST_TEST(st->connections == 0u);
    if (!boost::unit_test::results_collector
             .results(boost::unit_test::framework::current_test_case().p_id)
             .passed()) {
        run.logs().keep();
        BOOST_TEST_MESSAGE("logs kept in " << run.logs().path());
    }
}
