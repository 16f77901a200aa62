// Permissions: a child that setuid()s to another user is refused (EACCES / EPERM) exactly where
// the kernel refuses it the same operations on a SysV queue with the same mode, owned by the same
// user; and allowed where the mode allows.
#define BOOST_TEST_MODULE seqmqd permissions
#include "daemon_fixture.hpp"
#include "raw_client.hpp"

#include <seqmq/seqmq.h>

#include <cerrno>
#include <cstring>
#include <grp.h>
#include <sys/ipc.h>
#include <sys/msg.h>

using namespace daemon_test;

namespace {

struct msgbuf_small {
    long mtype;
    char mtext[16];
};

std::string outcome(int rc) {
    return rc >= 0 ? "ok" : std::strerror(errno);
}

// The operations, in order, on a SysV queue: open (msgget asking for `ask`), send, receive,
// IPC_STAT, IPC_SET (unchanged values), IPC_RMID.
std::string sysv_ops(key_t key, int ask) {
    std::string r;
    int id = ::msgget(key, ask);
    r += "open:" + outcome(id);
    if (id < 0)
        id = ::msgget(key, 0);
    msgbuf_small m{1, "hi"};
    r += " send:" + outcome(::msgsnd(id, &m, 2, IPC_NOWAIT));
    r += " recv:" + outcome(int(::msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT)));
    msqid_ds ds{};
    int st = ::msgctl(id, IPC_STAT, &ds);
    r += " stat:" + outcome(st);
    if (st < 0) { // the values IPC_SET sends back unchanged; read as root before
        ds.msg_qbytes = 16384;
    }
    r += " set:" + outcome(::msgctl(id, IPC_SET, &ds));
    r += " rm:" + outcome(::msgctl(id, IPC_RMID, nullptr));
    return r;
}

std::string seqmq_ops(const std::string& name, int ask, const msqid_ds& as_root) {
    std::string r;
    seqmq_t* q = seqmq_queue_open(name.c_str(), 0, ask);
    r += "open:" + outcome(q ? 0 : -1);
    if (!q)
        q = seqmq_queue_open(name.c_str(), 0, 0);
    if (!q)
        return r + " (cannot open at all: " + std::strerror(errno) + ")";
    msgbuf_small m{1, "hi"};
    r += " send:" + outcome(seqmq_msgsnd(q, &m, 2, IPC_NOWAIT));
    r += " recv:" + outcome(int(seqmq_msgrcv(q, &m, sizeof m.mtext, 0, IPC_NOWAIT)));
    msqid_ds ds{};
    int st = seqmq_msgctl(q, IPC_STAT, &ds);
    r += " stat:" + outcome(st);
    if (st < 0)
        ds = as_root;
    r += " set:" + outcome(seqmq_msgctl(q, IPC_SET, &ds));
    r += " rm:" + outcome(seqmq_msgctl(q, IPC_RMID, nullptr));
    seqmq_close(q);
    return r;
}

struct identity {
    uid_t uid;
    gid_t gid;
    const char* what;
};

} // namespace

