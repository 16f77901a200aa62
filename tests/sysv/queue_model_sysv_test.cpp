// Differential test of seqmqd's queue model: the operations of the SysV differential test
// (sysv/operation_generator.hpp) applied to a kernel message queue (msgget(IPC_PRIVATE), the
// oracle) and to a daemon::model::hosted_queue driven directly, in-process, must give identical
// results at every step: return value, errno, message type and bytes, and IPC_STAT's counts
// (msg_qnum, msg_cbytes, msg_qbytes, msg_lspid, msg_lrpid) afterwards.
//
// How the operations map onto the model, honestly:
//   msgsnd          a NULL msgp is EFAULT before anything (the client library's check: the model
//                   never sees a buffer); sysv::check_send's EINVAL; then hosted_queue::send with
//                   IPC_NOWAIT as `nowait`. The generator never lets the kernel wait, so a model
//                   that parks a send diverges.
//   msgrcv          (long)msgsz < 0 is EINVAL before anything (the client library's check); then
//                   hosted_queue::receive with the selector {msgtyp, MSG_EXCEPT}, msgsz as the
//                   buffer, MSG_NOERROR and IPC_NOWAIT; what it hands over is acknowledged at
//                   once, as a receiver that got the message does (so nothing stays in transit).
//   MSG_COPY        has no receive in the model: the client library's rules (EINVAL with
//                   MSG_EXCEPT or without IPC_NOWAIT, ENOMSG for msgtyp < 0) and then
//                   hosted_queue::at(msgtyp): ENOMSG past the end, sysv::take_rule's E2BIG, and
//                   EINVAL for a copy that does not fit with MSG_NOERROR (as Linux's copy_msg).
// Capacity and EAGAIN come from generator configurations with a small msg_qbytes, filled by
// bytes and by message count. Nothing ever waits, so the model's parked waits (which the kernel
// cannot show in one process) are left to queue_model_test.cpp.

#define BOOST_TEST_MODULE queue model against SysV
#include <boost/test/unit_test.hpp>

#include "daemon/model/hosted_queue.hpp"
#include "kernel_queue.hpp"
#include "recording_completion.hpp"
#include "store/sysv_rules.hpp"
#include "sysv/operation_generator.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <sched.h>
#include <sstream>
#include <string>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

using namespace seqmq::test::differential;
namespace model = seqmq::daemon::model;
namespace sysv = seqmq::detail::sysv;
using seqmq::selector;
using seqmq::test::recorded_event;
using seqmq::test::recording_completion;

namespace {

environment& kernel_environment() {
    static environment e;
    return e;
}

// SysV IPC must work, with Linux's default msgmax (the generator and its model assume 8192):
// a private IPC namespace has the defaults; without one the host's limits must be them.
// Otherwise the executable is a skip (exit 77) with the reason.
struct require_sysv_ipc {
    require_sysv_ipc() {
        const bool own_namespace = ::unshare(CLONE_NEWIPC) == 0;
        std::size_t host_msgmax = 0;
        std::ifstream("/proc/sys/kernel/msgmax") >> host_msgmax;
        const int id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        if (id < 0)
            skip(std::string("msgget(IPC_PRIVATE): ") + std::strerror(errno));
        ::msgctl(id, IPC_RMID, nullptr);
        if (host_msgmax != msgmax)
            skip("msgmax is " + std::to_string(host_msgmax) + ", not " + std::to_string(msgmax));
        kernel_environment().msg_copy = kernel_has_msg_copy();
        BOOST_TEST_MESSAGE("SysV IPC " << (own_namespace ? "in a private IPC namespace"
                                                         : "in the host's IPC namespace")
                                       << (kernel_environment().msg_copy
                                               ? ""
                                               : "; this kernel lacks MSG_COPY, none generated"));
    }
    [[noreturn]] static void skip(const std::string& why) {
        std::printf("SKIP: %s\n", why.c_str());
        std::fflush(stdout);
        std::_Exit(77);
    }
};
BOOST_TEST_GLOBAL_FIXTURE(require_sysv_ipc);

/// What one operation came to on one side.
struct step_result {
    long rc = 0;
    int error = 0;
    long type = 0;                   // a receive that returned >= 0: the message's type
    std::vector<unsigned char> text; // and the bytes it copied
    std::string fault;               // the model did something the kernel cannot (parked, ...)
};

std::string describe(const step_result& r) {
    std::ostringstream s;
    if (!r.fault.empty())
        return "FAULT: " + r.fault;
    if (r.rc < 0)
        return "-1, errno " + error_name(r.error);
    s << r.rc;
    if (!r.text.empty() || r.type)
        s << ", mtype " << type_text(r.type) << ", " << r.text.size() << " bytes";
    return s.str();
}

/// IPC_STAT, the fields both sides have.
struct stat_counts {
    std::size_t count = 0, bytes = 0, capacity = 0;
    pid_t last_send_pid = 0, last_receive_pid = 0;
    bool operator==(const stat_counts&) const = default;
};

std::string describe(const stat_counts& s) {
    std::ostringstream o;
    o << "qnum " << s.count << ", cbytes " << s.bytes << ", qbytes " << s.capacity << ", lspid "
      << s.last_send_pid << ", lrpid " << s.last_receive_pid;
    return o.str();
}

class kernel_queue {
public:
    explicit kernel_queue(std::size_t capacity) {
        id_ = seqmq_test::private_kernel_queue(capacity);
    }
    ~kernel_queue() { ::msgctl(id_, IPC_RMID, nullptr); }
    kernel_queue(const kernel_queue&) = delete;
    kernel_queue& operator=(const kernel_queue&) = delete;

