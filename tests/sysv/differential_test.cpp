// Differential test: the same pseudo-random operations applied to a System V message queue (the
// oracle: the kernel) and to a seqmq mailbox through the C API must give identical return values,
// errno, message types and bytes — including every msgrcv selector, MSG_NOERROR, MSG_COPY and the
// invalid combinations the kernel rejects.
//
// Both queues are sized so that no send ever waits: inside a private IPC namespace (unshare) the
// SysV limit msgmnb is raised to 4 MiB and the mailbox gets the same capacity; if unshare is not
// permitted both stay at 16384 bytes and the generator never queues more than that. In both
// cases the generator also keeps the backlog small enough to sit in the sender's socket buffer,
// because in one process nobody drains the mailbox's sockets between two calls.
// Receives use IPC_NOWAIT, except those the kernel answers at once anyway (EINVAL before looking
// at the queue; in one test case, receives that a queued message matches), so nothing blocks; a
// watchdog turns a call that waits anyway into an EINTR the kernel never gave, or a report.
//
// A failure names the seed, the index of the first operation where the two differ, the
// operation, the queue before it, both results and the operations before it. The first test case
// runs the harness on two kernel queues, which must agree: a failure there is the test's own.

#include <seqmq/seqmq.h>

#define BOOST_TEST_MODULE sysv_differential
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <sched.h>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <vector>

#include "kernel_queue.hpp"
#include "sysv/operation_generator.hpp"

static_assert(SEQMQ_MSG_EXCEPT == MSG_EXCEPT);
static_assert(SEQMQ_MSG_COPY == MSG_COPY);

namespace {

// The operations, their model and generator: sysv/operation_generator.hpp.
using namespace seqmq::test::differential;

constexpr std::size_t raised_capacity = 4 * 1024 * 1024; // msgmnb inside the private namespace
constexpr std::size_t deep_backlog_bytes = 65536;        // high-water mark in a raised namespace

// ---------------------------------------------------------------------------------------------
// The environment: a private IPC namespace with a large msgmnb when possible.

environment& env() {
    static environment e;
    return e;
}

bool write_file(const char* path, const std::string& text) {
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    return ok;
}

struct ipc_namespace_fixture {
    ipc_namespace_fixture() {
        environment& e = env();
        // Only this process's IPC namespace changes; the host's limits are never touched.
        if (::unshare(CLONE_NEWIPC) != 0) {
            e.how = std::string("unshare(CLONE_NEWIPC) failed (") + std::strerror(errno) +
                    "): queues stay at 16384 bytes and the generator stays below that";
        } else if (!write_file("/proc/sys/kernel/msgmnb", std::to_string(raised_capacity))) {
            e.how = std::string("private IPC namespace, but writing msgmnb failed (") +
                    std::strerror(errno) + "): queues stay at 16384 bytes";
        } else {
            e.capacity = raised_capacity;
            e.backlog_limit = deep_backlog_bytes;
            e.how = "private IPC namespace, msgmnb = msg_qbytes = seqmq capacity = " +
                    std::to_string(raised_capacity);
        }
        e.msg_copy = kernel_has_msg_copy();
        if (!e.msg_copy)
            e.how += "; this kernel lacks MSG_COPY, so no MSG_COPY operations are generated";
        BOOST_TEST_MESSAGE("environment: " << e.how);
    }
};
BOOST_TEST_GLOBAL_FIXTURE(ipc_namespace_fixture);

// ---------------------------------------------------------------------------------------------
// A watchdog for calls that must not wait: SIGALRM every 2 s (no SA_RESTART), so a call that
// waits is interrupted and shows up as an EINTR the kernel never returned; if it still has not
// returned after 10 s, the operation is reported and the process ends.

char pending_report[2048];
volatile sig_atomic_t watchdog_rings = 0;

extern "C" void on_watchdog(int) {
    watchdog_rings = watchdog_rings + 1;
    if (watchdog_rings < 5)
        return;
    static const char head[] = "\nFATAL: differential test: a call did not return within 10 s\n";
    (void)!::write(STDERR_FILENO, head, sizeof head - 1);
    (void)!::write(STDERR_FILENO, pending_report, ::strnlen(pending_report, sizeof pending_report));
    _exit(3);
}

class watchdog {
public:
    explicit watchdog(const std::string& what) {
        static bool installed = [] {
            struct sigaction sa {};
            sa.sa_handler = on_watchdog;
            ::sigemptyset(&sa.sa_mask);
            ::sigaction(SIGALRM, &sa, nullptr);
            return true;
        }();
        (void)installed;
        std::snprintf(pending_report, sizeof pending_report, "%s\n", what.c_str());
        watchdog_rings = 0;
        itimerval every_2s{{2, 0}, {2, 0}};
        ::setitimer(ITIMER_REAL, &every_2s, nullptr);
    }
    ~watchdog() {
        itimerval off{};
        ::setitimer(ITIMER_REAL, &off, nullptr);
    }
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;
};

// ---------------------------------------------------------------------------------------------
// The two sides, with msgsnd/msgrcv's signatures.

class queue_under_test {
public:
    virtual ~queue_under_test() = default;
    virtual const char* name() const = 0;
    virtual int send(const void* msgp, std::size_t msgsz, int msgflg) = 0;
    virtual ssize_t receive(void* msgp, std::size_t msgsz, long msgtyp, int msgflg) = 0;
};

class sysv_queue final : public queue_under_test {
public:
    explicit sysv_queue(std::size_t capacity) { id_ = seqmq_test::private_kernel_queue(capacity); }
    ~sysv_queue() override { ::msgctl(id_, IPC_RMID, nullptr); }
    sysv_queue(const sysv_queue&) = delete;
    sysv_queue& operator=(const sysv_queue&) = delete;

