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

static_assert(SEQMQ_MSG_EXCEPT == MSG_EXCEPT);
static_assert(SEQMQ_MSG_COPY == MSG_COPY);

namespace {

constexpr std::size_t msgmax = 8192;                     // Linux default, unchanged by the test
constexpr std::size_t raised_capacity = 4 * 1024 * 1024; // msgmnb inside the private namespace
constexpr std::size_t default_capacity = 16384;          // Linux default msgmnb
// What a single-process sender can have in flight: AF_UNIX charges each record's skb (rounded up
// to a power of two, plus overhead) to the sender's 208 KiB send buffer until the mailbox reads
// it. The generator keeps its estimate of that well below the buffer.
constexpr std::size_t socket_budget = 150000;
constexpr std::size_t deep_backlog_bytes = 65536; // high-water mark in a raised namespace

// ---------------------------------------------------------------------------------------------
// The environment: a private IPC namespace with a large msgmnb when possible.

struct environment {
    std::size_t capacity = default_capacity; // msg_qbytes and seqmq capacity
    std::size_t backlog_limit = default_capacity;
    bool msg_copy = true; // CONFIG_CHECKPOINT_RESTORE: MSG_COPY works
    std::string how;
};

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

// Whether this kernel implements MSG_COPY (it needs CONFIG_CHECKPOINT_RESTORE).
bool kernel_has_msg_copy() {
    int id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (id < 0)
        return false;
    struct {
        long mtype;
        char mtext[8];
    } m{1, {}};
    ::msgsnd(id, &m, sizeof m.mtext, IPC_NOWAIT);
    bool ok = ::msgrcv(id, &m, sizeof m.mtext, 0, MSG_COPY | IPC_NOWAIT) == sizeof m.mtext;
    ::msgctl(id, IPC_RMID, nullptr);
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
    explicit sysv_queue(std::size_t capacity) {
        id_ = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        BOOST_TEST_REQUIRE(id_ >= 0, "msgget: " << std::strerror(errno));
        msqid_ds ds{};
        BOOST_TEST_REQUIRE(::msgctl(id_, IPC_STAT, &ds) == 0, "IPC_STAT: " << std::strerror(errno));
        ds.msg_qbytes = capacity;
        BOOST_TEST_REQUIRE(::msgctl(id_, IPC_SET, &ds) == 0,
                           "IPC_SET msg_qbytes=" << capacity << ": " << std::strerror(errno));
    }
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

// ---------------------------------------------------------------------------------------------
// Operations.

// splitmix64: the same sequence for a seed on every platform and standard library.
class random_source {
public:
    explicit random_source(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    /// Uniform in [0, n).
    std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
    /// Uniform in [lo, hi].
    long between(long lo, long hi) {
        return lo + static_cast<long>(below(static_cast<std::uint64_t>(hi - lo) + 1));
    }
    bool percent(unsigned p) { return below(100) < p; }

private:
    std::uint64_t state_;
};

enum class op_kind { send, receive };

struct operation {
    op_kind kind = op_kind::send;
    long type = 0;                      // send: mtype; receive: msgtyp
    std::size_t size = 0;               // msgsz
    int flags = 0;                      // msgflg
    std::size_t mtext_allocated = 0;    // bytes of mtext really allocated (< size only for EINVAL)
    bool null_buffer = false;           // msgp = NULL
    std::vector<unsigned char> payload; // send: mtext
};

std::string flags_text(int flags) {
    std::string s;
    auto add = [&](int bit, const char* name) {
        if (flags & bit) {
            s += s.empty() ? "" : "|";
            s += name;
            flags &= ~bit;
        }
    };
    add(IPC_NOWAIT, "IPC_NOWAIT");
    add(MSG_NOERROR, "MSG_NOERROR");
    add(MSG_EXCEPT, "MSG_EXCEPT");
    add(MSG_COPY, "MSG_COPY");
    if (flags)
        s += (s.empty() ? "" : "|") + std::to_string(flags);
    return s.empty() ? "0" : s;
}

std::string size_text(std::size_t n) {
    if (n > static_cast<std::size_t>(LONG_MAX))
        return n == SIZE_MAX ? "SIZE_MAX" : std::to_string(n) + " (> LONG_MAX)";
    return std::to_string(n);
}

std::string type_text(long t) {
    if (t == LONG_MIN)
        return "LONG_MIN";
    if (t == LONG_MAX)
        return "LONG_MAX";
    if (t == -LONG_MAX)
        return "-LONG_MAX";
    return std::to_string(t);
}

std::string describe(const operation& op) {
    std::ostringstream s;
    const char* msgp = op.null_buffer ? "NULL" : "buf";
    if (op.kind == op_kind::send)
        s << "msgsnd(" << msgp << "{mtype=" << type_text(op.type)
          << "}, msgsz=" << size_text(op.size) << ", " << flags_text(op.flags) << ")";
    else
        s << "msgrcv(" << msgp << ", msgsz=" << size_text(op.size)
          << ", msgtyp=" << type_text(op.type) << ", " << flags_text(op.flags) << ")";
    if (!op.null_buffer && op.mtext_allocated < op.size)
        s << " [mtext buffer really " << op.mtext_allocated << " bytes]";
    return s.str();
}

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

std::string error_name(int e) {
    const char* n = ::strerrorname_np(e);
    return n ? std::string(n) : std::to_string(e);
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
// A model of the queue (types and sizes, in arrival order), used to steer the generator — which
// message a selector will take, so buffer sizes land on the interesting boundaries; how much is
// queued, so no send waits. It is checked against the kernel on every operation: a disagreement
// is a fault of this test, reported as such.

struct queued {
    long type;
    std::size_t size;
};

struct prediction {
    long rc = 0;
    int error = 0;
    std::optional<std::size_t> removes; // index leaving the queue
};

class queue_model {
public:
    std::size_t count() const { return messages_.size(); }
    std::size_t bytes() const { return bytes_; }
    const queued& at(std::size_t i) const { return messages_[i]; }

    /// The index the kernel's find_msg would pick.
    std::optional<std::size_t> find(long msgtyp, int msgflg) const {
        if (msgflg & MSG_COPY) {
            if (msgtyp < 0 || static_cast<std::size_t>(msgtyp) >= messages_.size())
                return std::nullopt;
            return static_cast<std::size_t>(msgtyp);
        }
        if (msgtyp == 0)
            return messages_.empty() ? std::nullopt : std::optional<std::size_t>(0);
        if (msgtyp < 0) {
            long limit = msgtyp == LONG_MIN ? LONG_MAX : -msgtyp;
            std::optional<std::size_t> best;
            for (std::size_t i = 0; i < messages_.size(); ++i)
                if (messages_[i].type <= limit &&
                    (!best || messages_[i].type < messages_[*best].type))
                    best = i;
            return best;
        }
        bool except = (msgflg & MSG_EXCEPT) != 0;
        for (std::size_t i = 0; i < messages_.size(); ++i)
            if ((messages_[i].type == msgtyp) != except)
                return i;
        return std::nullopt;
    }

    /// What Linux does (ipc/msg.c, do_msgsnd / do_msgrcv), for a queue that never fills.
    prediction predict(const operation& op) const {
        prediction p;
        auto fail = [&](int e) {
            p.rc = -1;
            p.error = e;
            return p;
        };
        if (op.kind == op_kind::send) {
            if (op.null_buffer)
                return fail(EFAULT); // get_user(mtype) comes first
            if (op.size > msgmax || static_cast<long>(op.size) < 0 || op.type < 1)
                return fail(EINVAL);
            return p;
        }
        if (static_cast<long>(op.size) < 0)
            return fail(EINVAL);
        if ((op.flags & MSG_COPY) && ((op.flags & MSG_EXCEPT) || !(op.flags & IPC_NOWAIT)))
            return fail(EINVAL);
        auto i = find(op.type, op.flags);
        // EDEADLK stands for "would wait", which the generator never lets happen.
        if (!i)
            return fail(op.flags & IPC_NOWAIT ? ENOMSG : EDEADLK);
        const queued& m = messages_[*i];
        if (op.size < m.size && !(op.flags & MSG_NOERROR))
            return fail(E2BIG);
        if (op.flags & MSG_COPY) {
            // copy_msg() into a dummy of min(msgsz, msgmax) bytes refuses a longer message.
            if (std::min(op.size, msgmax) < m.size)
                return fail(EINVAL);
            p.rc = static_cast<long>(m.size);
            return p;
        }
        p.rc = static_cast<long>(std::min(op.size, m.size));
        p.removes = *i;
        return p;
    }

    void apply(const operation& op, const prediction& p) {
        if (op.kind == op_kind::send && p.rc == 0) {
            messages_.push_back({op.type, op.size});
            bytes_ += op.size;
        } else if (p.removes) {
            bytes_ -= messages_[*p.removes].size;
            messages_.erase(messages_.begin() + static_cast<std::ptrdiff_t>(*p.removes));
        }
    }

    std::string summary(std::size_t limit = 24) const {
        std::ostringstream s;
        s << messages_.size() << " messages, " << bytes_ << " bytes [";
        for (std::size_t i = 0; i < messages_.size() && i < limit; ++i)
            s << (i ? " " : "") << type_text(messages_[i].type) << ":" << messages_[i].size;
        if (messages_.size() > limit)
            s << " …";
        s << "]";
        return s.str();
    }

private:
    std::deque<queued> messages_;
    std::size_t bytes_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The generator.

struct generator_config {
    std::vector<long> types;     // the types sends use
    std::vector<long> selectors; // extra msgtyp values receives use (besides 0 and ±types)
    // Leave out IPC_NOWAIT on some receives that the kernel answers at once because a message
    // matches (taken, truncated or E2BIG): a receive that may wait must not wait then either.
    bool waiting_receives = false;
};

generator_config small_types() {
    return {{1, 2, 3, 4, 5, 6, 7, 8}, {9, -9, LONG_MAX, LONG_MIN, -LONG_MAX}};
}

// Types that need the whole of a long: any positive long is a valid mtype.
generator_config wide_types() {
    return {{1, 2, 0x7fffffffL, 0x80000000L, 0x100000000L, 0x100000001L, LONG_MAX - 1, LONG_MAX},
            {3, -3, LONG_MIN, -LONG_MAX, 0xffffffffL, -0x100000000L}};
}

generator_config small_types_waiting() {
    generator_config c = small_types();
    c.waiting_receives = true;
    return c;
}

class generator {
public:
    generator(std::uint64_t seed, generator_config config, const environment& e)
        : random_(seed), config_(std::move(config)), env_(e) {
        new_high_water();
    }

    operation next(const queue_model& model) {
        if (filling_ && model.bytes() >= high_water_)
            filling_ = false;
        if (!filling_ && model.count() == 0) {
            filling_ = true;
            new_high_water();
        }
        unsigned send_percent = filling_ ? 70 : 25;
        if (random_.percent(send_percent)) {
            operation op = make_send(model);
            if (op.kind == op_kind::send)
                return op;
        }
        return make_receive(model);
    }

private:
    void new_high_water() {
        // Mostly shallow, sometimes as deep as the queue allows.
        std::size_t limit = env_.backlog_limit;
        high_water_ = random_.percent(30) ? limit : random_.below(limit / 4 + 1);
    }

    static std::size_t socket_estimate(std::size_t count, std::size_t bytes) {
        return 2 * bytes + 1024 * count;
    }

    std::size_t random_size() {
        unsigned r = static_cast<unsigned>(random_.below(100));
        if (r < 5)
            return 0;
        if (r < 35)
            return static_cast<std::size_t>(random_.between(1, 16));
        if (r < 65)
            return static_cast<std::size_t>(random_.between(17, 512));
        if (r < 95)
            return static_cast<std::size_t>(random_.between(513, msgmax));
        return msgmax;
    }

    long random_type() { return config_.types[random_.below(config_.types.size())]; }

    // A send, or a receive when the send would overfill either queue.
    operation make_send(const queue_model& model) {
        operation op;
        op.kind = op_kind::send;
        op.flags = random_.percent(50) ? IPC_NOWAIT : 0;
        op.type = random_type();
        op.size = random_size();
        unsigned r = static_cast<unsigned>(random_.below(1000));
        if (r < 8) { // invalid types
            static constexpr std::array<long, 4> bad{0, -1, -8, LONG_MIN};
            op.type = bad[random_.below(bad.size())];
        } else if (r < 12) {
            op.size = msgmax + 1;
        } else if (r < 14) {
            op.size = static_cast<std::size_t>(LONG_MAX) + 1; // (long)msgsz < 0
        } else if (r < 16) {
            op.size = SIZE_MAX;
        } else if (r < 18) {
            op.null_buffer = true;
            op.size = std::min<std::size_t>(op.size, 64);
        }
        op.mtext_allocated = std::min(op.size, msgmax + 1);
        bool valid = op.type >= 1 && op.size <= msgmax && !op.null_buffer;
        if (valid) {
            std::size_t bytes = model.bytes() + op.size;
            std::size_t count = model.count() + 1;
            if (bytes > std::min(env_.capacity, env_.backlog_limit) ||
                socket_estimate(count, bytes) > socket_budget) {
                filling_ = false;
                operation receive;
                receive.kind = op_kind::receive;
                return receive;
            }
        }
        op.payload.resize(op.mtext_allocated);
        for (auto& b : op.payload)
            b = static_cast<unsigned char>(random_.next());
        return op;
    }

    long selector_type() {
        std::size_t n = config_.types.size();
        unsigned r = static_cast<unsigned>(random_.below(100));
        if (r < 80)
            return config_.types[random_.below(n)];
        return config_.selectors[random_.below(config_.selectors.size())];
    }

    operation make_receive(const queue_model& model) {
        operation op;
        op.kind = op_kind::receive;
        op.flags = IPC_NOWAIT;
        unsigned r = static_cast<unsigned>(random_.below(100));
        if (r < 25) {
            op.type = 0;
        } else if (r < 47) {
            op.type = selector_type();
            op.type = op.type < 0 ? (op.type == LONG_MIN ? LONG_MAX : -op.type) : op.type;
        } else if (r < 62) {
            op.type = selector_type();
            op.flags |= MSG_EXCEPT; // with msgtyp <= 0 the kernel ignores MSG_EXCEPT
        } else if (r < 82) {
            long t = selector_type();
            op.type = t > 0 ? -t : t;
        } else if (r < 96 && env_.msg_copy) {
            op.flags |= MSG_COPY;
            unsigned c = static_cast<unsigned>(random_.below(20));
            op.type = c == 0   ? -1
                      : c == 1 ? static_cast<long>(model.count())
                      : c == 2 ? 1000000
                               : static_cast<long>(random_.below(model.count() + 1));
        } else {
            op.type = 0;
        }
        if (random_.percent(30))
            op.flags |= MSG_NOERROR;

        // Invalid combinations the kernel rejects before looking at the queue.
        unsigned bad = static_cast<unsigned>(random_.below(1000));
        bool huge = false;
        if (env_.msg_copy && bad < 8) {
            op.flags = (op.flags | MSG_COPY) & ~IPC_NOWAIT; // EINVAL, never waits
            op.type = static_cast<long>(random_.below(model.count() + 1));
        } else if (env_.msg_copy && bad < 16) {
            op.flags |= MSG_COPY | MSG_EXCEPT;
            op.type = static_cast<long>(random_.below(model.count() + 1));
        } else if (bad < 20) {
            huge = true;
        }

        // The buffer: sized around the message this receive will meet, if any.
        std::optional<std::size_t> target = model.find(op.type, op.flags);
        std::size_t m = target ? model.at(*target).size : random_size();
        unsigned s = static_cast<unsigned>(random_.below(100));
        if (s < 30)
            op.size = msgmax;
        else if (s < 50)
            op.size = m;
        else if (s < 62)
            op.size = m == 0 ? 0 : m - 1;
        else if (s < 67)
            op.size = m + 1;
        else if (s < 82)
            op.size = static_cast<std::size_t>(random_.below(m + 1));
        else if (s < 90)
            op.size = static_cast<std::size_t>(random_.below(msgmax + 1));
        else if (s < 95)
            op.size = static_cast<std::size_t>(random_.below(16));
        else
            op.size = msgmax + 1 + static_cast<std::size_t>(random_.below(msgmax)); // > msgmax
        op.mtext_allocated = op.size;
        if (config_.waiting_receives && target && !(op.flags & MSG_COPY) && random_.percent(40))
            op.flags &= ~IPC_NOWAIT;
        if (huge) {
            op.size = random_.percent(50) ? SIZE_MAX : static_cast<std::size_t>(LONG_MAX) + 1;
            op.mtext_allocated = 16;
        }
        return op;
    }

    random_source random_;
    generator_config config_;
    environment env_;
    bool filling_ = true;
    std::size_t high_water_ = 0;
};

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
