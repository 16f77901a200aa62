// Competing processes on one queue, through the C API: producers and consumers with different
// selectors share a seqmqd queue (and, as a check of the checker, a kernel SysV queue under the
// same load); a message too long for one waiting receiver at the head of the queue; consumers
// killed with SIGKILL while they receive.
#define BOOST_TEST_MODULE seqmqd competing processes
#include "daemon_fixture.hpp"

#include <seqmq/seqmq.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <poll.h>
#include <random>
#include <sstream>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <type_traits>

using namespace daemon_test;

namespace {

// --- the queue under test: the kernel's or seqmqd's, through one code path -------------------

enum class backend { kernel, seqmqd };

const char* name_of(backend b) {
    return b == backend::kernel ? "kernel" : "seqmqd";
}

std::string errno_name(int error) {
    const char* name = ::strerrorname_np(error);
    return name ? name : std::to_string(error);
}

// One process's end of a queue under test: the kernel's msqid, or a connection to seqmqd of its
// own (a process opens one after fork(), never using its parent's).
class queue_end {
public:
    queue_end() = default;

    static queue_end kernel(int msqid) {
        queue_end e;
        e.kind_ = backend::kernel;
        e.msqid_ = msqid;
        return e;
    }

    // Opens the seqmqd queue `name`; ok() says whether that worked (errno says why not).
    static queue_end daemon(const std::string& name, int flags) {
        queue_end e;
        e.kind_ = backend::seqmqd;
        e.handle_ = seqmq_queue_open(name.c_str(), flags, 0600);
        return e;
    }

    queue_end(queue_end&& o) noexcept
        : kind_(o.kind_), msqid_(o.msqid_), handle_(std::exchange(o.handle_, nullptr)) {}
    queue_end& operator=(queue_end&& o) noexcept {
        std::swap(kind_, o.kind_);
        std::swap(msqid_, o.msqid_);
        std::swap(handle_, o.handle_);
        return *this;
    }
    ~queue_end() {
        if (handle_)
            seqmq_close(handle_);
    }

    bool ok() const { return kind_ == backend::kernel ? msqid_ >= 0 : handle_ != nullptr; }

    int send(const void* msgp, std::size_t size, int flags) {
        return kind_ == backend::kernel ? ::msgsnd(msqid_, msgp, size, flags)
                                        : seqmq_msgsnd(handle_, msgp, size, flags);
    }

    ssize_t receive(void* msgp, std::size_t size, long type, int flags) {
        return kind_ == backend::kernel ? ::msgrcv(msqid_, msgp, size, type, flags)
                                        : seqmq_msgrcv(handle_, msgp, size, type, flags);
    }

    int control(int cmd, msqid_ds* ds) {
        return kind_ == backend::kernel ? ::msgctl(msqid_, cmd, ds)
                                        : seqmq_msgctl(handle_, cmd, ds);
    }

private:
    backend kind_ = backend::kernel;
    int msqid_ = -1;
    seqmq_t* handle_ = nullptr;
};

// A queue under test as the test's process made it, with msg_qbytes `capacity`; children
// attach() their own end. A kernel queue is removed at the end, whatever happened.
class queue_under_test {
public:
    queue_under_test(backend kind, std::string name, std::size_t capacity)
        : kind_(kind), name_(std::move(name)) {
        if (kind_ == backend::kernel) {
            kernel_.id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
            BOOST_TEST_REQUIRE(kernel_.id >= 0, "msgget: " << std::strerror(errno));
            own_ = queue_end::kernel(kernel_.id);
        } else {
            own_ = queue_end::daemon(name_, IPC_CREAT | IPC_EXCL);
            BOOST_TEST_REQUIRE(own_.ok(),
                               "seqmq_queue_open " << name_ << ": " << std::strerror(errno));
        }
        msqid_ds ds{};
        BOOST_TEST_REQUIRE(own_.control(IPC_STAT, &ds) == 0, std::strerror(errno));
        ds.msg_qbytes = capacity;
        BOOST_TEST_REQUIRE(own_.control(IPC_SET, &ds) == 0,
                           "IPC_SET msg_qbytes " << capacity << ": " << std::strerror(errno));
    }

    backend kind() const { return kind_; }
    const char* kind_name() const { return name_of(kind_); }

    // This process's end (the parent's).
    queue_end& own() { return own_; }

    // A new end for a child process: in it, after fork().
    queue_end attach() const {
        return kind_ == backend::kernel ? queue_end::kernel(kernel_.id)
                                        : queue_end::daemon(name_, 0);
    }

    // IPC_RMID; 0 or -1 with errno.
    int remove() {
        const int r = own_.control(IPC_RMID, nullptr);
        if (r == 0)
            kernel_.id = -1;
        return r;
    }

