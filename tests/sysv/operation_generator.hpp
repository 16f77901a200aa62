// The operation generator of the SysV differential tests: pseudo-random msgsnd/msgrcv calls
// (every selector, MSG_NOERROR, MSG_EXCEPT, MSG_COPY, the invalid arguments the kernel rejects)
// and the small queue model that steers it and predicts what Linux answers. Shared by
// differential_test.cpp (kernel vs a seqmq mailbox) and queue_model_sysv_test.cpp (kernel vs
// seqmqd's hosted_queue, in-process).
#pragma once

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <sstream>
#include <string>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <vector>

namespace seqmq::test::differential {

constexpr std::size_t msgmax = 8192;            // Linux default, unchanged by the test
constexpr std::size_t default_capacity = 16384; // Linux default msgmnb
// What a single-process sender can have in flight: AF_UNIX charges each record's skb (rounded up
// to a power of two, plus overhead) to the sender's 208 KiB send buffer until the mailbox reads
// it. The generator keeps its estimate of that well below the buffer.
constexpr std::size_t socket_budget = 150000;

// ---------------------------------------------------------------------------------------------
// What the generator may assume of the queues under test.

struct environment {
    std::size_t capacity = default_capacity; // msg_qbytes and seqmq capacity
    std::size_t backlog_limit = default_capacity;
    bool msg_copy = true; // CONFIG_CHECKPOINT_RESTORE: MSG_COPY works
    std::string how;
};

// Whether this kernel implements MSG_COPY (it needs CONFIG_CHECKPOINT_RESTORE).
inline bool kernel_has_msg_copy() {
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

inline std::string flags_text(int flags) {
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

inline std::string size_text(std::size_t n) {
    if (n > static_cast<std::size_t>(LONG_MAX))
        return n == SIZE_MAX ? "SIZE_MAX" : std::to_string(n) + " (> LONG_MAX)";
    return std::to_string(n);
}

inline std::string type_text(long t) {
    if (t == LONG_MIN)
        return "LONG_MIN";
    if (t == LONG_MAX)
        return "LONG_MAX";
    if (t == -LONG_MAX)
        return "-LONG_MAX";
    return std::to_string(t);
}

inline std::string describe(const operation& op) {
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

inline std::string error_name(int e) {
    const char* n = ::strerrorname_np(e);
    return n ? std::string(n) : std::to_string(e);
}

// ---------------------------------------------------------------------------------------------
// A model of the queue (types and sizes, in arrival order), used to steer the generator — which
// message a selector will take, so buffer sizes land on the interesting boundaries; how much is
// queued, so no send waits. It is checked against the kernel on every operation: a disagreement
// is a fault of this test, reported as such. Given a capacity (msg_qbytes), it also predicts the
// sends that do not fit (msg_fits_inqueue: bytes and messages are both bounded by msg_qbytes).

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
    /// SIZE_MAX: a queue that never fills.
    explicit queue_model(std::size_t capacity = SIZE_MAX) : capacity_(capacity) {}

    std::size_t count() const { return messages_.size(); }
    std::size_t bytes() const { return bytes_; }
    const queued& at(std::size_t i) const { return messages_[i]; }
    std::size_t capacity() const { return capacity_; }

    /// msg_fits_inqueue: whether one more message of `size` bytes fits.
    bool fits(std::size_t size) const {
        return bytes_ + size <= capacity_ && messages_.size() + 1 <= capacity_;
    }

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

    /// What Linux does (ipc/msg.c, do_msgsnd / do_msgrcv).
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
            // EDEADLK stands for "would wait", which the generator never lets happen.
            if (!fits(op.size))
                return fail(op.flags & IPC_NOWAIT ? EAGAIN : EDEADLK);
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
    std::size_t capacity_;
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
    // Let sends meet a full queue (for sides whose capacity is bounded as the kernel's, and a
    // model built with that capacity): a send that does not fit carries IPC_NOWAIT, so that it
    // fails with EAGAIN instead of waiting, and the generator turns to draining the queue.
    bool overfill = false;
    // The largest mtext sends use: below msgmax, random sizes are cut to it (modulo), so that a
    // small capacity fills by message count as well as by bytes.
    std::size_t max_size = msgmax;
};

inline generator_config small_types() {
    return {{1, 2, 3, 4, 5, 6, 7, 8}, {9, -9, LONG_MAX, LONG_MIN, -LONG_MAX}};
}

// Types that need the whole of a long: any positive long is a valid mtype.
inline generator_config wide_types() {
    return {{1, 2, 0x7fffffffL, 0x80000000L, 0x100000000L, 0x100000001L, LONG_MAX - 1, LONG_MAX},
            {3, -3, LONG_MIN, -LONG_MAX, 0xffffffffL, -0x100000000L}};
}

inline generator_config small_types_waiting() {
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
        std::size_t size = any_size();
        return config_.max_size < msgmax ? size % (config_.max_size + 1) : size;
    }

    std::size_t any_size() {
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

    // A send, or a receive when the send would overfill either queue (unless config_.overfill:
    // then a send that does not fit, with IPC_NOWAIT).
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
        if (valid && config_.overfill) {
            if (!model.fits(op.size)) {
                op.flags |= IPC_NOWAIT; // EAGAIN: the queue is full
                filling_ = false;
            }
        } else if (valid) {
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

} // namespace seqmq::test::differential
