// kill -9 chaos on one seqmqd queue: 4 producer and 4 consumer processes on one named queue,
// SIGKILLed at random moments (seeded; the seed is printed, $SEQMQ_CHAOS_SEED sets it) and
// restarted: one at a time, all producers or all consumers at once, producers while every
// consumer is stopped (the queue fills, producers wait for room), or producers while seqmqd is
// stopped for a few ms (what they sent on credit is still unread; $SEQMQ_CHAOS_FREEZE=0: not). Each
// producer logs "sent N" after its send returned, each consumer "got ID" after its receive
// returned, one write() a line. Consumers are killed in the first half of the run only, and the
// last messages of each producer go without kills: none sent after the last consumer kill may go
// missing, whatever happened to their producer. Then the consumers are stopped (SIGTERM, while they
// still receive), the queue is drained, and the logs must account for every message exactly (see
// reliability::ledger).
//
// Where each consumer was when killed is exact: it keeps a phase word in memory shared with
// the parent (receiving / returned with message ID / idle). A consumer killed after its receive
// returned gives its unlogged message by ID; only a kill inside a receive may lose a message.
#define BOOST_TEST_MODULE seqmqd SIGKILL chaos
#include "daemon_fixture.hpp"
#include "ledger.hpp"

#include <boost/test/results_collector.hpp>

#include <array>
#include <sstream>

using namespace daemon_test;
using namespace reliability;
using seqmq::receive_flags;
using seqmq::selector;

namespace {

constexpr std::uint32_t producer_count = 4, consumer_count = 4;
// Three phases, by the producers' progress: every kind of kill until each producer has sent
// consumer_chaos_end messages; then producers only (a lost message is then never a consumer's
// doing); the last calm_tail messages of each producer without kills.
constexpr std::uint32_t per_producer = 25000;
constexpr std::uint32_t consumer_chaos_end = 12000;
constexpr std::uint32_t calm_tail = 2000;
constexpr std::size_t most_kills = 1500;
// A producer rests 1 ms after every `pace` messages: the run lasts long enough for its kills.
constexpr std::uint32_t pace = 3;
constexpr std::size_t capacity = 8192; // small: producers wait for room now and then
constexpr auto chaos_limit = 90s;      // the producers must be done by then
const std::string queue_name = "chaos";

// How each consumer receives: the first two msgtyp 0 (the delivery socket), the others with
// selectors that admit every type (requests the daemon answers).
const std::array<selector, consumer_count> consumer_selectors{
    selector::any(), selector::any(), selector::lowest_up_to(3), selector::except_type(9)};

// Where a consumer is, in memory the parent reads after it died.
enum class phase : std::uint32_t { idle, receiving, returned };
struct consumer_state {
    std::atomic<phase> at{phase::idle};
    std::atomic<std::uint64_t> taken{0}; // message_id::key() of the message returned
};
struct worker_states {
    std::array<consumer_state, consumer_count> consumers;
    std::array<std::atomic<std::uint32_t>, producer_count> next; // after the last logged
};
static_assert(std::atomic<phase>::is_always_lock_free &&
              std::atomic<std::uint64_t>::is_always_lock_free);

volatile std::sig_atomic_t stop_requested = 0;
extern "C" void on_stop(int) {
    stop_requested = 1;
}

// A producer: sends its sequence from `first` up to per_producer, logging each once sent.
int produce(const seqmq::queue_options& options, std::uint32_t slot, std::uint32_t incarnation,
            std::uint32_t first, const std::string& log_path, std::atomic<std::uint32_t>& next) {
    line_log log(log_path);
    if (!log.ok() || !log.write("pid " + std::to_string(::getpid())))
        return 10;
    auto q = seqmq::queue::open(queue_name, seqmq::open_flags::none, 0600, options);
    if (!q) {
        log.write("error open: " + q.error().message());
        return 11;
    }
    std::array<std::byte, max_payload> buf;
    for (std::uint32_t seq = first; seq < per_producer; ++seq) {
        const message_id id{slot, incarnation, seq};
        const std::size_t size = compose(id, buf);
        const std::int64_t t0 = now_ns();
        auto r = q->send(message_type(id), std::span(buf).first(size));
        if (!r) {
            log.write("error send " + std::to_string(seq) + ": " + r.error().message());
            return 12;
        }
        if (!log.write(sent_line(seq, t0)))
            return 13;
        next = seq + 1;
        if (seq % pace == pace - 1)
            std::this_thread::sleep_for(1ms);
    }
    return 0;
}

// A consumer: receives until SIGTERM, logging each message once received.
int consume(const seqmq::queue_options& options, std::uint32_t slot, const std::string& log_path,
            consumer_state& state) {
    struct sigaction sa {};
    sa.sa_handler = on_stop; // no SA_RESTART: a wait ends with interrupted
    ::sigaction(SIGTERM, &sa, nullptr);
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    ::sigprocmask(SIG_UNBLOCK, &term, nullptr); // blocked by start_consumer() until now
    line_log log(log_path);
    if (!log.ok())
        return 10;
    auto q = seqmq::queue::open(queue_name, seqmq::open_flags::none, 0600, options);
    if (!q) {
        log.write("error open: " + q.error().message());
        return 11;
    }
    std::array<std::byte, max_payload> buf;
    while (!stop_requested) {
        state.at = phase::receiving;
        auto r = q->receive(buf, consumer_selectors[slot], receive_flags::none, 100ms);
        if (r) {
            auto id = verify(r->type, std::span(buf).first(r->size));
            if (!id || r->truncated()) {
                log.write("corrupt type " + std::to_string(r->type) + " size " +
                          std::to_string(r->untruncated_size));
            } else {
                state.taken = id->key();
                state.at = phase::returned;
                if (!log.write(got_line(*id)))
                    return 13;
            }
            state.at = phase::idle;
            continue;
        }
        state.at = phase::idle;
        if (r.error() == std::errc::timed_out || r.error() == std::errc::interrupted)
            continue;
        log.write("error receive: " + r.error().message());
        return 12;
    }
    return 0;
}

// Whether seqmqd is stopped now and then: yes, unless $SEQMQ_CHAOS_FREEZE is 0.
bool freezes_wanted() {
    const char* v = std::getenv("SEQMQ_CHAOS_FREEZE");
    return !v || std::string_view(v) != "0";
}

struct producer_slot {
    worker process;
    producer_run run;
    bool done = false;
};

struct consumer_slot {
    worker process;
    std::uint32_t incarnation = 0;
};

class chaos_run {
public:
    chaos_run(const daemon_process& d, std::uint32_t seed)
        : options_(d.options()), daemon_pid_(d.pid()), rng_(seed) {
        BOOST_TEST_REQUIRE(logs_.ok());
        BOOST_TEST_REQUIRE(states_.ok(), "mmap: " << std::strerror(errno));
    }
    ~chaos_run() { ::kill(daemon_pid_, SIGCONT); } // never leave seqmqd stopped
    chaos_run(const chaos_run&) = delete;
    chaos_run& operator=(const chaos_run&) = delete;