BOOST_AUTO_TEST_CASE(refused_exactly_where_sysv_refuses,
                     *boost::unit_test::precondition(as_root())) {
    daemon_process d;
    const identity others[] = {{65534, 65534, "other user, other group"},
                               {65534, 0, "other user, owner's group"}};
    const int modes[] = {0600, 0640, 0660, 0604, 0606, 0620, 0602, 0666, 0444, 0222, 0000};
    const int asks[] = {0, 0400, 0200, 0666};
    int n = 0;
    for (const auto& who : others)
        for (int mode : modes)
            for (int ask : asks) {
                ++n;
                const key_t key = key_t(0x5e000000 + (::getpid() & 0xffff) * 256 + n);
                int id = ::msgget(key, IPC_CREAT | IPC_EXCL | mode);
                BOOST_TEST_REQUIRE(id >= 0, "msgget: " << std::strerror(errno));
                msgbuf_small m{1, "x"};
                ::msgsnd(id, &m, 1, IPC_NOWAIT);
                const std::string name = "perm-" + std::to_string(n);
                seqmq_t* q = seqmq_queue_open(name.c_str(), IPC_CREAT | IPC_EXCL, mode);
                BOOST_TEST_REQUIRE(q != nullptr, "seqmq_queue_open: " << std::strerror(errno));
                seqmq_msgsnd(q, &m, 1, IPC_NOWAIT);
                msqid_ds as_root{};
                BOOST_TEST_REQUIRE(seqmq_msgctl(q, IPC_STAT, &as_root) == 0);

                line_pipe results;
                child c([&] {
                    if (::setgid(who.gid) != 0 || ::setuid(who.uid) != 0)
                        return 2;
                    results.write_line(sysv_ops(key, ask));
                    results.write_line(seqmq_ops(name, ask, as_root));
                    return 0;
                });
                BOOST_TEST_REQUIRE(c.wait() == 0);
                results.close_write();
                auto lines = results.read_lines();
                BOOST_TEST_REQUIRE(lines.size() == 2u);
                BOOST_TEST(lines[1] == lines[0], who.what << ", mode " << std::oct << mode
                                                          << ", asking " << ask << std::dec);
                ::msgctl(id, IPC_RMID, nullptr);
                seqmq_msgctl(q, IPC_RMID, nullptr); // may be gone already (the child's rm)
                seqmq_close(q);
            }
}

BOOST_AUTO_TEST_CASE(owner_may_do_everything_its_mode_allows,
                     *boost::unit_test::precondition(as_root())) {
    daemon_process d;
    // Created by uid 65534 itself: the owner bits apply; set and remove are the owner's.
    child c([&] {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0)
            return 2;
        auto q = seqmq::queue::open("mine", seqmq::open_flags::create, 0200, d.options());
        if (!q)
            return 3;
        if (!q->send(1, bytes("w")))
            return 4;
        auto r = q->receive({}, seqmq::receive_flags::nowait);
        if (!r && r.error() == std::errc::permission_denied &&
            q->stat().error() == std::errc::permission_denied) {
            seqmq::queue_settings s;
            s.mode = 0600;
            if (!q->set(s))
                return 5;
            if (!q->receive({}, seqmq::receive_flags::nowait))
                return 6;
            s.capacity = 1u << 30; // above --max-queue-bytes: root only
            if (q->set(s).error() != std::errc::operation_not_permitted)
                return 7;
            return q->remove() ? 0 : 8;
        }
        return 9;
    });
    BOOST_TEST(c.wait() == 0);
}

// --- the identity of each call (issue 10): the ids at the moment of the call, not at connect --

namespace {

std::string errno_text(int e) {
    return e == 0 ? "ok" : std::strerror(e);
}

template <class R>
std::string result_text(const R& r) {
    return r ? "ok" : std::strerror(r.error().value());
}

// One queue seen through one interface: each operation gives "ok" or the error's strerror.
struct queue_ops {
    std::function<std::string()> send, recv, stat, set, rm;
};

// The operations of kernel queue `id`: IPC_SET sends `as_set` (its values unchanged).
queue_ops kernel_ops(int id, const msqid_ds& as_set) {
    return {[id] {
                msgbuf_small m{1, "hi"};
                return outcome(::msgsnd(id, &m, 2, IPC_NOWAIT));
            },
            [id] {
                msgbuf_small m{};
                return outcome(int(::msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT)));
            },
            [id] {
                msqid_ds ds{};
                return outcome(::msgctl(id, IPC_STAT, &ds));
            },
            [id, as_set] {
                msqid_ds ds = as_set;
                return outcome(::msgctl(id, IPC_SET, &ds));
            },
            [id] { return outcome(::msgctl(id, IPC_RMID, nullptr)); }};
}