    const char* name() const override { return "SysV"; }
    // Straight to the kernel: a sanitizer's msgsnd interceptor would read msgsz bytes of a
    // buffer the kernel rejects unread (msgsz > LONG_MAX).
    int send(const void* msgp, std::size_t msgsz, int msgflg) override {
        return static_cast<int>(::syscall(SYS_msgsnd, id_, msgp, msgsz, msgflg));
    }
    ssize_t receive(void* msgp, std::size_t msgsz, long msgtyp, int msgflg) override {
        return ::syscall(SYS_msgrcv, id_, msgp, msgsz, msgtyp, msgflg);
    }

private:
    int id_ = -1;
};

class seqmq_queue final : public queue_under_test {
public:
    explicit seqmq_queue(std::size_t capacity) {
        static int serial = 0;
        address_ = "unix:@seqmq-differential-" + std::to_string(::getpid()) + "-" +
                   std::to_string(++serial);
        seqmq_options_t opts;
        seqmq_options_init(&opts);
        opts.capacity = capacity;
        opts.max_message_size = msgmax;
        opts.connect_timeout_ms = 0;
        {
            watchdog w("seqmq_mailbox_open(\"" + address_ + "\")");
            mailbox_ = seqmq_mailbox_open(address_.c_str(), &opts);
        }
        BOOST_TEST_REQUIRE(mailbox_ != nullptr,
                           "seqmq_mailbox_open(" << address_ << "): " << std::strerror(errno));
        {
            watchdog w("seqmq_connect(\"" + address_ + "\") in the mailbox's own process");
            sender_ = seqmq_connect(address_.c_str(), &opts);
        }
        BOOST_TEST_REQUIRE(sender_ != nullptr,
                           "seqmq_connect(" << address_ << "): " << std::strerror(errno));
    }
    ~seqmq_queue() override {
        if (sender_)
            seqmq_close(sender_);
        if (mailbox_)
            seqmq_close(mailbox_);
    }
    seqmq_queue(const seqmq_queue&) = delete;
    seqmq_queue& operator=(const seqmq_queue&) = delete;

    const char* name() const override { return "seqmq"; }
    int send(const void* msgp, std::size_t msgsz, int msgflg) override {
        return seqmq_msgsnd(sender_, msgp, msgsz, msgflg);
    }
    ssize_t receive(void* msgp, std::size_t msgsz, long msgtyp, int msgflg) override {
        return seqmq_msgrcv(mailbox_, msgp, msgsz, msgtyp, msgflg);
    }

private:
    std::string address_;
    seqmq_t* mailbox_ = nullptr;
    seqmq_t* sender_ = nullptr;
};

// What a call did: its return value, errno, and for a receive the whole { long mtype; char
// mtext[msgsz]; } buffer afterwards (it starts as the same pattern on both sides, so bytes the
// call must not touch are compared too).
struct outcome {
    long rc = 0;
    int error = 0;
    std::vector<unsigned char> buffer;
};

long buffer_mtype(const outcome& o) {
    long t = 0;
    if (o.buffer.size() >= sizeof t)
        std::memcpy(&t, o.buffer.data(), sizeof t);
    return t;
}

std::string hex(const unsigned char* p, std::size_t n, std::size_t limit = 32) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < n && i < limit; ++i) {
        s += digits[p[i] >> 4];
        s += digits[p[i] & 15];
    }
    if (n > limit)
        s += "… (" + std::to_string(n) + " bytes)";
    return s;
}

