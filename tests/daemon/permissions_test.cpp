// Permissions: a child that setuid()s to another user is refused (EACCES / EPERM) exactly where
// the kernel refuses it the same operations on a SysV queue with the same mode, owned by the same
// user; and allowed where the mode allows.
#define BOOST_TEST_MODULE seqmqd permissions
#include "daemon_fixture.hpp"

#include <seqmq/seqmq.h>

#include <cerrno>
#include <cstring>
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