    step_result apply(const operation& op) {
        // { long mtype; char mtext[]; } with the bytes the generator allocated.
        std::vector<unsigned char> buf(sizeof(long) + op.mtext_allocated, 0xa5);
        step_result r;
        void* msgp = op.null_buffer ? nullptr : buf.data();
        errno = 0;
        if (op.kind == op_kind::send) {
            std::memcpy(buf.data(), &op.type, sizeof op.type);
            std::copy(op.payload.begin(), op.payload.end(), buf.begin() + sizeof(long));
            // Straight to the kernel: msgsz may exceed LONG_MAX.
            r.rc = ::syscall(SYS_msgsnd, id_, msgp, op.size, op.flags);
        } else {
            r.rc = ::syscall(SYS_msgrcv, id_, msgp, op.size, op.type, op.flags);
        }
        r.error = r.rc < 0 ? errno : 0;
        if (op.kind == op_kind::receive && r.rc >= 0) {
            std::memcpy(&r.type, buf.data(), sizeof r.type);
            r.text.assign(buf.begin() + sizeof(long), buf.begin() + sizeof(long) + r.rc);
        }
        return r;
    }

    stat_counts stat() const {
        msqid_ds ds{};
        BOOST_TEST_REQUIRE(::msgctl(id_, IPC_STAT, &ds) == 0, "IPC_STAT: " << std::strerror(errno));
        return {ds.msg_qnum, ds.__msg_cbytes, ds.msg_qbytes, ds.msg_lspid, ds.msg_lrpid};
    }

private:
    int id_ = -1;
};

/// Which operations reached which part of the model, and what they met.
struct tally {
    std::size_t sends = 0, receives = 0, copies = 0, client_checks = 0, truncated = 0;
    std::size_t eagain = 0, eagain_by_count = 0, e2big = 0, enomsg = 0, einval = 0;
    std::size_t deepest = 0;
    std::string text() const {
        std::ostringstream s;
        s << sends << " hosted_queue::send, " << receives << " hosted_queue::receive, " << copies
          << " MSG_COPY by at(), " << client_checks << " stopped by the client library's checks; "
          << truncated << " truncated by MSG_NOERROR; " << eagain << " EAGAIN (" << eagain_by_count
          << " by message count), " << e2big << " E2BIG, " << enomsg << " ENOMSG, " << einval
          << " EINVAL; deepest queue " << deepest << " messages";
        return s.str();
    }
};

/// The hosted_queue side.
class model_queue {
public:
    explicit model_queue(std::size_t capacity) : q_(1, "", {}, capacity, msgmax, budget_, done_) {}