    // Starts every worker.
    void start() {
        for (std::uint32_t s = 0; s < producer_count; ++s) {
            producers_[s].run.slot = s;
            start_producer(producers_[s], 0);
        }
        for (std::uint32_t s = 0; s < consumer_count; ++s)
            start_consumer(s);
    }

    // Kills workers at random moments, restarting each, until the producers are done: see the
    // phases above (kills stop after most_kills too). False if they were not done in time.
    bool run_chaos() {
        const auto until = std::chrono::steady_clock::now() + chaos_limit;
        while (!producers_done()) {
            if (std::chrono::steady_clock::now() > until || problems_.size() > 20)
                return false;
            std::this_thread::sleep_for(std::chrono::microseconds(pick(0, 20000)));
            reap_ended();
            if (!consumers_in_chaos() && !consumers_calm_since_)
                consumers_calm_since_ = now_ns();
            if (kills() >= most_kills || calm()) {
                if (!calm_since_)
                    calm_since_ = now_ns();
                continue;
            }
            if (const std::size_t what = pick(0, 99); what < 4)
                stall_consumers();
            else if (what >= 96 && freeze_daemon_)
                freeze_daemon();
            else if (what < 6)
                kill_all(what == 5 && consumers_in_chaos() ? role::consumer : role::producer);
            else
                kill_one();
        }
        return true;
    }

    // Stops the consumers with SIGTERM, while they still receive what is left: a wait that a
    // signal interrupts gives its message back, or takes it and logs it.
    void stop_consumers() {
        for (std::uint32_t s = 0; s < consumer_count; ++s)
            consumers_[s].process.signal(SIGTERM);
        for (std::uint32_t s = 0; s < consumer_count; ++s) {
            auto status = consumers_[s].process.wait(10s);
            if (!status || !exited_ok(*status))
                problems_.push_back("consumer " + std::to_string(s) + "." +
                                    std::to_string(consumers_[s].incarnation) + " did not stop (" +
                                    (status ? describe_status(*status) : "still running") + ")");
        }
    }

