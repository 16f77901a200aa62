// Soak: 16 producer and 8 consumer processes on one seqmqd queue, 200,000 messages through the
// C API (msgsnd/msgrcv as on a SysV queue, consumers with different msgtyp). Every message must
// be received exactly once, as sent; the wall time is reported.
#define BOOST_TEST_MODULE seqmqd soak
#include "daemon_fixture.hpp"
#include "ledger.hpp"

#include <seqmq/seqmq.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <sys/mman.h>

using namespace daemon_test;
using reliability::elapsed_ms;
using reliability::now_ns;

namespace {

constexpr std::uint32_t producer_count = 16, consumer_count = 8;
constexpr std::uint32_t message_total = 200'000;
constexpr std::uint32_t per_producer = message_total / producer_count;
static_assert(per_producer * producer_count == message_total);
constexpr std::size_t capacity = 16384;
constexpr std::size_t min_size = 8, max_size = 128;
const char* const queue_name = "soak";

struct wire_message {
    long mtype;
    char mtext[max_size];
};

// The first bytes of a message; the rest is filler, a function of them.
struct identity {
    std::uint32_t producer, sequence;
};
static_assert(sizeof(identity) == min_size);

std::size_t size_of(const identity& id) {
    return min_size + (id.sequence * 7919u + id.producer * 13u) % (max_size - min_size + 1);
}
long type_of(const identity& id) {
    return long(1 + (id.sequence + id.producer) % 4);
}
char filler(const identity& id, std::size_t at) {
    return char((id.sequence * 31u + id.producer * 7u + at) & 0xff);
}

// How each consumer receives: msgtyp 0, the lowest type up to 4, or any type but 1.
struct consumer_kind {
    long msgtyp;
    int flags;
};
constexpr consumer_kind consumer_kinds[] = {{0, 0}, {0, 0}, {-4, 0}, {1, SEQMQ_MSG_EXCEPT}};

// What the processes share: how often each message was received, by whom, and what was wrong.
struct tally {
    std::atomic<std::uint64_t> received{0}, corrupt{0};
    std::atomic<std::uint64_t> per_consumer[consumer_count];
    std::atomic<std::uint32_t> times[message_total];
};

// A tally in memory shared with the children (MAP_SHARED, before they are forked).
class shared_tally {
public:
    shared_tally() {
        void* p = ::mmap(nullptr, sizeof(tally), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                         -1, 0);
        BOOST_TEST_REQUIRE(p != MAP_FAILED, std::strerror(errno));
        t_ = new (p) tally; // zero-filled pages: every counter starts at 0
    }
    ~shared_tally() { ::munmap(t_, sizeof(tally)); }
    shared_tally(const shared_tally&) = delete;
    shared_tally& operator=(const shared_tally&) = delete;
    tally& operator*() const { return *t_; }
    tally* operator->() const { return t_; }

private:
    tally* t_;
};

int produce(std::uint32_t producer) {
    seqmq_t* q = seqmq_queue_open(queue_name, 0, 0600);
    if (!q) {
        std::fprintf(stderr, "producer %u: open: %s\n", producer, std::strerror(errno));
        return 10;
    }
    wire_message m{};
    for (std::uint32_t seq = 0; seq < per_producer; ++seq) {
        const identity id{producer, seq};
        const std::size_t size = size_of(id);
        m.mtype = type_of(id);
        std::memcpy(m.mtext, &id, sizeof id);
        for (std::size_t at = sizeof id; at < size; ++at)
            m.mtext[at] = filler(id, at);
        if (seqmq_msgsnd(q, &m, size, 0) != 0) {
            std::fprintf(stderr, "producer %u: msgsnd %u: %s\n", producer, seq,
                         std::strerror(errno));
            return 11;
        }
    }
    seqmq_close(q);
    return 0;
}

// Receives until the queue is removed (EIDRM), counting each message in the tally.
int consume(std::uint32_t consumer, tally& t) {
    seqmq_t* q = seqmq_queue_open(queue_name, 0, 0600);
    if (!q) {
        std::fprintf(stderr, "consumer %u: open: %s\n", consumer, std::strerror(errno));
        return 10;
    }
    const consumer_kind& k = consumer_kinds[consumer % std::size(consumer_kinds)];
    wire_message m{};
    for (;;) {
        const ssize_t got = seqmq_msgrcv(q, &m, max_size, k.msgtyp, k.flags);
        if (got < 0) {
            if (errno == EIDRM)
                break;
            std::fprintf(stderr, "consumer %u: msgrcv: %s\n", consumer, std::strerror(errno));
            return 11;
        }
        identity id{};
        std::memcpy(&id, m.mtext, std::min<std::size_t>(sizeof id, std::size_t(got)));
        bool as_sent = std::size_t(got) >= sizeof id && id.producer < producer_count &&
                       id.sequence < per_producer && std::size_t(got) == size_of(id) &&
                       m.mtype == type_of(id);
        for (std::size_t at = sizeof id; as_sent && at < std::size_t(got); ++at)
            as_sent = m.mtext[at] == filler(id, at);
        if (as_sent)
            t.times[id.producer * per_producer + id.sequence].fetch_add(1);
        else
            t.corrupt.fetch_add(1);
        t.per_consumer[consumer].fetch_add(1);
        t.received.fetch_add(1);
    }
    seqmq_close(q);
    return 0;
}

} // namespace