// The operations of `q` (seqmq::queue): IPC_SET sends `as_set` (its values unchanged).
queue_ops seqmq_queue_ops(seqmq::queue& q, const seqmq::queue_settings& as_set) {
    return {[&q] { return result_text(q.send(1, bytes("hi"), seqmq::send_flags::nowait)); },
            [&q] { return result_text(q.receive({}, seqmq::receive_flags::nowait)); },
            [&q] { return result_text(q.stat()); },
            [&q, as_set] { return result_text(q.set(as_set)); },
            [&q] { return result_text(q.remove()); }};
}

queue_ops capi_ops(seqmq_t* q, const msqid_ds& as_set) {
    return {[q] {
                msgbuf_small m{1, "hi"};
                return outcome(seqmq_msgsnd(q, &m, 2, IPC_NOWAIT));
            },
            [q] {
                msgbuf_small m{};
                return outcome(int(seqmq_msgrcv(q, &m, sizeof m.mtext, 0, IPC_NOWAIT)));
            },
            [q] {
                msqid_ds ds{};
                return outcome(seqmq_msgctl(q, IPC_STAT, &ds));
            },
            [q, as_set] {
                msqid_ds ds = as_set;
                return outcome(seqmq_msgctl(q, IPC_SET, &ds));
            },
            [q] { return outcome(seqmq_msgctl(q, IPC_RMID, nullptr)); }};
}

// Switches the effective ids (root can come back: its real and saved uid stay 0).
bool become(uid_t uid, gid_t gid) {
    if (uid != 0)
        return ::setegid(gid) == 0 && ::seteuid(uid) == 0;
    return ::seteuid(0) == 0 && ::setegid(gid) == 0;
}

// The script: as root, sends (credit comes), a receive (the delivery socket comes) and stat;
// then as `other` (seteuid) every operation; then as root again. One line per phase.
std::vector<std::string> script(queue_ops& ops, uid_t uid, gid_t gid) {
    std::vector<std::string> lines;
    std::string l = "root:";
    for (int i = 0; i < 4; ++i)
        l += " send " + ops.send();
    l += " recv " + ops.recv();
    l += " stat " + ops.stat();
    lines.push_back(l);
    if (!become(uid, gid))
        return {"seteuid failed"};
    // (One operation a statement: the operands of + are evaluated in no set order.)
    l = "as " + std::to_string(uid) + "/" + std::to_string(gid) + ":";
    l += " send " + ops.send();
    l += " recv " + ops.recv();
    l += " recv " + ops.recv();
    l += " stat " + ops.stat();
    l += " set " + ops.set();
    l += " send " + ops.send();
    l += " rm " + ops.rm();
    lines.push_back(l);
    if (!become(0, 0))
        return {"seteuid(0) failed"};
    l = "root again:";
    l += " send " + ops.send();
    l += " recv " + ops.recv();
    l += " stat " + ops.stat();
    l += " set " + ops.set();
    lines.push_back(l);
    return lines;
}

enum class interface { queue_credit, queue_exact, capi };

const char* name_of(interface i) {
    return i == interface::queue_credit  ? "seqmq::queue (credit)"
           : i == interface::queue_exact ? "seqmq::queue (exact_sysv)"
                                         : "C API";
}

struct identity_case {
    unsigned mode;
    gid_t queue_gid;           // the queue's group, set with IPC_SET as root
    std::vector<gid_t> groups; // the process's supplementary groups (setgroups before all)
    uid_t uid;
    gid_t gid;
    const char* what;
};