    // Reads every consumer's log into the ledger.
    void read_consumer_logs() {
        for (const std::string& path : consumer_logs_)
            for (const std::string& l : read_lines(path)) {
                unsigned slot = 0, inc = 0, seq = 0;
                if (std::sscanf(l.c_str(), "got %u %u %u", &slot, &inc, &seq) == 3)
                    ledger_.received({slot, inc, seq}, found_by::consumer_log);
                else if (l.starts_with("corrupt"))
                    ++corrupt_;
                else
                    problems_.push_back(path + ": " + l);
            }
    }

    ledger& book() { return ledger_; }
    std::size_t& corrupt() { return corrupt_; }
    const std::vector<std::string>& problems() const { return problems_; }
    std::size_t producer_kills() const { return producer_kills_; }
    std::size_t consumer_kills() const { return consumer_kills_; }
    std::size_t stall_kills() const { return stall_kills_; }
    std::size_t stalls() const { return stalls_; }
    std::size_t massacres() const { return massacres_; }
    std::size_t freezes() const { return freezes_; }
    std::size_t freeze_kills() const { return freeze_kills_; }
    std::size_t kills() const { return producer_kills_ + consumer_kills_; }
    std::size_t kills_while_idle() const { return kills_while_idle_; }
    std::size_t kills_after_return() const { return kills_after_return_; }
    long calm_ms() const { return calm_since_ ? elapsed_ms(calm_since_) : 0; }
    long producers_only_ms() const {
        return consumers_calm_since_ ? elapsed_ms(consumers_calm_since_) - calm_ms() : 0;
    }
    log_directory& logs() { return logs_; }

private:
    std::size_t pick(std::size_t lo, std::size_t hi) {
        return std::uniform_int_distribution<std::size_t>(lo, hi)(rng_);
    }

    bool producers_done() const {
        return std::all_of(producers_.begin(), producers_.end(),
                           [](const producer_slot& p) { return p.done; });
    }

    // A producer in its calm tail is killed no more.
    bool in_chaos(const producer_slot& p) const {
        return !p.done &&
               states_->next[std::size_t(&p - producers_.data())] < per_producer - calm_tail;
    }

    bool calm() const {
        return std::none_of(producers_.begin(), producers_.end(),
                            [&](const producer_slot& p) { return in_chaos(p); });
    }

    // Consumers are killed until every producer has sent consumer_chaos_end messages.
    bool consumers_in_chaos() const {
        for (std::size_t i = 0; i < producer_count; ++i)
            if (!producers_[i].done && states_->next[i] < consumer_chaos_end)
                return true;
        return false;
    }

    void start_producer(producer_slot& p, std::uint32_t incarnation) {
        p.run = producer_run{};
        p.run.slot = std::uint32_t(&p - producers_.data());
        p.run.incarnation = incarnation;
        p.run.first = next_sequence_[p.run.slot];
        const std::string path = logs_.file("producer", p.run.slot, incarnation);
        const auto slot = p.run.slot, first = p.run.first;
        states_->next[slot] = first;
        p.process = worker([&, slot, incarnation, first, path] {
            return produce(options_, slot, incarnation, first, path, states_->next[slot]);
        });
    }

    // Records how the producer's run ended and starts the next, unless it had sent everything.
    void producer_ended(producer_slot& p, int status) {
        p.run.status = status;
        p.run.killed = killed_by_sigkill(status);
        p.run.read_log(logs_.file("producer", p.run.slot, p.run.incarnation));
        if (!p.run.killed && !exited_ok(status))
            problems_.push_back("producer " + std::to_string(p.run.slot) + "." +
                                std::to_string(p.run.incarnation) + " ended with " +
                                describe_status(status));
        const std::uint32_t slot = p.run.slot, incarnation = p.run.incarnation + 1;
        next_sequence_[slot] = p.run.next();
        ledger_.add_run(std::move(p.run));
        p.done = next_sequence_[slot] >= per_producer;
        if (!p.done)
            start_producer(p, incarnation);
    }