BOOST_AUTO_TEST_CASE(every_message_of_a_long_run_is_received_exactly_once) {
    daemon_process d;
    auto own = open_queue(d, queue_name, capacity);
    shared_tally t;

    const std::int64_t started = now_ns();
    std::vector<std::unique_ptr<child>> consumers, producers;
    for (std::uint32_t c = 0; c < consumer_count; ++c)
        consumers.push_back(std::make_unique<child>([&t, c] { return consume(c, *t); }));
    for (std::uint32_t p = 0; p < producer_count; ++p)
        producers.push_back(std::make_unique<child>([p] { return produce(p); }));
    for (std::uint32_t p = 0; p < producer_count; ++p)
        BOOST_TEST(producers[p]->wait(200s) == 0, "producer " << p);
    const long sent_ms = elapsed_ms(started);
    BOOST_TEST(eventually([&] { return t->received.load() >= message_total; }, 30s),
               t->received.load() << " of " << message_total << " received");
    const long received_ms = elapsed_ms(started);
    auto st = own.stat();
    BOOST_TEST_REQUIRE(st.has_value(), why(st));
    BOOST_TEST(st->count == 0u);
    BOOST_TEST_REQUIRE(own.remove().has_value()); // the consumers end with EIDRM
    for (std::uint32_t c = 0; c < consumer_count; ++c)
        BOOST_TEST(consumers[c]->wait(10s) == 0, "consumer " << c);

    std::size_t once = 0, never = 0, twice = 0;
    std::string first_wrong;
    for (std::uint32_t i = 0; i < message_total; ++i) {
        const std::uint32_t n = t->times[i].load();
        once += n == 1;
        never += n == 0;
        twice += n > 1;
        if (n != 1 && never + twice <= 10)
            first_wrong += " " + std::to_string(i / per_producer) + "#" +
                           std::to_string(i % per_producer) + "(x" + std::to_string(n) + ")";
    }
    std::string split;
    for (std::uint32_t c = 0; c < consumer_count; ++c)
        split += (c ? ", " : "") + std::to_string(t->per_consumer[c].load());
    const long total_ms = elapsed_ms(started);
    BOOST_TEST_MESSAGE(message_total
                       << " messages, " << producer_count << " producers x " << consumer_count
                       << " consumers: " << once << " received once, " << never << " never, "
                       << twice << " more than once, " << t->corrupt.load()
                       << " corrupt; per consumer " << split << "; all sent after " << sent_ms
                       << " ms, all received after " << received_ms << " ms ("
                       << (received_ms > 0 ? message_total * 1000ull / std::uint64_t(received_ms)
                                           : 0)
                       << " messages/s), wall time " << total_ms << " ms");
    BOOST_TEST(once == std::size_t(message_total),
               never << " never received, " << twice << " more than once:" << first_wrong);
    BOOST_TEST(t->received.load() == std::uint64_t(message_total));
    BOOST_TEST(t->corrupt.load() == 0u);
    BOOST_TEST(d.alive());
}