    std::size_t queued() {
        msqid_ds ds{};
        return own_.control(IPC_STAT, &ds) == 0 ? ds.msg_qnum : SIZE_MAX;
    }

    // How many of `pids` wait in msgrcv. The kernel's queue: /proc/PID/syscall names msgrcv.
    // seqmqd's: the library may wait for the daemon's answer or for a record on a socket, so a
    // process counts when it sleeps in one and the same system call for 50 ms (seqmqd answers
    // anything but a receive that waits within microseconds).
    std::size_t blocked_receivers(const std::vector<pid_t>& pids) {
        return kind_ == backend::kernel ? in_call(pids, SYS_msgrcv) : sleeping_steadily(pids);
    }

    // How many of `pids` wait for room: in msgsnd on the kernel's queue; on seqmqd's, the sends
    // parked on the queue (a sender waiting for credit is not among them).
    std::size_t blocked_senders(const std::vector<pid_t>& pids) {
        if (kind_ == backend::kernel)
            return in_call(pids, SYS_msgsnd);
        auto s = stat();
        return s ? s->waiting_senders : 0;
    }

    // The receives seqmqd holds parked on the queue.
    std::size_t parked_receives() {
        auto s = stat();
        return s ? s->waiting_receivers : SIZE_MAX;
    }

private:
    // /proc/PID/syscall: the system call a process is in, with its arguments; empty if none.
    static std::string system_call_of(pid_t pid) {
        std::ifstream f("/proc/" + std::to_string(pid) + "/syscall");
        std::string line;
        std::getline(f, line);
        return line.empty() || line.starts_with("running") || line.starts_with("-1") ? "" : line;
    }

    static std::size_t in_call(const std::vector<pid_t>& pids, long call) {
        return std::size_t(std::count_if(pids.begin(), pids.end(), [&](pid_t pid) {
            const std::string line = system_call_of(pid);
            return !line.empty() && std::stol(line) == call;
        }));
    }

    static std::size_t sleeping_steadily(const std::vector<pid_t>& pids) {
        std::vector<std::string> first;
        for (pid_t pid : pids)
            first.push_back(system_call_of(pid));
        for (int look = 0; look < 5; ++look) {
            std::this_thread::sleep_for(10ms);
            for (std::size_t i = 0; i < pids.size(); ++i)
                if (system_call_of(pids[i]) != first[i])
                    first[i].clear();
        }
        return std::size_t(std::count_if(first.begin(), first.end(),
                                         [](const std::string& l) { return !l.empty(); }));
    }

    std::optional<seqmq::queue_stat> stat() {
        if (!watch_) {
            auto q = seqmq::queue::open(name_);
            if (!q)
                return std::nullopt;
            watch_.emplace(std::move(*q));
        }
        auto s = watch_->stat();
        return s ? std::optional(*s) : std::nullopt;
    }

    struct kernel_queue {
        int id = -1;
        ~kernel_queue() {
            if (id >= 0)
                ::msgctl(id, IPC_RMID, nullptr);
        }
    };

    backend kind_;
    std::string name_;
    kernel_queue kernel_;
    queue_end own_;
    std::optional<seqmq::queue> watch_;
};

// A pipe children write fixed-size reports to, read by the parent while they run. A report is
// one write() of at most PIPE_BUF bytes, so it is atomic: reports of several writers never
// interleave, and a writer killed while it writes leaves the whole report or nothing.
template <class Report>
class report_pipe {
    static_assert(std::is_trivially_copyable_v<Report> && sizeof(Report) <= PIPE_BUF);

public:
    report_pipe() { BOOST_TEST_REQUIRE(::pipe2(fd_, O_CLOEXEC) == 0); }
    ~report_pipe() {
        ::close(fd_[0]);
        ::close(fd_[1]);
    }
    report_pipe(const report_pipe&) = delete;
    report_pipe& operator=(const report_pipe&) = delete;

    // In a child. False if the report could not be written.
    bool write(const Report& r) const { return ::write(fd_[1], &r, sizeof r) == sizeof r; }

    // Appends to `out` the reports there, waiting up to `wait` for the first; returns how many.
    std::size_t read(std::vector<Report>& out, std::chrono::milliseconds wait) {
        pollfd p{fd_[0], POLLIN, 0};
        if (::poll(&p, 1, int(wait.count())) <= 0)
            return 0;
        std::array<std::byte, 64 * 1024> chunk;
        const ssize_t n = ::read(fd_[0], chunk.data(), chunk.size());
        if (n <= 0)
            return 0;
        pending_.insert(pending_.end(), chunk.begin(), chunk.begin() + n);
        const std::size_t whole = pending_.size() / sizeof(Report);
        for (std::size_t i = 0; i < whole; ++i) {
            Report r;
            std::memcpy(&r, pending_.data() + i * sizeof(Report), sizeof r);
            out.push_back(r);
        }
        pending_.erase(pending_.begin(), pending_.begin() + whole * sizeof(Report));
        return whole;
    }