    void start_consumer(std::uint32_t slot) {
        const std::string path = logs_.file("consumer", slot, consumers_[slot].incarnation);
        consumer_logs_.push_back(path);
        // SIGTERM stays blocked until the consumer handles it: a stop never kills one.
        sigset_t term, old;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        ::sigprocmask(SIG_BLOCK, &term, &old);
        consumer_state& state = states_->consumers[slot];
        state.at = phase::idle;
        consumers_[slot].process =
            worker([&, slot, path] { return consume(options_, slot, path, state); });
        ::sigprocmask(SIG_SETMASK, &old, nullptr);
    }

    // Records where the consumer was when it ended, and starts the next.
    void consumer_ended(std::uint32_t slot, int status) {
        if (killed_by_sigkill(status)) {
            const consumer_state& state = states_->consumers[slot];
            switch (state.at.load()) {
            case phase::idle:
                ++kills_while_idle_;
                break;
            case phase::receiving:
                ledger_.killed_in_receive_at(now_ns());
                break;
            case phase::returned: {
                // Its receive returned; the message is in its log if the write() was done.
                ++kills_after_return_;
                const message_id id = message_id::from_key(state.taken);
                const auto lines =
                    read_lines(logs_.file("consumer", slot, consumers_[slot].incarnation));
                if (lines.empty() || lines.back() != got_line(id))
                    ledger_.received(id, found_by::killed_consumer);
                break;
            }
            }
        } else {
            problems_.push_back("consumer " + std::to_string(slot) + "." +
                                std::to_string(consumers_[slot].incarnation) +
                                " ended by itself: " + describe_status(status));
        }
        ++consumers_[slot].incarnation;
        start_consumer(slot);
    }

    // Workers that ended by themselves: producers that sent everything, or failures.
    void reap_ended() {
        for (auto& p : producers_)
            if (!p.done)
                if (auto status = p.process.poll())
                    producer_ended(p, *status);
        for (std::uint32_t s = 0; s < consumer_count; ++s)
            if (auto status = consumers_[s].process.poll())
                consumer_ended(s, *status);
    }

    // SIGKILLs one running worker, chosen at random, and restarts it.
    void kill_one() {
        std::vector<std::size_t> alive;
        for (std::size_t i = 0; i < producer_count; ++i)
            if (in_chaos(producers_[i]))
                alive.push_back(i);
        for (std::size_t i = 0; i < consumer_count && consumers_in_chaos(); ++i)
            alive.push_back(producer_count + i);
        if (alive.empty())
            return;
        const std::size_t victim = alive[pick(0, alive.size() - 1)];
        if (victim < producer_count) {
            const int status = producers_[victim].process.kill();
            producer_kills_ += killed_by_sigkill(status);
            producer_ended(producers_[victim], status);
        } else {
            const auto slot = std::uint32_t(victim - producer_count);
            const int status = consumers_[slot].process.kill();
            consumer_kills_ += killed_by_sigkill(status);
            consumer_ended(slot, status);
        }
    }

    enum class role { producer, consumer };

    // SIGKILLs every running producer, or every consumer, at once; then restarts them.
    void kill_all(role r) {
        ++massacres_;
        if (r == role::producer) {
            std::vector<producer_slot*> victims;
            for (auto& p : producers_)
                if (in_chaos(p)) {
                    p.process.signal(SIGKILL);
                    victims.push_back(&p);
                }
            for (producer_slot* p : victims) {
                const int status = p->process.reap();
                producer_kills_ += killed_by_sigkill(status);
                producer_ended(*p, status);
            }
            return;
        }
        for (auto& c : consumers_)
            c.process.signal(SIGKILL);
        for (std::uint32_t s = 0; s < consumer_count; ++s) {
            const int status = consumers_[s].process.reap();
            consumer_kills_ += killed_by_sigkill(status);
            consumer_ended(s, status);
        }
    }

    // Stops seqmqd for a few milliseconds (as a daemon the scheduler left out), and kills a
    // producer or two meanwhile: what they sent on credit is still unread when it goes on.
    void freeze_daemon() {
        ++freezes_;
        ::kill(daemon_pid_, SIGSTOP);
        std::this_thread::sleep_for(std::chrono::milliseconds(pick(2, 30)));
        for (std::size_t k = pick(1, 2); k > 0; --k) {
            auto& p = producers_[pick(0, producer_count - 1)];
            if (!in_chaos(p))
                continue;
            const int status = p.process.kill();
            producer_kills_ += killed_by_sigkill(status);
            freeze_kills_ += killed_by_sigkill(status);
            producer_ended(p, status);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(pick(0, 10)));
        ::kill(daemon_pid_, SIGCONT);
    }