// Runs the script on a kernel queue and on a seqmqd queue through `via`, in a child (so
// that the test keeps its ids); returns both outputs.
std::pair<std::vector<std::string>, std::vector<std::string>>
run_identity_case(const daemon_process& d, const identity_case& t, interface via, int n) {
    line_pipe results;
    child c([&] {
        if (::setgroups(t.groups.size(), t.groups.data()) != 0)
            return 2;
        const int id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        msqid_ds kds{};
        ::msgctl(id, IPC_STAT, &kds);
        kds.msg_perm.mode = t.mode;
        kds.msg_perm.gid = t.queue_gid;
        if (id < 0 || ::msgctl(id, IPC_SET, &kds) != 0)
            return 3;
        queue_ops kernel = kernel_ops(id, kds);
        for (const auto& l : script(kernel, t.uid, t.gid))
            results.write_line("kernel " + l);
        ::msgctl(id, IPC_RMID, nullptr);

        const std::string name = "identity-" + std::to_string(n);
        seqmq::queue_settings s;
        s.mode = t.mode;
        s.gid = t.queue_gid;
        std::vector<std::string> lines;
        if (via == interface::capi) {
            ::setenv("SEQMQ_DAEMON", ("unix:" + d.socket_path()).c_str(), 1);
            seqmq_t* q = seqmq_queue_open(name.c_str(), IPC_CREAT | IPC_EXCL, 0600);
            if (!q)
                return 4;
            msqid_ds ds{};
            seqmq_msgctl(q, IPC_STAT, &ds);
            ds.msg_perm.mode = t.mode;
            ds.msg_perm.gid = t.queue_gid;
            if (seqmq_msgctl(q, IPC_SET, &ds) != 0)
                return 5;
            queue_ops ops = capi_ops(q, ds);
            lines = script(ops, t.uid, t.gid);
            seqmq_msgctl(q, IPC_RMID, nullptr);
            seqmq_close(q);
        } else {
            auto options = d.options();
            options.exact_sysv = via == interface::queue_exact;
            auto q = seqmq::queue::open(name, seqmq::open_flags::create, 0600, options);
            if (!q || !q->set(s))
                return 6;
            queue_ops ops = seqmq_queue_ops(*q, s);
            lines = script(ops, t.uid, t.gid);
            (void)q->remove();
        }
        for (const auto& l : lines)
            results.write_line("seqmq " + l);
        return 0;
    });
    BOOST_TEST_REQUIRE(c.wait() == 0);
    results.close_write();
    std::pair<std::vector<std::string>, std::vector<std::string>> out;
    for (auto& l : results.read_lines()) {
        if (l.rfind("kernel ", 0) == 0)
            out.first.push_back(l.substr(7));
        else if (l.rfind("seqmq ", 0) == 0)
            out.second.push_back(l.substr(6));
    }
    return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(seteuid_between_calls_is_seen_at_the_next_call_as_by_the_kernel,
                     *boost::unit_test::precondition(as_root())) {
    daemon_process d;
    const identity_case cases[] = {
        {0600, 0, {}, 65534, 65534, "owner-only queue, seteuid(nobody)"},
        {0660, 0, {}, 65534, 0, "group-rw queue, seteuid(nobody) keeping egid 0"},
        {0660, 4321, {4321}, 65534, 65534, "group 4321 rw, nobody with supplementary 4321"},
        {0660, 4321, {1}, 65534, 65534, "group 4321 rw, nobody without it"},
        {0604, 0, {}, 65534, 65534, "other-read queue, seteuid(nobody)"},
    };
    int n = 0;
    for (const auto& t : cases)
        for (interface via : {interface::queue_credit, interface::queue_exact, interface::capi}) {
            auto [kernel, seqmq] = run_identity_case(d, t, via, ++n);
            BOOST_TEST_REQUIRE(kernel.size() == 3u);
            BOOST_TEST(seqmq == kernel, t.what << ", " << name_of(via));
            if (seqmq != kernel)
                for (std::size_t i = 0; i < std::max(kernel.size(), seqmq.size()); ++i)
                    BOOST_TEST_MESSAGE("kernel: " << (i < kernel.size() ? kernel[i] : "")
                                                  << "\n seqmq: "
                                                  << (i < seqmq.size() ? seqmq[i] : ""));
        }
}

// A child that opened its handles as root, then setuid()s for good: refused from its next
// call, as the kernel refuses it; and it cannot come back (setuid(0): EPERM).
BOOST_AUTO_TEST_CASE(forked_child_that_setuids_is_refused_at_its_next_call,
                     *boost::unit_test::precondition(as_root())) {
    daemon_process d;
    line_pipe results;
    child c([&] {
        const int id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        auto q = seqmq::queue::open("forked", seqmq::open_flags::create, 0600, d.options());
        if (id < 0 || !q)
            return 2;
        msqid_ds kds{};
        ::msgctl(id, IPC_STAT, &kds);
        queue_ops kernel = kernel_ops(id, kds);
        seqmq::queue_settings s;
        s.mode = 0600;
        queue_ops mine = seqmq_queue_ops(*q, s);
        auto phase = [](queue_ops& o) {
            std::string l = "send " + o.send();
            l += " send " + o.send();
            l += " recv " + o.recv();
            l += " stat " + o.stat();
            l += " set " + o.set();
            l += " rm " + o.rm();
            return l;
        };
        auto before = [](queue_ops& o) {
            std::string l = "send " + o.send();
            for (int i = 0; i < 3; ++i) // (credit comes with the first)
                l += " send " + o.send();
            l += " recv " + o.recv(); // (and the delivery socket with this)
            return l;
        };
        const std::string before_k = before(kernel);
        const std::string before_s = before(mine);
        results.write_line(before_k + " | " + before_s);
        if (::setgid(65534) != 0 || ::setuid(65534) != 0)
            return 3;
        results.write_line(phase(kernel) + " | " + phase(mine));
        results.write_line(std::string("setuid(0) ") + errno_text(::setuid(0) ? errno : 0));
        return 0;
    });
    BOOST_TEST_REQUIRE(c.wait() == 0);
    results.close_write();
    auto lines = results.read_lines();
    BOOST_TEST_REQUIRE(lines.size() == 3u);
    BOOST_TEST(lines[0] ==
               "send ok send ok send ok send ok recv ok | send ok send ok send ok send ok recv ok");
    const std::string refused = "send Permission denied send Permission denied recv Permission "
                                "denied stat Permission denied set Operation not permitted rm "
                                "Operation not permitted";
    BOOST_TEST(lines[1] == refused + " | " + refused);
    BOOST_TEST(lines[2] == "setuid(0) Operation not permitted");
}

// The kernel refuses a record whose credentials claim ids the sender does not have: sendmsg
// fails with EPERM, so seqmqd never sees a forged identity.
BOOST_AUTO_TEST_CASE(forged_credentials_are_refused_by_sendmsg,
                     *boost::unit_test::precondition(as_root())) {
    daemon_process d;
    line_pipe results;
    child c([&] {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0)
            return 2;
        raw_client raw(d);
        std::vector<std::byte> open_body;
        proto::writer w(open_body);
        proto::encode(w, proto::open_request{proto::open_create, 0600, 0, 0, "forged"});
        const ucred as_root{::getpid(), 0, 0}, other_pid{1, 65534, 65534},
            own{::getpid(), 65534, 65534};
        results.write_line(errno_text(raw.request_as(proto::opcode::open, open_body, as_root)));
        results.write_line(errno_text(raw.request_as(proto::opcode::open, open_body, other_pid)));
        results.write_line(errno_text(raw.request_as(proto::opcode::open, open_body, own)));
        auto r = raw.next();
        results.write_line(errno_text(raw_client::result_of(r)));
        return 0;
    });
    BOOST_TEST_REQUIRE(c.wait() == 0);
    results.close_write();
    auto lines = results.read_lines();
    BOOST_TEST_REQUIRE(lines.size() == 4u);
    BOOST_TEST(lines[0] == std::strerror(EPERM)); // uid 0 claimed by nobody
    BOOST_TEST(lines[1] == std::strerror(EPERM)); // another process's pid
    BOOST_TEST(lines[2] == "ok");                 // its own ids go
    BOOST_TEST(lines[3] == "ok");                 // and open a queue of its own
}