    // Appends every report already there.
    void read_all(std::vector<Report>& out) {
        while (read(out, std::chrono::milliseconds(0)) > 0) {
        }
    }

private:
    int fd_[2];
    std::vector<std::byte> pending_;
};

struct wire_message {
    long mtype;
    char mtext[1024];
};

// Problems found, the first few kept word for word.
class problem_list {
public:
    void add(const std::string& what) {
        if (count_++ < 10)
            first_ += "\n  " + what;
    }
    std::size_t count() const { return count_; }
    const std::string& first() const { return first_; }

private:
    std::size_t count_ = 0;
    std::string first_;
};

// --- competing consumers ---------------------------------------------------------------------

constexpr int producer_count = 3;
constexpr std::uint32_t per_producer = 6000;
constexpr std::uint32_t message_total = producer_count * per_producer;
constexpr std::size_t min_size = 8, max_size = 208;
constexpr std::size_t load_capacity = 16384; // small: producers wait for room now and then

// What a message is, at its start: a consumer whose copy was cut to 16 bytes still knows it.
struct identity {
    std::uint8_t producer;
    std::uint8_t type;
    std::uint16_t size;
    std::uint32_t sequence;
};
static_assert(sizeof(identity) == min_size);

// The bytes after the identity, a function of it.
char filler(const identity& id, std::size_t at) {
    return char((id.sequence * 31u + id.producer * 7u + at) & 0xff);
}

void compose(wire_message& m, const identity& id) {
    m.mtype = id.type;
    std::memcpy(m.mtext, &id, sizeof id);
    for (std::size_t at = sizeof id; at < id.size; ++at)
        m.mtext[at] = filler(id, at);
}

// The identity of a received copy of `got` bytes (a receive with a buffer of `buffer`), if it is
// what its producer sent: its type, its length (cut to the buffer), every byte.
std::optional<identity> verify(const wire_message& m, ssize_t got, std::size_t buffer) {
    if (got < ssize_t(sizeof(identity)))
        return std::nullopt;
    identity id;
    std::memcpy(&id, m.mtext, sizeof id);
    if (id.producer >= producer_count || id.sequence >= per_producer || id.type != m.mtype ||
        id.size < min_size || id.size > max_size ||
        std::size_t(got) != std::min<std::size_t>(id.size, buffer))
        return std::nullopt;
    for (std::size_t at = sizeof id; at < std::size_t(got); ++at)
        if (m.mtext[at] != filler(id, at))
            return std::nullopt;
    return id;
}

struct consumer_kind {
    const char* name;
    long msgtyp;
    int flags;
    std::size_t buffer;
    bool (*admits)(long type);
};

constexpr std::size_t consumer_count = 5;
const std::array<consumer_kind, consumer_count> consumer_kinds{{
    {"msgtyp 0", 0, 0, max_size, [](long) { return true; }},
    {"msgtyp 0, 16-byte buffer, MSG_NOERROR", 0, MSG_NOERROR, 16, [](long) { return true; }},
    {"msgtyp 2", 2, 0, max_size, [](long t) { return t == 2; }},
    {"msgtyp -3", -3, 0, max_size, [](long t) { return t <= 3; }},
    {"msgtyp 1, MSG_EXCEPT", 1, MSG_EXCEPT, max_size, [](long t) { return t != 1; }},
}};

// A consumer's report: a message it took, or (`what` ended) how its last msgrcv failed.
struct receipt {
    enum kind : std::uint8_t { taken, not_as_sent, ended };
    std::uint8_t consumer;
    std::uint8_t what;
    std::uint8_t producer;
    std::uint8_t type;
    std::uint32_t sequence; // for `ended`: the errno
};

int produce(const queue_under_test& q, int producer) {
    queue_end end = q.attach();
    if (!end.ok())
        return 100;
    std::mt19937 rng(std::uint32_t(1000 + producer));
    std::uniform_int_distribution<int> type(1, 4);
    std::uniform_int_distribution<std::size_t> size(min_size, max_size);
    wire_message m{};
    for (std::uint32_t sequence = 0; sequence < per_producer; ++sequence) {
        const identity id{std::uint8_t(producer), std::uint8_t(type(rng)), std::uint16_t(size(rng)),
                          sequence};
        compose(m, id);
        if (end.send(&m, id.size, 0) != 0)
            return errno;
    }
    return 0;
}

// Takes messages until a msgrcv fails (EIDRM when the queue is removed), reporting each.
int consume(const queue_under_test& q, int consumer, const report_pipe<receipt>& out) {
    queue_end end = q.attach();
    if (!end.ok())
        return 100;
    const consumer_kind& k = consumer_kinds[std::size_t(consumer)];
    wire_message m{};
    for (;;) {
        const ssize_t got = end.receive(&m, k.buffer, k.msgtyp, k.flags);
        if (got < 0) {
            const int error = errno;
            out.write({std::uint8_t(consumer), receipt::ended, 0, 0, std::uint32_t(error)});
            return 0;
        }
        receipt r{std::uint8_t(consumer), receipt::not_as_sent, 0, std::uint8_t(m.mtype), 0};
        if (auto id = verify(m, got, k.buffer)) {
            r.what = receipt::taken;
            r.producer = id->producer;
            r.sequence = id->sequence;
        }
        if (!out.write(r))
            return 101;
    }
}

// What the consumers' receipts add up to: every message exactly once; each consumer sees one
// producer's messages of one type oldest first, and only types its selector admits.
class load_check {
public:
    load_check() : times_(producer_count, std::vector<int>(per_producer, 0)) {
        for (auto& c : last_)
            for (auto& p : c)
                p.fill(-1);
        ended_.fill(-1);
    }