    // Stops every consumer for a while (the queue fills, producers wait for room), kills a
    // producer or two meanwhile, and lets the consumers go on.
    void stall_consumers() {
        ++stalls_;
        for (auto& c : consumers_)
            c.process.signal(SIGSTOP);
        std::this_thread::sleep_for(std::chrono::milliseconds(pick(20, 120)));
        for (std::size_t k = pick(1, 2); k > 0; --k) {
            auto& p = producers_[pick(0, producer_count - 1)];
            if (!in_chaos(p))
                continue;
            const int status = p.process.kill();
            producer_kills_ += killed_by_sigkill(status);
            stall_kills_ += killed_by_sigkill(status);
            producer_ended(p, status);
        }
        for (auto& c : consumers_)
            c.process.signal(SIGCONT);
    }

    seqmq::queue_options options_;
    pid_t daemon_pid_;
    std::mt19937 rng_;
    log_directory logs_;
    std::array<producer_slot, producer_count> producers_;
    std::array<std::uint32_t, producer_count> next_sequence_{};
    std::array<consumer_slot, consumer_count> consumers_;
    std::vector<std::string> consumer_logs_;
    shared_memory<worker_states> states_;
    ledger ledger_;
    std::vector<std::string> problems_;
    std::size_t producer_kills_ = 0, consumer_kills_ = 0, stall_kills_ = 0, stalls_ = 0;
    std::size_t massacres_ = 0, corrupt_ = 0, kills_while_idle_ = 0, kills_after_return_ = 0;
    std::int64_t calm_since_ = 0, consumers_calm_since_ = 0;
    std::size_t freezes_ = 0, freeze_kills_ = 0;
    bool freeze_daemon_ = freezes_wanted();
};

// What seqmqd's log says about the clients `pids`.
std::string daemon_lines(const daemon_process& d, const std::vector<pid_t>& pids) {
    std::string said;
    std::istringstream log(d.log_text());
    for (std::string line; std::getline(log, line);)
        for (pid_t pid : pids)
            if (line.find("pid " + std::to_string(pid) + ":") != std::string::npos ||
                line.find("pid " + std::to_string(pid) + " ") != std::string::npos)
                said += "\n  " + line;
    return said;
}

// A failed run's logs stay, for a look at what each worker did.
void keep_logs_if_failed(log_directory& logs, const daemon_process& d) {
    const auto id = boost::unit_test::framework::current_test_case().p_id;
    if (!boost::unit_test::results_collector.results(id).passed()) {
        logs.keep();
        if (FILE* f = std::fopen((logs.path() + "/seqmqd.log").c_str(), "w")) {
            const std::string text = d.log_text();
            std::fwrite(text.data(), 1, text.size(), f);
            std::fclose(f);
        }
        BOOST_TEST_MESSAGE("logs (and seqmqd's) kept in " << logs.path());
    }
}

} // namespace