    step_result apply(const operation& op, tally& stats) {
        step_result r;
        auto fail = [&](int e) {
            r.rc = -1;
            r.error = e;
            return r;
        };
        const model::waiter me{this, ++requests_, 0, ::getpid()};
        if (op.kind == op_kind::send) {
            if (op.null_buffer) {
                ++stats.client_checks;
                return fail(EFAULT);
            }
            if (sysv::check_send(op.type, op.size, msgmax) != sysv::send_check::ok) {
                ++stats.client_checks;
                return fail(EINVAL);
            }
            ++stats.sends;
            const std::span<const std::byte> data{
                reinterpret_cast<const std::byte*>(op.payload.data()), op.size};
            const model::batch_entry e{op.type, data};
            const model::outcome o = q_.send(me, std::span(&e, 1), op.flags & IPC_NOWAIT, true);
            if (o.parked)
                r.fault = "the send waits";
            else if (o.error)
                return fail(o.error);
            else if (o.queued != 1)
                r.fault = "queued " + std::to_string(o.queued) + " messages of 1";
            return r;
        }

        if (static_cast<long>(op.size) < 0) {
            ++stats.client_checks;
            return fail(EINVAL);
        }
        const bool noerror = op.flags & MSG_NOERROR, nowait = op.flags & IPC_NOWAIT;
        if (op.flags & MSG_COPY) {
            if ((op.flags & MSG_EXCEPT) || !nowait || op.type < 0) {
                ++stats.client_checks;
                return fail(op.type < 0 && nowait && !(op.flags & MSG_EXCEPT) ? ENOMSG : EINVAL);
            }
            ++stats.copies;
            const seqmq::detail::queued_message* m = q_.at(static_cast<std::size_t>(op.type));
            if (!m)
                return fail(ENOMSG);
            switch (sysv::take_rule(m->size, op.size, noerror)) {
            case sysv::take_outcome::too_big:
                return fail(E2BIG);
            case sysv::take_outcome::truncated:
                return fail(EINVAL); // copy_msg: the copy must hold the whole message
            case sysv::take_outcome::whole:
                break;
            }
            r.rc = m->size;
            r.type = m->type;
            for (std::byte b : m->payload())
                r.text.push_back(static_cast<unsigned char>(b));
            return r;
        }

        ++stats.receives;
        const selector which{op.type, (op.flags & MSG_EXCEPT) != 0};
        const model::outcome o = q_.receive(me, which, op.size, noerror, nowait, true);
        if (o.parked) {
            r.fault = "the receive waits";
            return r;
        }
        if (o.error) {
            if (!done_.events().empty())
                r.fault = "answered " + describe(done_.events().front()) + " and errno " +
                          error_name(o.error);
            return fail(o.error);
        }
        const auto& events = done_.events();
        if (events.size() != 1 || events[0].what != recorded_event::kind::hand_over ||
            events[0].parked || events[0].who.request != me.request) {
            r.fault = "a receive answered at once with " + std::to_string(events.size()) +
                      " events, not one hand_over to it";
            return r;
        }
        const recorded_event& e = events[0];
        const std::size_t copied = sysv::copied_size(e.data.size(), e.buffer);
        if (copied < e.data.size())
            ++stats.truncated;
        r.rc = static_cast<long>(copied);
        r.type = e.type;
        for (std::size_t i = 0; i < copied; ++i)
            r.text.push_back(static_cast<unsigned char>(e.data[i]));
        q_.acknowledge({e.data.size(), 1}); // the receiver has it
        done_.clear();
        return r;
    }

    stat_counts stat() const {
        const model::queue_status s = q_.status();
        return {s.count, s.bytes, s.capacity, s.last_send_pid, s.last_receive_pid};
    }