std::string describe(const outcome& o, const operation& op) {
    std::ostringstream s;
    if (o.rc < 0) {
        s << "returned " << o.rc << ", errno " << error_name(o.error) << " ("
          << std::strerror(o.error) << ")";
        return s.str();
    }
    s << "returned " << o.rc;
    if (op.kind == op_kind::receive && o.buffer.size() >= sizeof(long)) {
        std::size_t n =
            std::min<std::size_t>(static_cast<std::size_t>(o.rc), o.buffer.size() - sizeof(long));
        s << ", mtype " << type_text(buffer_mtype(o)) << ", mtext "
          << hex(o.buffer.data() + sizeof(long), n);
    }
    return s.str();
}

constexpr unsigned char pattern(std::size_t i) {
    return static_cast<unsigned char>(i * 131 + 7);
}

outcome run(queue_under_test& q, const operation& op, const std::string& context) {
    // Exactly sizeof(long) + mtext bytes, so a sanitizer build catches a write past the end.
    std::size_t total = sizeof(long) + op.mtext_allocated;
    auto storage = std::make_unique<unsigned char[]>(total);
    unsigned char* buf = storage.get();
    if (op.kind == op_kind::send) {
        std::memcpy(buf, &op.type, sizeof op.type);
        if (!op.payload.empty())
            std::memcpy(buf + sizeof(long), op.payload.data(), op.payload.size());
    } else {
        for (std::size_t i = 0; i < total; ++i)
            buf[i] = pattern(i);
    }
    void* msgp = op.null_buffer ? nullptr : buf;
    outcome o;
    {
        watchdog w(context + "\n  " + q.name() + ": " + describe(op) + " did not return");
        errno = 0;
        o.rc = op.kind == op_kind::send
                   ? q.send(msgp, op.size, op.flags)
                   : static_cast<long>(q.receive(msgp, op.size, op.type, op.flags));
        o.error = o.rc < 0 ? errno : 0;
    }
    if (op.kind == op_kind::receive)
        o.buffer.assign(buf, buf + total);
    return o;
}

// ---------------------------------------------------------------------------------------------
// The comparison.

struct tally {
    std::size_t sends = 0, receives = 0, waiting = 0, copies = 0, truncated = 0;
    std::size_t max_count = 0, max_bytes = 0;
    std::array<std::size_t, 5> errors{}; // EINVAL, ENOMSG, E2BIG, EFAULT, other
    // `met`: the size of the message the operation met, if any (from the model, before it).
    void note(const operation& op, const outcome& o, std::optional<std::size_t> met,
              const queue_model& model) {
        (op.kind == op_kind::send ? sends : receives)++;
        if (op.kind == op_kind::receive && !(op.flags & IPC_NOWAIT))
            waiting++;
        if ((op.flags & MSG_COPY) && o.rc >= 0)
            copies++;
        if (op.kind == op_kind::receive && o.rc >= 0 && met && *met > op.size)
            truncated++;
        if (o.rc < 0)
            errors[o.error == EINVAL   ? 0
                   : o.error == ENOMSG ? 1
                   : o.error == E2BIG  ? 2
                   : o.error == EFAULT ? 3
                                       : 4]++;
        max_count = std::max(max_count, model.count());
        max_bytes = std::max(max_bytes, model.bytes());
    }
    std::string text() const {
        std::ostringstream s;
        s << sends << " sends, " << receives << " receives (" << waiting << " without IPC_NOWAIT, "
          << copies << " MSG_COPY, " << truncated
          << " truncated by MSG_NOERROR); errors: " << errors[0] << " EINVAL, " << errors[1]
          << " ENOMSG, " << errors[2] << " E2BIG, " << errors[3] << " EFAULT, " << errors[4]
          << " other; deepest queue " << max_count << " messages / " << max_bytes << " bytes";
        return s.str();
    }
};