// Root (CAP_SETUID) may claim any uid; seqmqd then judges the request as that uid: the ids are
// the record's, not the connection's.
BOOST_AUTO_TEST_CASE(the_ids_of_each_record_decide_not_the_connections,
                     *boost::unit_test::precondition(as_root())) {
    daemon_process d;
    auto q = open_queue(d, "roots", 0, 0600);
    raw_client raw(d);
    const ucred as_nobody{::getpid(), 65534, 65534}, as_root{::getpid(), 0, 0};
    BOOST_TEST(raw.open_result("roots", 0, 0600, &as_nobody) == EACCES);
    BOOST_TEST(raw.open_result("roots", 0, 0600, &as_root) == 0);
}

// A record sent with no credentials attached is stamped by the kernel with the sender's real
// ids, and seqmqd cannot tell it from one that claims them: it is judged as the real ids. A
// process whose real uid is nobody and effective uid root is so refused where the kernel lets
// it in (msgget judges the effective uid); attaching its effective ids, as the client library
// does, it is let in.
BOOST_AUTO_TEST_CASE(a_record_without_credentials_is_judged_by_the_real_ids,
                     *boost::unit_test::precondition(as_root())) {
    daemon_process d;
    auto q = open_queue(d, "real-ids", 0, 0600);
    const int id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    BOOST_TEST_REQUIRE(id >= 0);
    line_pipe results;
    child c([&] {
        if (::setresgid(65534, 0, 0) != 0 || ::setresuid(65534, 0, 0) != 0)
            return 2;
        msgbuf_small m{1, "x"};
        results.write_line("kernel " + outcome(::msgsnd(id, &m, 1, IPC_NOWAIT)));
        raw_client raw(d);
        results.write_line("none " + errno_text(raw.open_result("real-ids", 0, 0200)));
        const ucred effective{::getpid(), ::geteuid(), ::getegid()};
        results.write_line("effective " +
                           errno_text(raw.open_result("real-ids", 0, 0200, &effective)));
        auto mine = seqmq::queue::open("real-ids", seqmq::open_flags::none, 0200, d.options());
        results.write_line("library " + result_text(mine));
        return 0;
    });
    BOOST_TEST_REQUIRE(c.wait() == 0);
    ::msgctl(id, IPC_RMID, nullptr);
    results.close_write();
    auto lines = results.read_lines();
    BOOST_TEST_REQUIRE(lines.size() == 4u);
    BOOST_TEST(lines[0] == "kernel ok");
    BOOST_TEST(lines[1] == std::string("none ") + std::strerror(EACCES));
    BOOST_TEST(lines[2] == "effective ok");
    BOOST_TEST(lines[3] == "library ok");
}