    void take(const receipt& r) {
        const std::size_t c = r.consumer;
        if (c >= consumer_kinds.size())
            return order_.add("a receipt from no consumer: " + std::to_string(c));
        const std::string who = std::string("consumer '") + consumer_kinds[c].name + "'";
        if (r.what == receipt::ended) {
            ended_[c] = int(r.sequence);
            return;
        }
        if (r.what != receipt::taken || r.type < 1 || r.type > 4)
            return corrupt_.add(who + ": a message of type " + std::to_string(r.type) +
                                " not as its producer sent it");
        ++per_consumer_[c];
        if (times_[r.producer][r.sequence]++ == 0)
            ++distinct_;
        else
            duplicates_.add(who + ": producer " + std::to_string(r.producer) + " message " +
                            std::to_string(r.sequence) + " again");
        if (!consumer_kinds[c].admits(r.type))
            selection_.add(who + ": type " + std::to_string(r.type));
        std::int64_t& last = last_[c][r.producer][r.type - 1];
        if (std::int64_t(r.sequence) < last)
            order_.add(who + ": producer " + std::to_string(r.producer) + " type " +
                       std::to_string(r.type) + ": message " + std::to_string(r.sequence) +
                       " after " + std::to_string(last));
        last = std::max<std::int64_t>(last, r.sequence);
    }

    std::size_t distinct() const { return distinct_; }
    std::size_t missing() const { return message_total - distinct_; }