// Empty when the two outcomes agree; else what differs.
std::string difference(const operation& op, const outcome& a, const outcome& b) {
    std::ostringstream s;
    if (a.rc != b.rc)
        s << "return value " << a.rc << " vs " << b.rc << "; ";
    if (a.error != b.error)
        s << "errno " << error_name(a.error) << " vs " << error_name(b.error) << "; ";
    if (op.kind == op_kind::receive && a.buffer != b.buffer) {
        std::size_t n = std::min(a.buffer.size(), b.buffer.size());
        std::size_t i = 0;
        while (i < n && a.buffer[i] == b.buffer[i])
            ++i;
        if (i < sizeof(long)) {
            std::array<unsigned char, sizeof(long)> before;
            for (std::size_t k = 0; k < before.size(); ++k)
                before[k] = pattern(k);
            long untouched = 0;
            std::memcpy(&untouched, before.data(), sizeof untouched);
            s << "mtype " << type_text(buffer_mtype(a)) << " vs " << type_text(buffer_mtype(b))
              << " (" << type_text(untouched) << " is the pattern the call found there); ";
        } else {
            std::size_t at = i - sizeof(long);
            std::size_t len = a.rc > 0 ? static_cast<std::size_t>(a.rc) : 0;
            s << "mtext byte " << at << " differs (0x" << hex(&a.buffer[i], 1) << " vs 0x"
              << hex(&b.buffer[i], 1) << ")"
              << (at >= len ? ", past the bytes the kernel wrote" : "") << "; ";
        }
    }
    return s.str();
}

struct run_result {
    bool agreed = true;
    std::string report;
};

// Applies `count` generated operations to both queues, then drains both; stops at the first
// operation where they differ.
run_result differential_run(queue_under_test& oracle, queue_under_test& candidate,
                            std::uint64_t seed, std::size_t count, generator_config config,
                            tally& stats) {
    const environment& e = env();
    generator gen(seed, std::move(config), e);
    queue_model model;
    std::deque<std::string> recent; // the last operations, for context
    auto context = [&](std::size_t index, std::string_view phase) {
        std::ostringstream s;
        s << "seed " << seed << ", " << phase << (phase.empty() ? "" : " ") << "operation #"
          << index << " (" << e.how << ")";
        return s.str();
    };
    auto report = [&](std::size_t index, std::string_view phase, const operation& op,
                      const outcome& a, const outcome& b, const std::string& diff,
                      const std::string& queue_before) {
        std::ostringstream s;
        s << "first divergence: " << context(index, phase) << "\n  operation: " << describe(op)
          << "\n  queue before (model, oldest first, type:size): " << queue_before << "\n  "
          << oracle.name() << ": " << describe(a, op) << "\n  " << candidate.name() << ": "
          << describe(b, op) << "\n  differs in: " << diff << "\n  the operations before it:";
        for (const auto& r : recent)
            s << "\n    " << r;
        return run_result{false, s.str()};
    };
    auto remember = [&](std::size_t index, const operation& op, const outcome& o) {
        recent.push_back("#" + std::to_string(index) + " " + describe(op) + " -> " +
                         describe(o, op));
        if (recent.size() > 12)
            recent.pop_front();
    };

    for (std::size_t i = 0; i < count; ++i) {
        operation op = gen.next(model);
        std::string ctx = context(i, "");
        std::string before = model.summary();
        outcome a = run(oracle, op, ctx);
        prediction p = model.predict(op);
        std::optional<std::size_t> met;
        if (op.kind == op_kind::receive)
            if (auto at = model.find(op.type, op.flags))
                met = model.at(*at).size;
        if (p.rc != a.rc || p.error != a.error) {
            std::ostringstream s;
            s << "TEST FAULT (not a seqmq bug): the test's model disagrees with the kernel at "
              << ctx << ": " << describe(op) << " on " << before << ": kernel " << describe(a, op)
              << ", model predicted rc " << p.rc << " errno " << error_name(p.error);
            return {false, s.str()};
        }
        outcome b = run(candidate, op, ctx);
        model.apply(op, p);
        stats.note(op, a, met, model);
        if (std::string diff = difference(op, a, b); !diff.empty())
            return report(i, "", op, a, b, diff, before);
        remember(i, op, a);
    }

    // Drain both with msgrcv(msgmax, 0, IPC_NOWAIT) and compare what is left, message by message.
    std::size_t left = model.count();
    for (std::size_t i = 0; i <= left; ++i) {
        operation op{op_kind::receive, 0, msgmax, IPC_NOWAIT, msgmax, false, {}};
        std::string before = model.summary();
        outcome a = run(oracle, op, context(i, "drain"));
        outcome b = run(candidate, op, context(i, "drain"));
        prediction p = model.predict(op);
        model.apply(op, p);
        if (std::string diff = difference(op, a, b); !diff.empty())
            return report(i, "drain", op, a, b, diff, before);
        remember(i, op, a);
        if (i == left && !(a.rc == -1 && a.error == ENOMSG))
            return {false, "TEST FAULT: the SysV queue held more than the model expected"};
    }
    return {};
}

struct seqmq_vs_sysv {
    std::size_t capacity = env().capacity;
    sysv_queue oracle{capacity};
    seqmq_queue candidate{capacity};
};