BOOST_AUTO_TEST_CASE(every_message_sent_is_received_once_through_kill_9) {
    const std::int64_t started = now_ns();
    const std::uint32_t seed = chaos_seed();
    BOOST_TEST_MESSAGE("seed " << seed << " (SEQMQ_CHAOS_SEED=" << seed << " to choose the same)");
    daemon_process d;
    auto own = open_queue(d, queue_name, capacity);
    chaos_run run(d, seed);
    run.start();
    const bool in_time = run.run_chaos();
    if (!in_time)
        run.logs().keep();
    BOOST_TEST_REQUIRE(in_time, "the producers were not done within "
                                    << chaos_limit.count() << " s; logs in " << run.logs().path());
    const long chaos_ms = elapsed_ms(started), calm_ms = run.calm_ms();
    const long producers_only_ms = run.producers_only_ms();
    run.stop_consumers();

    // What the consumers left, and what killed ones held, is the parent's now. (A message a
    // killed consumer held comes back once seqmqd sees its connection close: wait a little.)
    std::array<std::byte, max_payload> buf;
    for (std::int64_t quiet_since = now_ns(); now_ns() - quiet_since < 300'000'000;) {
        auto r = own.receive(buf, selector::any(), receive_flags::nowait);
        if (!r) {
            BOOST_TEST_REQUIRE((r.error() == std::errc::no_message), why(r));
            std::this_thread::sleep_for(10ms);
            continue;
        }
        quiet_since = now_ns();
        if (auto id = verify(r->type, std::span(buf).first(r->size)); id && !r->truncated())
            run.book().received(*id, found_by::drain);
        else
            ++run.corrupt();
    }
    run.read_consumer_logs();
    auto st = own.stat();
    BOOST_TEST_REQUIRE(st.has_value(), why(st));
    BOOST_TEST(st->count == 0u);
    BOOST_TEST(st->bytes == 0u);
    BOOST_TEST(eventually([&] { return waiting_receivers(own) == 0; }),
               "seqmqd still counts waiting receives of killed consumers");
    BOOST_TEST(own.stat()->waiting_senders == 0u, "seqmqd still counts waiting sends");
    auto info = seqmq::queue::info(d.options());
    BOOST_TEST_REQUIRE(info.has_value(), why(info));
    BOOST_TEST(info->messages == 0u);
    BOOST_TEST(eventually(
                   [&] {
                       auto i = seqmq::queue::info(d.options());
                       return i && i->memory == 0;
                   },
                   5s),
               "seqmqd still holds memory for messages or credit");
    BOOST_TEST_MESSAGE("seqmqd at the end: " << info->messages << " messages, " << info->bytes
                                             << " bytes, " << info->memory << " bytes of memory, "
                                             << info->clients << " clients");

    const ledger::outcome o = run.book().settle();
    BOOST_TEST_MESSAGE(
        "seed " << seed << ": " << o.logged << " logged as sent by " << producer_count
                << " producers; found " << o.found << " (" << o.by_consumers
                << " in consumer logs, " << o.by_killed
                << " received but unlogged, from killed consumers' memory, " << o.by_drain
                << " drained); " << o.sent_unlogged
                << " sent but unlogged (in flight at a producer kill):" << o.sent_unlogged_ids
                << "; " << o.missing << " lost inside a receive cut short by a kill:"
                << o.missing_ids << "; " << o.duplicates << " duplicates, " << o.unknown
                << " unknown, " << run.corrupt() << " corrupt; " << run.kills() << " SIGKILLs ("
                << run.producer_kills() << " producers, " << run.stall_kills() << " of them in "
                << run.stalls() << " consumer stalls; " << run.consumer_kills()
                << " consumers: " << o.kills_in_receive << " inside a receive, "
                << run.kills_after_return() << " after one returned, " << run.kills_while_idle()
                << " between; " << run.massacres()
                << " times all producers or all consumers at once; " << run.freeze_kills()
                << " producers while seqmqd was stopped, in " << run.freezes() << " freezes); "
                << o.after_last_kill << " messages sent after the last kill inside a receive; "
                << "chaos " << chaos_ms << " ms (producers only " << producers_only_ms
                << " ms, then a calm tail of " << calm_ms << " ms), wall time "
                << elapsed_ms(started) << " ms");
    BOOST_TEST(o.logged == std::size_t(producer_count) * per_producer);
    BOOST_TEST(o.duplicates == 0u, "received more than once:" << o.duplicate_ids);
    BOOST_TEST(o.unknown == 0u, "received, never sent:" << o.unknown_ids);
    BOOST_TEST(run.corrupt() == 0u, "messages not as sent");
    BOOST_TEST(o.missing <= o.kills_in_receive,
               o.missing << " logged as sent and never received, only " << o.kills_in_receive
                         << " consumers killed inside a receive:" << o.missing_ids);
    if (o.missing > 0)
        BOOST_TEST_MESSAGE("missing messages by producer run:"
                           << o.missing_by_run << "\nseqmqd said of those producers:"
                           << daemon_lines(d, o.missing_pids));
    BOOST_TEST(
        o.missing_unexplained == 0u,
        "lost with no consumer killed inside a receive after they were sent:" << o.missing_ids);
    BOOST_TEST(o.after_last_kill > 0u, "no calm tail: every message could have been lost");
    BOOST_TEST(o.sent_unlogged <= o.producer_kills);
    BOOST_TEST(o.producer_errors == 0u, o.first_errors);
    std::string problems;
    for (const auto& p : run.problems())
        problems += "\n  " + p;
    BOOST_TEST(run.problems().empty(), "workers that failed:" << problems);
    BOOST_TEST(run.kills() > 0u);
    BOOST_TEST(d.alive());
    keep_logs_if_failed(run.logs(), d);
}