    void report(const char* backend_name) const {
        BOOST_TEST(missing() == 0u, backend_name << ": " << missing() << " of " << message_total
                                                 << " messages never received");
        BOOST_TEST(duplicates_.count() == 0u, backend_name
                                                  << ": " << duplicates_.count()
                                                  << " duplicates:" << duplicates_.first());
        BOOST_TEST(order_.count() == 0u,
                   backend_name << ": " << order_.count() << " out of order:" << order_.first());
        BOOST_TEST(selection_.count() == 0u, backend_name
                                                 << ": " << selection_.count()
                                                 << " selector violations:" << selection_.first());
        BOOST_TEST(corrupt_.count() == 0u,
                   backend_name << ": " << corrupt_.count() << " corrupt:" << corrupt_.first());
        std::ostringstream split;
        for (std::size_t c = 0; c < consumer_kinds.size(); ++c) {
            BOOST_TEST(ended_[c] == EIDRM,
                       backend_name
                           << ": consumer '" << consumer_kinds[c].name << "' ended with "
                           << (ended_[c] < 0 ? std::string("nothing") : errno_name(ended_[c])));
            split << (c ? ", " : "") << consumer_kinds[c].name << ": " << per_consumer_[c];
        }
        BOOST_TEST_MESSAGE(backend_name << ": " << distinct_ << " of " << message_total
                                        << " messages taken (" << split.str() << ")");
    }

private:
    std::vector<std::vector<int>> times_;
    std::array<std::array<std::array<std::int64_t, 4>, producer_count>, consumer_count> last_;
    std::array<std::size_t, consumer_count> per_consumer_{};
    std::array<int, consumer_count> ended_; // how each ended: an errno, -1 not yet
    std::size_t distinct_ = 0;
    problem_list duplicates_, order_, selection_, corrupt_;
};

void run_competing_load(backend kind) {
    const auto started = std::chrono::steady_clock::now();
    queue_under_test q(kind, "competing", load_capacity);
    report_pipe<receipt> receipts;
    std::vector<std::unique_ptr<child>> consumers;
    std::vector<pid_t> consumer_pids;
    for (int c = 0; c < int(consumer_kinds.size()); ++c) {
        consumers.push_back(std::make_unique<child>([&, c] { return consume(q, c, receipts); }));
        consumer_pids.push_back(consumers.back()->pid());
    }
    // Every consumer waits before the first message: the first ones go straight to waiters.
    BOOST_TEST_REQUIRE(
        eventually([&] { return q.blocked_receivers(consumer_pids) == consumer_count; }),
        q.kind_name() << ": the consumers did not all wait in msgrcv");
    std::vector<std::unique_ptr<child>> producers;
    std::vector<pid_t> producer_pids;
    for (int p = 0; p < producer_count; ++p) {
        producers.push_back(std::make_unique<child>([&, p] { return produce(q, p); }));
        producer_pids.push_back(producers.back()->pid());
    }

    load_check check;
    std::vector<receipt> batch;
    const auto limit = std::chrono::steady_clock::now() + 60s;
    // How close the producers came to waiting for room, and how often they were seen waiting.
    std::size_t fullest = 0, producers_waiting = 0;
    while (check.distinct() < message_total && std::chrono::steady_clock::now() < limit) {
        batch.clear();
        receipts.read(batch, 100ms);
        for (const receipt& r : batch)
            check.take(r);
        if (msqid_ds ds{}; q.own().control(IPC_STAT, &ds) == 0)
            fullest = std::max<std::size_t>(fullest, ds.__msg_cbytes);
        producers_waiting += q.blocked_senders(producer_pids);
    }
    for (int p = 0; p < producer_count; ++p) {
        const int status = producers[std::size_t(p)]->wait(10s);
        BOOST_TEST(status == 0, q.kind_name() << ": producer " << p << " ended with " << status
                                              << " (an errno; -1: killed, still sending)");
    }
    // Everything is accounted for (or the time is up): the consumers wait in msgrcv, and the
    // queue's removal ends their waits with EIDRM.
    BOOST_TEST(eventually([&] { return q.blocked_receivers(consumer_pids) == consumer_count; }),
               q.kind_name() << ": not every consumer waits in msgrcv at the end");
    BOOST_TEST(q.remove() == 0, std::strerror(errno));
    for (auto& c : consumers)
        BOOST_TEST(c->wait(10s) == 0);
    batch.clear();
    receipts.read_all(batch);
    for (const receipt& r : batch)
        check.take(r);
    check.report(q.kind_name());
    BOOST_TEST_MESSAGE(q.kind_name()
                       << ": " << producer_count << " producers, " << consumer_kinds.size()
                       << " consumers, at most " << fullest << " of " << load_capacity
                       << " bytes queued, producers seen waiting for room " << producers_waiting
                       << " times, "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count()
                       << " ms");
}

// --- E2BIG at the head -----------------------------------------------------------------------

constexpr std::size_t small_buffer = 16;
constexpr std::size_t large_buffer = sizeof(wire_message::mtext);
const std::string long_text = "a long message, longer than sixteen bytes";

using transcript = std::vector<std::string>;

std::string lines_of(const transcript& t) {
    std::string all;
    for (const auto& l : t)
        all += "\n  " + l;
    return all;
}

std::string outcome(ssize_t got, int error, const wire_message& m) {
    if (got < 0)
        return "-1 " + errno_name(error);
    return std::to_string(got) + " bytes, type " + std::to_string(m.mtype) + " '" +
           std::string(m.mtext, std::size_t(got)) + "'";
}

void send_text(queue_end& end, long type, const std::string& s) {
    wire_message m{};
    m.mtype = type;
    std::memcpy(m.mtext, s.data(), s.size());
    BOOST_TEST_REQUIRE(end.send(&m, s.size(), IPC_NOWAIT) == 0, std::strerror(errno));
}

// The long message, then two short ones behind it.
void send_long_then_short(queue_end& end) {
    send_text(end, 1, long_text);
    send_text(end, 1, "first behind");
    send_text(end, 2, "second");
}

// A child that makes one msgrcv (msgtyp 0, no MSG_NOERROR) with a buffer of `buffer` bytes and
// says what it got.
std::function<int()> receive_once(const queue_under_test& q, line_pipe& said, std::string who,
                                  std::size_t buffer) {
    return [&q, &said, who, buffer] {
        queue_end end = q.attach();
        wire_message m{};
        const ssize_t got = end.receive(&m, buffer, 0, 0);
        const int error = errno;
        said.write_line(who + " got " + outcome(got, error, m));
        return 0;
    };
}

// Starts a receiver and waits until it (and `before` others) wait in msgrcv.
std::unique_ptr<child> waiting_receiver(queue_under_test& q, line_pipe& said, std::string who,
                                        std::size_t buffer, std::vector<pid_t>& waiting) {
    auto c = std::make_unique<child>(receive_once(q, said, std::move(who), buffer));
    waiting.push_back(c->pid());
    BOOST_TEST_REQUIRE(eventually([&] { return q.blocked_receivers(waiting) == waiting.size(); }),
                       q.kind_name() << ": the receiver did not wait");
    return c;
}

// What each receiver said (sorted by name), then what the queue holds, in order.
void finish(queue_under_test& q, line_pipe& said, std::vector<std::unique_ptr<child>>& receivers,
            transcript& t) {
    for (auto& r : receivers)
        if (r->pid() > 0) // not waited for yet
            BOOST_TEST(r->wait(10s) == 0);
    said.close_write();
    auto lines = said.read_lines();
    std::sort(lines.begin(), lines.end());
    t.insert(t.end(), lines.begin(), lines.end());
    for (;;) {
        wire_message m{};
        const ssize_t got = q.own().receive(&m, large_buffer, 0, IPC_NOWAIT);
        t.push_back("then " + outcome(got, errno, m));
        if (got < 0)
            break;
    }
}

// Both wait, the small buffer first; the long message comes.
transcript long_message_while_both_wait(backend kind) {
    queue_under_test q(kind, "e2big-both-wait", load_capacity);
    line_pipe said;
    std::vector<pid_t> waiting;
    std::vector<std::unique_ptr<child>> receivers;
    receivers.push_back(waiting_receiver(q, said, "small", small_buffer, waiting));
    receivers.push_back(waiting_receiver(q, said, "large", large_buffer, waiting));
    send_long_then_short(q.own());
    transcript t;
    finish(q, said, receivers, t);
    return t;
}

// The long message is already at the head; the small buffer asks first, then the large one.
transcript long_message_already_queued(backend kind) {
    queue_under_test q(kind, "e2big-queued", load_capacity);
    send_long_then_short(q.own());
    line_pipe said;
    std::vector<std::unique_ptr<child>> receivers;
    receivers.push_back(std::make_unique<child>(receive_once(q, said, "small", small_buffer)));
    BOOST_TEST(receivers.back()->wait(10s) == 0);
    transcript t{"queued after the small receive: " + std::to_string(q.queued())};
    receivers.push_back(std::make_unique<child>(receive_once(q, said, "large", large_buffer)));
    finish(q, said, receivers, t);
    return t;
}

// Only the small buffer waits when the long message comes; the large one asks afterwards.
transcript long_message_while_small_waits(backend kind) {
    queue_under_test q(kind, "e2big-small-waits", load_capacity);
    line_pipe said;
    std::vector<pid_t> waiting;
    std::vector<std::unique_ptr<child>> receivers;
    receivers.push_back(waiting_receiver(q, said, "small", small_buffer, waiting));
    send_long_then_short(q.own());
    BOOST_TEST(receivers.back()->wait(10s) == 0);
    transcript t{"queued after the small receive: " + std::to_string(q.queued())};
    receivers.push_back(std::make_unique<child>(receive_once(q, said, "large", large_buffer)));
    finish(q, said, receivers, t);
    return t;
}

// Both wait, the large buffer first: it takes the long message, the small one the next.
transcript long_message_while_large_waits_first(backend kind) {
    queue_under_test q(kind, "e2big-large-first", load_capacity);
    line_pipe said;
    std::vector<pid_t> waiting;
    std::vector<std::unique_ptr<child>> receivers;
    receivers.push_back(waiting_receiver(q, said, "large", large_buffer, waiting));
    receivers.push_back(waiting_receiver(q, said, "small", small_buffer, waiting));
    send_long_then_short(q.own());
    transcript t;
    finish(q, said, receivers, t);
    return t;
}

// --- SIGKILL ---------------------------------------------------------------------------------

constexpr std::uint32_t stream_length = 20000;
constexpr std::uint32_t stream_sent = UINT32_MAX;        // the producer's report: all sent
constexpr std::uint32_t stream_corrupt = UINT32_MAX - 1; // a consumer's: not as sent
constexpr std::size_t crowd_size = 4;

struct numbered_message {
    long mtype;
    std::uint32_t number;
    std::uint32_t check; // ~number
};
constexpr std::size_t numbered_size = 2 * sizeof(std::uint32_t);

int stream_producer(const queue_under_test& q, const report_pipe<std::uint32_t>& out) {
    queue_end end = q.attach();
    if (!end.ok())
        return 100;
    for (std::uint32_t i = 0; i < stream_length; ++i) {
        const numbered_message m{1, i, ~i};
        if (end.send(&m, numbered_size, 0) != 0)
            return errno;
        if (i % 50 == 49) // a stream long enough for a few hundred kills, on the kernel too
            std::this_thread::sleep_for(1ms);
    }
    out.write(stream_sent);
    return 0;
}

// Reports each number the moment msgrcv returns it, until killed.
int stream_consumer(const queue_under_test& q, const report_pipe<std::uint32_t>& out) {
    queue_end end = q.attach();
    if (!end.ok())
        return 100;
    for (;;) {
        numbered_message m{};
        const ssize_t got = end.receive(&m, numbered_size, 1, 0);
        if (got < 0)
            return errno;
        const bool as_sent =
            got == ssize_t(numbered_size) && m.check == ~m.number && m.number < stream_length;
        out.write(as_sent ? m.number : stream_corrupt);
    }
}

struct stream_check {
    std::vector<int> times = std::vector<int>(stream_length, 0);
    std::size_t by_consumers = 0, by_parent = 0, corrupt = 0;
    bool producer_done = false;