constexpr std::size_t operations_per_seed = 10000;

void check_seed(std::uint64_t seed, generator_config config, std::size_t count) {
    seqmq_vs_sysv queues;
    tally stats;
    run_result r =
        differential_run(queues.oracle, queues.candidate, seed, count, std::move(config), stats);
    BOOST_TEST_MESSAGE("seed " << seed << ": " << stats.text());
    BOOST_TEST(r.agreed, r.report);
}

} // namespace

BOOST_AUTO_TEST_SUITE(sysv_differential)

// The harness itself on two SysV queues, which must agree: it checks the generator and the model.
BOOST_AUTO_TEST_CASE(harness_agrees_with_itself_on_two_kernel_queues) {
    sysv_queue a{env().capacity}, b{env().capacity};
    tally stats;
    run_result r = differential_run(a, b, 12345, operations_per_seed, small_types(), stats);
    BOOST_TEST_MESSAGE("SysV vs SysV: " << stats.text());
    BOOST_TEST(r.agreed, r.report);
}

BOOST_DATA_TEST_CASE(seqmq_matches_sysv,
                     boost::unit_test::data::make({1ULL, 2ULL, 3ULL, 20240607ULL, 0xdecafULL}),
                     seed) {
    check_seed(seed, small_types(), operations_per_seed);
}

// Receives without IPC_NOWAIT, where a message matches so that the kernel does not wait.
BOOST_DATA_TEST_CASE(seqmq_matches_sysv_with_waiting_receives,
                     boost::unit_test::data::make({201ULL, 202ULL}), seed) {
    check_seed(seed, small_types_waiting(), operations_per_seed);
}

// Any positive long is a valid mtype: types that do not fit 32 bits, or that collide when cut
// to 32 bits, and selectors around them.
BOOST_DATA_TEST_CASE(seqmq_matches_sysv_with_wide_types,
                     boost::unit_test::data::make({101ULL, 102ULL}), seed) {
    check_seed(seed, wide_types(), operations_per_seed);
}

// The classic layout, a struct with a long mtype and a fixed mtext array, as programs declare it.
BOOST_AUTO_TEST_CASE(classic_msgbuf_struct) {
    struct song_request {
        long mtype;
        char mtext[64];
    };
    seqmq_vs_sysv queues;
    queue_under_test* sides[] = {&queues.oracle, &queues.candidate};
    std::array<song_request, 2> got{};
    std::array<long, 2> rc{};
    std::array<int, 2> err{};
    for (int side = 0; side < 2; ++side) {
        queue_under_test& q = *sides[side];
        song_request m{};
        m.mtype = 3;
        std::snprintf(m.mtext, sizeof m.mtext, "Bohemian Rhapsody");
        BOOST_TEST_REQUIRE(q.send(&m, std::strlen(m.mtext) + 1, 0) == 0, q.name());
        m.mtype = 1;
        std::snprintf(m.mtext, sizeof m.mtext, "Dancing Queen");
        BOOST_TEST_REQUIRE(q.send(&m, sizeof m.mtext, 0) == 0, q.name());

        std::memset(&got[side], 0x5a, sizeof got[side]);
        rc[side] = q.receive(&got[side], sizeof got[side].mtext, -5, IPC_NOWAIT);
        BOOST_TEST(rc[side] == static_cast<long>(sizeof got[side].mtext), q.name());
        BOOST_TEST(got[side].mtype == 1, q.name());
        BOOST_TEST(std::string(got[side].mtext) == "Dancing Queen", q.name());

        // 10 bytes of an 18-byte message, truncated by MSG_NOERROR; the rest of mtext untouched.
        std::memset(&got[side], 0x5a, sizeof got[side]);
        rc[side] = q.receive(&got[side], 10, 3, IPC_NOWAIT | MSG_NOERROR);
        BOOST_TEST(rc[side] == 10, q.name());
        BOOST_TEST(got[side].mtype == 3, q.name());
        BOOST_TEST(std::string_view(got[side].mtext, 10) == "Bohemian R", q.name());
        BOOST_TEST(got[side].mtext[10] == '\x5a', q.name() << ": wrote past msgsz");

        rc[side] = q.receive(&got[side], sizeof got[side].mtext, 0, IPC_NOWAIT);
        err[side] = errno;
        BOOST_TEST(rc[side] == -1, q.name());
        BOOST_TEST(err[side] == ENOMSG, q.name());
    }
    BOOST_TEST(std::memcmp(&got[0], &got[1], sizeof got[0]) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