// Credit is a send checked in advance, for the ids of the request that got it: the first
// record with other ids takes it away (the client library zeroes its own then), so a send on
// credit after it is one beyond the credit granted, and cuts the connection.
BOOST_AUTO_TEST_CASE(other_ids_take_the_connections_credit_away,
                     *boost::unit_test::precondition(as_root())) {
    daemon_process d;
    raw_client raw(d);
    raw.open("credit-ids");
    // A send request first: the daemon then grants credit to this connection.
    std::vector<std::byte> body;
    proto::writer w(body);
    proto::encode(w, proto::send_request{1, 0, bytes("x")});
    raw.request(proto::opcode::send, body);
    std::vector<std::byte> r;
    bool granted = false;
    for (int i = 0; i < 4 && !granted; ++i) {
        r = raw.next();
        granted = raw_client::opcode_of(r) == std::int64_t(proto::opcode::grant);
    }
    BOOST_TEST_REQUIRE(granted);
    // A stat as nobody (root may claim its ids): refused, and the credit is gone.
    const ucred nobody{::getpid(), 65534, 65534};
    BOOST_TEST_REQUIRE(raw.request_as(proto::opcode::stat, {}, nobody) == 0);
    r = raw.next();
    BOOST_TEST(raw_client::opcode_of(r) == std::int64_t(proto::opcode::stat));
    BOOST_TEST(raw_client::result_of(r) == EACCES);
    raw.request(proto::opcode::send, {std::byte{'y'}}, seqmq::detail::frame_kind::data);
    BOOST_TEST(raw.closed_with(EPROTO));
    good_client_works(d);
}