    void take(const std::vector<std::uint32_t>& reports) {
        for (std::uint32_t r : reports) {
            if (r == stream_sent)
                producer_done = true;
            else if (r >= stream_length)
                ++corrupt;
            else {
                ++times[r];
                ++by_consumers;
            }
        }
    }
};

void run_killed_consumers(backend kind) {
    const auto started = std::chrono::steady_clock::now();
    queue_under_test q(kind, "stream", load_capacity);
    report_pipe<std::uint32_t> reports;
    stream_check check;
    std::vector<std::uint32_t> batch;
    auto collect = [&](std::chrono::milliseconds wait) {
        batch.clear();
        const std::size_t n = reports.read(batch, wait);
        check.take(batch);
        return n;
    };

    std::mt19937 rng(20240917);
    auto pick = [&](std::size_t lo, std::size_t hi) {
        return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
    };
    std::vector<std::unique_ptr<child>> crowd;
    auto start_consumer = [&] {
        return std::make_unique<child>([&] { return stream_consumer(q, reports); });
    };
    auto pids = [&] {
        std::vector<pid_t> all;
        for (auto& c : crowd)
            all.push_back(c->pid());
        return all;
    };
    auto all_blocked = [&] {
        return eventually([&] { return q.blocked_receivers(pids()) == crowd_size; });
    };
    std::size_t blocked_kills = 0, stream_kills = 0, final_kills = 0, ended_early = 0;
    auto kill_one = [&](std::size_t i) {
        crowd[i]->kill(SIGKILL);
        if (crowd[i]->wait(10s) != -1)
            ++ended_early; // it had ended by itself: a failed msgrcv
    };

    for (std::size_t i = 0; i < crowd_size; ++i)
        crowd.push_back(start_consumer());
    // While they wait for the first message.
    for (int k = 0; k < 3; ++k) {
        BOOST_TEST_REQUIRE(all_blocked(), q.kind_name() << ": the consumers did not wait");
        const std::size_t i = pick(0, crowd_size - 1);
        kill_one(i);
        crowd[i] = start_consumer();
        ++blocked_kills;
    }
    // While the stream flows: at random moments, in msgrcv or between two.
    child producer([&] { return stream_producer(q, reports); });
    const auto limit = std::chrono::steady_clock::now() + 60s;
    while (!check.producer_done && std::chrono::steady_clock::now() < limit) {
        collect(std::chrono::milliseconds(pick(0, 5)));
        const std::size_t i = pick(0, crowd_size - 1);
        kill_one(i);
        crowd[i] = start_consumer();
        ++stream_kills;
    }
    BOOST_TEST(producer.wait(10s) == 0);
    BOOST_TEST_REQUIRE(check.producer_done, q.kind_name() << ": the producer did not finish");
    // The rest drains; once the consumers have been quiet for a while, they wait: kill them.
    while (collect(300ms) > 0) {
    }
    BOOST_TEST(all_blocked(), q.kind_name() << ": the consumers do not wait at the end");
    for (std::size_t i = 0; i < crowd_size; ++i) {
        kill_one(i);
        ++final_kills;
    }
    collect(0ms);
    reports.read_all(batch);
    check.take(batch);

    // What is left is the parent's: messages a killed consumer was holding come back to the
    // queue once seqmqd sees its connection close, so wait a little for late ones.
    for (auto quiet_since = std::chrono::steady_clock::now();
         std::chrono::steady_clock::now() - quiet_since < 300ms;) {
        numbered_message m{};
        const ssize_t got = q.own().receive(&m, numbered_size, 0, IPC_NOWAIT);
        if (got < 0) {
            BOOST_TEST_REQUIRE(errno == ENOMSG, std::strerror(errno));
            std::this_thread::sleep_for(10ms);
            continue;
        }
        quiet_since = std::chrono::steady_clock::now();
        if (got != ssize_t(numbered_size) || m.check != ~m.number || m.number >= stream_length) {
            ++check.corrupt;
            continue;
        }
        ++check.times[m.number];
        ++check.by_parent;
    }
    BOOST_TEST(q.queued() == 0u);
    if (kind == backend::seqmqd)
        BOOST_TEST(eventually([&] { return q.parked_receives() == 0u; }),
                   "seqmqd still counts waits of killed consumers");

    const std::size_t kills = blocked_kills + stream_kills + final_kills;
    const auto missing = std::size_t(std::count(check.times.begin(), check.times.end(), 0));
    std::size_t duplicates = 0;
    std::string first_duplicates;
    for (std::uint32_t i = 0; i < stream_length; ++i)
        if (check.times[i] > 1 && duplicates++ < 10)
            first_duplicates +=
                " " + std::to_string(i) + " (" + std::to_string(check.times[i]) + " times)";
    BOOST_TEST_MESSAGE(q.kind_name() << ": " << stream_length << " sent; " << check.by_consumers
                                     << " reported by consumers, " << check.by_parent
                                     << " drained by the parent, " << missing
                                     << " missing (taken by a consumer killed before it reported), "
                                     << duplicates << " received twice; " << kills << " SIGKILLs ("
                                     << blocked_kills << " while all waited, " << stream_kills
                                     << " mid-stream, " << final_kills << " at the end), "
                                     << std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::steady_clock::now() - started)
                                            .count()
                                     << " ms");
    BOOST_TEST(duplicates == 0u, q.kind_name() << ": received twice:" << first_duplicates);
    BOOST_TEST(missing <= kills, q.kind_name() << ": " << missing << " missing, only " << kills
                                               << " consumers killed");
    BOOST_TEST(check.corrupt == 0u);
    BOOST_TEST(ended_early == 0u, q.kind_name()
                                      << ": " << ended_early << " consumers ended by themselves");
}

} // namespace