    /// What must hold between operations, whatever the kernel says; empty if it does.
    std::string invariants_broken(const queue_model& expected) {
        std::ostringstream s;
        const model::queue_status st = q_.status();
        const model::queue_usage used = q_.used();
        if (used.bytes != st.bytes || used.messages != st.count)
            s << "in transit after acknowledge: used " << used.bytes << "/" << used.messages
              << "; ";
        if (st.waiting_receivers || st.waiting_senders)
            s << st.waiting_receivers << " receivers and " << st.waiting_senders
              << " senders wait; ";
        if (budget_.used != model::memory_budget::cost(used))
            s << "memory budget charged " << budget_.used << ", not "
              << model::memory_budget::cost(used) << "; ";
        if (!done_.events().empty())
            s << "unexpected answer: " << describe(done_.events().front()) << "; ";
        // Its messages, oldest first, are the kernel-checked model's.
        std::size_t i = 0;
        const auto& store = q_.messages();
        for (auto* m = store.oldest(); m; m = store.after(m), ++i)
            if (i >= expected.count() || m->type != expected.at(i).type ||
                m->size != expected.at(i).size) {
                s << "message " << i << " is " << type_text(m->type) << ":" << m->size << "; ";
                break;
            }
        if (i != expected.count() && s.tellp() == 0)
            s << "holds " << i << " messages, not " << expected.count() << "; ";
        return s.str();
    }

private:
    recording_completion done_;
    model::memory_budget budget_{std::size_t(1) << 30};
    model::hosted_queue q_;
    std::uint64_t requests_ = 0;
};

std::string difference(const step_result& a, const step_result& b) {
    std::ostringstream s;
    if (!b.fault.empty())
        s << "the model: " << b.fault << "; ";
    if (a.rc != b.rc)
        s << "return value " << a.rc << " vs " << b.rc << "; ";
    if (a.error != b.error)
        s << "errno " << error_name(a.error) << " vs " << error_name(b.error) << "; ";
    if (a.rc >= 0 && b.rc >= 0 && a.type != b.type)
        s << "mtype " << type_text(a.type) << " vs " << type_text(b.type) << "; ";
    if (a.rc >= 0 && b.rc >= 0 && a.text != b.text)
        s << "mtext differs; ";
    return s.str();
}

struct run_config {
    generator_config generator;
    std::size_t capacity = default_capacity;
};

// `steps` generated operations on both queues, then a drain; stops at the first divergence.
// Empty if they agreed.
std::string differential_run(std::uint64_t seed, const run_config& config, std::size_t steps,
                             tally& stats) {
    environment e = kernel_environment();
    e.capacity = e.backlog_limit = config.capacity;
    generator gen(seed, config.generator, e);
    queue_model expected(config.capacity); // steers the generator; checked against the kernel
    kernel_queue kernel(config.capacity);
    model_queue hosted(config.capacity);
    std::deque<std::string> recent;

    auto report = [&](std::size_t step, const operation& op, const std::string& before,
                      const std::string& what) {
        std::ostringstream s;
        s << "seed " << seed << ", step " << step << ": " << describe(op)
          << "\n  queue before (oldest first, type:size): " << before << "\n  " << what
          << "\n  the operations before it:";
        for (const auto& r : recent)
            s << "\n    " << r;
        return s.str();
    };

    for (std::size_t i = 0; i <= steps; ++i) {
        // After the last generated step, drain: msgrcv(msgmax, 0, IPC_NOWAIT) until ENOMSG.
        const bool draining = i == steps;
        operation op = draining
                           ? operation{op_kind::receive, 0, msgmax, IPC_NOWAIT, msgmax, false, {}}
                           : gen.next(expected);
        const std::string before = expected.summary();
        const prediction p = expected.predict(op);
        if (p.error == EDEADLK)
            return report(i, op, before, "TEST FAULT: the generator made a call that would wait");
        if (op.kind == op_kind::send && p.error == EAGAIN) {
            ++stats.eagain;
            if (expected.bytes() + op.size <= expected.capacity())
                ++stats.eagain_by_count;
        }
        const step_result a = kernel.apply(op);
        if (p.rc != a.rc || p.error != a.error)
            return report(i, op, before,
                          "TEST FAULT (not a model bug): the test's prediction (rc " +
                              std::to_string(p.rc) + ", errno " + error_name(p.error) +
                              ") differs from the kernel's " + describe(a));
        const step_result b = hosted.apply(op, stats);
        expected.apply(op, p);
        stats.deepest = std::max(stats.deepest, expected.count());
        stats.e2big += a.rc < 0 && a.error == E2BIG;
        stats.enomsg += a.rc < 0 && a.error == ENOMSG;
        stats.einval += a.rc < 0 && a.error == EINVAL;
        if (std::string d = difference(a, b); !d.empty())
            return report(i, op, before,
                          "kernel: " + describe(a) + "\n  model:  " + describe(b) +
                              "\n  differs in: " + d);
        const stat_counts ka = kernel.stat(), kb = hosted.stat();
        if (!(ka == kb))
            return report(i, op, before,
                          "both returned " + describe(a) + ", then IPC_STAT differs:\n  kernel: " +
                              describe(ka) + "\n  model:  " + describe(kb));
        if (std::string broken = hosted.invariants_broken(expected); !broken.empty())
            return report(i, op, before, "the model after it: " + broken);
        recent.push_back("#" + std::to_string(i) + " " + describe(op) + " -> " + describe(a));
        if (recent.size() > 12)
            recent.pop_front();
        if (draining && a.rc >= 0)
            i = steps - 1; // drain on, until both say ENOMSG
    }
    return {};
}

constexpr std::size_t steps_per_seed = 10000;

void check(std::uint64_t seed, const run_config& config, tally& stats) {
    const std::string divergence = differential_run(seed, config, steps_per_seed, stats);
    BOOST_TEST_MESSAGE("seed " << seed << ", capacity " << config.capacity << ": " << stats.text());
    BOOST_TEST(divergence.empty(), "first divergence: " << divergence);
}

run_config overfilling(std::size_t capacity, std::size_t max_size) {
    run_config c{small_types(), capacity};
    c.generator.overfill = true;
    c.generator.max_size = max_size;
    return c;
}

} // namespace

BOOST_AUTO_TEST_SUITE(hosted_queue_matches_sysv)

// The differential test's own mix: every selector, MSG_NOERROR, MSG_COPY, invalid arguments;
// msg_qbytes at Linux's default, never full.
BOOST_AUTO_TEST_CASE(small_types) {
    for (std::uint64_t seed : {1ULL, 2ULL, 3ULL}) {
        tally stats;
        check(seed, {seqmq::test::differential::small_types(), default_capacity}, stats);
        BOOST_TEST(stats.receives > 1000u);
        BOOST_TEST(stats.e2big > 100u);
        BOOST_TEST(stats.truncated > 50u);
    }
}

// Receives without IPC_NOWAIT that a queued message answers at once.
BOOST_AUTO_TEST_CASE(waiting_receives_a_message_answers) {
    tally stats;
    check(201, {small_types_waiting(), default_capacity}, stats);
}

BOOST_AUTO_TEST_CASE(wide_types) {
    tally stats;
    check(101, {seqmq::test::differential::wide_types(), default_capacity}, stats);
}

// A small msg_qbytes that sends fill by bytes: EAGAIN at the kernel's boundary.
BOOST_AUTO_TEST_CASE(full_by_bytes) {
    for (std::uint64_t seed : {301ULL, 302ULL}) {
        tally stats;
        check(seed, overfilling(4096, msgmax), stats);
        BOOST_TEST(stats.eagain > 100u);
    }
}

// Small messages under a small msg_qbytes: full by bytes or by message count.
BOOST_AUTO_TEST_CASE(full_by_bytes_or_count) {
    tally stats;
    check(401, overfilling(12, 3), stats);
    BOOST_TEST(stats.eagain_by_count > 10u);
    BOOST_TEST(stats.eagain > stats.eagain_by_count);
}

// Zero-length messages only: msg_qbytes 3 holds three of them, the fourth is EAGAIN.
BOOST_AUTO_TEST_CASE(full_by_count_of_zero_length_messages) {
    tally stats;
    check(501, overfilling(3, 0), stats);
    BOOST_TEST(stats.eagain_by_count > 100u);
    BOOST_TEST(stats.eagain == stats.eagain_by_count);
}

BOOST_AUTO_TEST_SUITE_END()