BOOST_AUTO_TEST_CASE(competing_consumers_take_each_message_once_in_order) {
    daemon_process d;
    // The checker first on the kernel's queue: it must pass there.
    run_competing_load(backend::kernel);
    run_competing_load(backend::seqmqd);
    BOOST_TEST(d.alive());
}

BOOST_AUTO_TEST_CASE(too_long_message_at_the_head_is_e2big_for_a_small_buffer_only) {
    daemon_process d;
    const std::string long_got =
        std::to_string(long_text.size()) + " bytes, type 1 '" + long_text + "'";
    struct scenario {
        const char* name;
        transcript (*run)(backend);
        transcript expected;
    };
    const std::vector<scenario> scenarios{
        {"sent while both wait, the small buffer first",
         long_message_while_both_wait,
         {"large got " + long_got, "small got -1 E2BIG", "then 12 bytes, type 1 'first behind'",
          "then 6 bytes, type 2 'second'", "then -1 ENOMSG"}},
        {"already queued",
         long_message_already_queued,
         {"queued after the small receive: 3", "large got " + long_got, "small got -1 E2BIG",
          "then 12 bytes, type 1 'first behind'", "then 6 bytes, type 2 'second'",
          "then -1 ENOMSG"}},
        {"sent while only the small buffer waits",
         long_message_while_small_waits,
         {"queued after the small receive: 3", "large got " + long_got, "small got -1 E2BIG",
          "then 12 bytes, type 1 'first behind'", "then 6 bytes, type 2 'second'",
          "then -1 ENOMSG"}},
        {"sent while both wait, the large buffer first",
         long_message_while_large_waits_first,
         {"large got " + long_got, "small got 12 bytes, type 1 'first behind'",
          "then 6 bytes, type 2 'second'", "then -1 ENOMSG"}},
    };
    for (const scenario& s : scenarios) {
        BOOST_TEST_CONTEXT(s.name) {
            const transcript kernel = s.run(backend::kernel);
            const transcript daemon = s.run(backend::seqmqd);
            BOOST_TEST((kernel == s.expected),
                       "kernel:" << lines_of(kernel) << "\nexpected:" << lines_of(s.expected));
            BOOST_TEST((daemon == kernel),
                       "seqmqd:" << lines_of(daemon) << "\nkernel:" << lines_of(kernel));
        }
    }
}

BOOST_AUTO_TEST_CASE(killed_consumers_lose_at_most_what_they_held_and_duplicate_nothing) {
    daemon_process d;
    run_killed_consumers(backend::kernel);
    run_killed_consumers(backend::seqmqd);
    BOOST_TEST(d.alive());
}
