// The C API on daemon queues against the kernel's SysV queues: the same operations, the same
// return values, errno, types and bytes — including capacity, EAGAIN, IPC_STAT counts, IPC_RMID
// with EIDRM to a waiter, and EINTR.
#define BOOST_TEST_MODULE seqmqd C API
#include "daemon_fixture.hpp"
#include "kernel_queue.hpp"

#include <seqmq/seqmq.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <sched.h>
#include <sstream>
#include <sys/ipc.h>
#include <sys/msg.h>

using namespace daemon_test;

namespace {

constexpr std::size_t capacity = 1000;

struct msg {
    long mtype;
    char mtext[512];
};

struct pair_of_queues {
    int sysv = -1;
    seqmq_t* dq = nullptr;

    explicit pair_of_queues(const char* name) {
        sysv = seqmq_test::private_kernel_queue(capacity);
        dq = seqmq_queue_open(name, IPC_CREAT | IPC_EXCL, 0600);
        BOOST_TEST_REQUIRE(dq != nullptr, std::strerror(errno));
        msqid_ds dds{};
        BOOST_TEST_REQUIRE(seqmq_msgctl(dq, IPC_STAT, &dds) == 0);
        dds.msg_qbytes = capacity;
        BOOST_TEST_REQUIRE(seqmq_msgctl(dq, IPC_SET, &dds) == 0, std::strerror(errno));
    }
    ~pair_of_queues() {
        ::msgctl(sysv, IPC_RMID, nullptr);
        seqmq_close(dq);
    }
};

std::string result(long rc, const msg& m) {
    if (rc < 0)
        return std::string("-1 ") + std::strerror(errno);
    return std::to_string(rc) + " type " + std::to_string(m.mtype) + " '" +
           std::string(m.mtext, std::size_t(rc)) + "'";
}

extern "C" void on_alarm(int) {}

} // namespace

BOOST_AUTO_TEST_CASE(random_operations_agree_with_sysv) {
    daemon_process d;
    pair_of_queues q("differential");
    std::mt19937 rng(20240611);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    int sent_ok = 0, eagain = 0, received = 0;
    for (int step = 0; step < 3000; ++step) {
        std::ostringstream what;
        std::string a, b;
        if (pick(0, 1) == 0) {
            msg m{};
            m.mtype = pick(-1, 6);
            const std::size_t size = std::size_t(pick(0, 160));
            for (std::size_t i = 0; i < size; ++i)
                m.mtext[i] = char('a' + (step + int(i)) % 26);
            what << "msgsnd type " << m.mtype << " size " << size;
            msg m2 = m;
            // SysV first, then seqmq, each on its own copy.
            int ra = ::msgsnd(q.sysv, &m2, size, IPC_NOWAIT);
            a = ra == 0 ? "0" : std::string("-1 ") + std::strerror(errno);
            int rb = seqmq_msgsnd(q.dq, &m, size, IPC_NOWAIT);
            b = rb == 0 ? "0" : std::string("-1 ") + std::strerror(errno);
            if (ra == 0)
                ++sent_ok;
            else if (errno == EAGAIN)
                ++eagain;
        } else {
            const long type = pick(-7, 7);
            int flags = IPC_NOWAIT;
            if (pick(0, 3) == 0)
                flags |= MSG_EXCEPT;
            if (pick(0, 3) == 0)
                flags |= MSG_NOERROR;
            const bool copy = pick(0, 9) == 0;
            if (copy)
                flags = IPC_NOWAIT | MSG_COPY;
            const std::size_t size = std::size_t(pick(0, 200));
            what << "msgrcv type " << type << " flags " << std::oct << flags << std::dec << " size "
                 << size;
            msg ma{}, mb{};
            long ra = ::msgrcv(q.sysv, &ma, size, type, flags);
            a = result(ra, ma);
            long rb = seqmq_msgrcv(q.dq, &mb, size, type, flags);
            b = result(rb, mb);
            if (ra >= 0 && !copy)
                ++received;
        }
        BOOST_TEST_REQUIRE(b == a, "step " << step << ": " << what.str());
        if (step % 50 == 0) {
            msqid_ds sa{}, sb{};
            BOOST_TEST_REQUIRE(::msgctl(q.sysv, IPC_STAT, &sa) == 0);
            BOOST_TEST_REQUIRE(seqmq_msgctl(q.dq, IPC_STAT, &sb) == 0);
            BOOST_TEST_REQUIRE(sb.msg_qnum == sa.msg_qnum, "step " << step);
            BOOST_TEST_REQUIRE(sb.__msg_cbytes == sa.__msg_cbytes, "step " << step);
            BOOST_TEST_REQUIRE(sb.msg_qbytes == sa.msg_qbytes);
            BOOST_TEST(sb.msg_perm.mode == sa.msg_perm.mode);
            BOOST_TEST(sb.msg_perm.uid == sa.msg_perm.uid);
            BOOST_TEST(sb.msg_lspid == sa.msg_lspid);
        }
    }
    BOOST_TEST_MESSAGE(sent_ok << " sends, " << eagain << " EAGAIN, " << received << " receives");
    BOOST_TEST(eagain > 0); // the capacity was reached, and agreed on
}

BOOST_AUTO_TEST_CASE(rmid_eidrm_and_einval_like_sysv) {
    daemon_process d;
    pair_of_queues q("rmid");
    line_pipe results;
    child waiter([&] {
        msg m{};
        long ra = ::msgrcv(q.sysv, &m, sizeof m.mtext, 9, 0);
        results.write_line("sysv " + result(ra, m));
        return 0;
    });
    child waiter2([&] {
        msg m{};
        seqmq_t* mine = seqmq_queue_open("rmid", 0, 0);
        long rb = seqmq_msgrcv(mine, &m, sizeof m.mtext, 9, 0);
        results.write_line("seqmq " + result(rb, m));
        return 0;
    });
    auto watch = seqmq::queue::open("rmid", seqmq::open_flags::none, 0, d.options());
    BOOST_TEST_REQUIRE(eventually([&] { return watch->stat()->waiting_receivers == 1u; }));
    std::this_thread::sleep_for(50ms); // the SysV waiter has no such probe; give it time to block
    BOOST_TEST(::msgctl(q.sysv, IPC_RMID, nullptr) == 0);
    BOOST_TEST(seqmq_msgctl(q.dq, IPC_RMID, nullptr) == 0);
    BOOST_TEST(waiter.wait() == 0);
    BOOST_TEST(waiter2.wait() == 0);
    results.close_write();
    auto lines = results.read_lines();
    std::sort(lines.begin(), lines.end());
    BOOST_TEST(lines == (std::vector<std::string>{"seqmq -1 Identifier removed",
                                                  "sysv -1 Identifier removed"}),
               boost::test_tools::per_element());
    // Afterwards, the kernel says EINVAL for the stale id; so does seqmq.
    msg m{1, "x"};
    BOOST_TEST(::msgsnd(q.sysv, &m, 1, IPC_NOWAIT) == -1);
    BOOST_TEST(errno == EINVAL);
    BOOST_TEST(seqmq_msgsnd(q.dq, &m, 1, IPC_NOWAIT) == -1);
    BOOST_TEST(errno == EINVAL);
    BOOST_TEST(seqmq_msgrcv(q.dq, &m, 1, 0, IPC_NOWAIT) == -1);
    BOOST_TEST(errno == EINVAL);
    msqid_ds ds{};
    BOOST_TEST(seqmq_msgctl(q.dq, IPC_STAT, &ds) == -1);
    BOOST_TEST(errno == EINVAL);
    q.sysv = -1;
}

// seqmq.h: IPC_SET with msg_qbytes 0 succeeds, as on Linux, and then nothing fits.
BOOST_AUTO_TEST_CASE(msg_qbytes_zero_like_sysv) {
    daemon_process d;
    pair_of_queues q("qbytes-zero");
    for (int id : {q.sysv, -1}) {
        msqid_ds ds{};
        const bool kernel = id >= 0;
        BOOST_TEST_REQUIRE(
            (kernel ? ::msgctl(id, IPC_STAT, &ds) : seqmq_msgctl(q.dq, IPC_STAT, &ds)) == 0);
        ds.msg_qbytes = 0;
        BOOST_TEST((kernel ? ::msgctl(id, IPC_SET, &ds) : seqmq_msgctl(q.dq, IPC_SET, &ds)) == 0,
                   (kernel ? "sysv: " : "seqmq: ") << std::strerror(errno));
        msqid_ds after{};
        BOOST_TEST_REQUIRE(
            (kernel ? ::msgctl(id, IPC_STAT, &after) : seqmq_msgctl(q.dq, IPC_STAT, &after)) == 0);
        BOOST_TEST(after.msg_qbytes == 0u);
        msg m{1, ""};
        errno = 0;
        BOOST_TEST((kernel ? ::msgsnd(id, &m, 0, IPC_NOWAIT)
                           : seqmq_msgsnd(q.dq, &m, 0, IPC_NOWAIT)) == -1);
        BOOST_TEST(errno == EAGAIN, (kernel ? "sysv: " : "seqmq: ") << std::strerror(errno));
    }
}

// seqmq.h: after the daemon dies, every call on a handle says ECONNRESET.
BOOST_AUTO_TEST_CASE(daemon_death_is_econnreset) {
    daemon_process d;
    seqmq_t* q = seqmq_queue_open("dies", IPC_CREAT, 0600);
    BOOST_TEST_REQUIRE(q != nullptr, std::strerror(errno));
    msg m{1, "x"};
    BOOST_TEST_REQUIRE(seqmq_msgsnd(q, &m, 1, 0) == 0);
    d.kill_hard();
    errno = 0;
    BOOST_TEST(seqmq_msgrcv(q, &m, sizeof m.mtext, 2, IPC_NOWAIT) == -1);
    BOOST_TEST(errno == ECONNRESET, std::strerror(errno));
    errno = 0;
    BOOST_TEST(seqmq_msgsnd(q, &m, 1, IPC_NOWAIT) == -1);
    BOOST_TEST(errno == ECONNRESET, std::strerror(errno));
    msqid_ds ds{};
    errno = 0;
    BOOST_TEST(seqmq_msgctl(q, IPC_STAT, &ds) == -1);
    BOOST_TEST(errno == ECONNRESET, std::strerror(errno));
    BOOST_TEST(seqmq_close(q) == 0);
}

BOOST_AUTO_TEST_CASE(signal_while_waiting_is_eintr) {
    daemon_process d;
    pair_of_queues q("eintr");
    child c([&] {
        struct sigaction sa {};
        sa.sa_handler = on_alarm;
        ::sigaction(SIGALRM, &sa, nullptr);
        msg m{};
        ::alarm(1);
        long ra = ::msgrcv(q.sysv, &m, sizeof m.mtext, 0, 0);
        int ea = errno;
        ::alarm(1);
        long rb = seqmq_msgrcv(q.dq, &m, sizeof m.mtext, 0, 0);
        int eb = errno;
        // Full queue: a blocked send is interrupted too.
        std::memset(m.mtext, 'x', sizeof m.mtext);
        m.mtype = 1;
        ::msgsnd(q.sysv, &m, 500, 0);
        ::msgsnd(q.sysv, &m, 500, 0);
        seqmq_msgsnd(q.dq, &m, 500, 0);
        seqmq_msgsnd(q.dq, &m, 500, 0);
        ::alarm(1);
        int sa_ = ::msgsnd(q.sysv, &m, 10, 0);
        int esa = errno;
        ::alarm(1);
        int sb = seqmq_msgsnd(q.dq, &m, 10, 0);
        int esb = errno;
        bool ok = ra == -1 && ea == EINTR && rb == -1 && eb == EINTR && sa_ == -1 && esa == EINTR &&
                  sb == -1 && esb == EINTR;
        return ok ? 0 : 1;
    });
    BOOST_TEST(c.wait() == 0);
    // The daemon forgot the cancelled waits: a message now stays for whoever asks.
    auto watch = seqmq::queue::open("eintr", seqmq::open_flags::none, 0, d.options());
    BOOST_TEST(watch->stat()->waiting_receivers == 0u);
    BOOST_TEST(watch->stat()->waiting_senders == 0u);
}

BOOST_AUTO_TEST_CASE(blocked_sender_proceeds_when_room_appears) {
    daemon_process d;
    pair_of_queues q("room");
    msg m{1, {}};
    std::memset(m.mtext, 'y', sizeof m.mtext);
    BOOST_TEST_REQUIRE(seqmq_msgsnd(q.dq, &m, 500, IPC_NOWAIT) == 0);
    BOOST_TEST_REQUIRE(seqmq_msgsnd(q.dq, &m, 500, IPC_NOWAIT) == 0);
    BOOST_TEST(seqmq_msgsnd(q.dq, &m, 1, IPC_NOWAIT) == -1);
    BOOST_TEST(errno == EAGAIN);
    child c([&] {
        seqmq_t* mine = seqmq_queue_open("room", 0, 0);
        msg x{2, "late"};
        return seqmq_msgsnd(mine, &x, 4, 0) == 0 ? 0 : 1;
    });
    auto watch = seqmq::queue::open("room", seqmq::open_flags::none, 0, d.options());
    BOOST_TEST_REQUIRE(eventually([&] { return watch->stat()->waiting_senders == 1u; }));
    msg got{};
    BOOST_TEST(seqmq_msgrcv(q.dq, &got, sizeof got.mtext, 0, IPC_NOWAIT) == 500);
    BOOST_TEST(c.wait() == 0);
    msqid_ds ds{};
    BOOST_TEST(seqmq_msgctl(q.dq, IPC_STAT, &ds) == 0);
    BOOST_TEST(ds.msg_qnum == 2u);
    BOOST_TEST(ds.__msg_cbytes == 504u);
    BOOST_TEST(seqmq_msgrcv(q.dq, &got, sizeof got.mtext, 2, IPC_NOWAIT) == 4);
}

// --- IPC_INFO, MSG_INFO, MSG_STAT, MSG_STAT_ANY -------------------------------------------------

namespace {

// One side of the comparison: the kernel's msgget/msgsnd/msgctl, or seqmq's C API.
struct kernel_side {
    int create(int mode) { return ::msgget(IPC_PRIVATE, IPC_CREAT | mode); }
    int send(int id, const char* text) {
        msg m{1, {}};
        std::strcpy(m.mtext, text);
        return ::msgsnd(id, &m, std::strlen(text), IPC_NOWAIT);
    }
    int remove(int id) { return ::msgctl(id, IPC_RMID, nullptr); }
    int ctl(int msqid, int cmd, void* buf) {
        return ::msgctl(msqid, cmd, static_cast<msqid_ds*>(buf));
    }
};

struct seqmq_side {
    std::map<int, seqmq_t*> handles;
    int create(int mode) {
        seqmq_t* q = seqmq_queue_open(nullptr, IPC_CREAT, mode);
        if (!q)
            return -1;
        msqid_ds ds{};
        seqmq_msgctl(q, IPC_STAT, &ds);
        handles[ds.msg_perm.__key] = q; // (the C API's IPC_STAT puts the id there)
        return ds.msg_perm.__key;
    }
    int send(int id, const char* text) {
        msg m{1, {}};
        std::strcpy(m.mtext, text);
        return seqmq_msgsnd(handles.at(id), &m, std::strlen(text), IPC_NOWAIT);
    }
    int remove(int id) { return seqmq_msgctl(handles.at(id), IPC_RMID, nullptr); }
    int ctl(int msqid, int cmd, void* buf) {
        return seqmq_daemon_msgctl(msqid, cmd, static_cast<msqid_ds*>(buf));
    }
    ~seqmq_side() {
        for (auto& [_, q] : handles)
            seqmq_close(q);
    }
};

template <class Side>
std::string info_line(Side& s, const char* what, int cmd) {
    msginfo i{};
    std::ostringstream out;
    out << what << ": ";
    const int r = s.ctl(0, cmd, &i);
    if (r < 0)
        return out.str() + "-1 " + std::strerror(errno);
    out << r << " msgpool " << i.msgpool << " msgmap " << i.msgmap << " msgtql " << i.msgtql
        << " msgmni " << i.msgmni << " msgmax " << i.msgmax << " msgmnb " << i.msgmnb << " msgssz "
        << i.msgssz << " msgseg " << i.msgseg;
    return out.str();
}

template <class Side>
std::string stat_line(Side& s, const char* what, int index, int cmd) {
    msqid_ds ds{};
    std::ostringstream out;
    out << what << ": ";
    const int r = s.ctl(index, cmd, &ds);
    if (r < 0)
        return out.str() + "-1 " + std::strerror(errno);
    out << r << " mode " << std::oct << (ds.msg_perm.mode & 0777) << std::dec << " qnum "
        << ds.msg_qnum << " cbytes " << ds.__msg_cbytes << " qbytes " << ds.msg_qbytes << " uid "
        << ds.msg_perm.uid;
    return out.str();
}

// The same calls on either side, one line each; ids as they come (a fresh IPC namespace and a
// fresh seqmqd number alike). `as_nobody` runs a line in a child that became uid 65534.
template <class Side, class AsNobody>
std::vector<std::string> info_and_stat_script(Side& s, AsNobody as_nobody) {
    std::vector<std::string> out;
    auto say = [&](const std::string& what, long r) {
        out.push_back(what + ": " +
                      (r < 0 ? "-1 " + std::string(std::strerror(errno)) : std::to_string(r)));
    };
    out.push_back(info_line(s, "IPC_INFO, no queue", IPC_INFO));
    out.push_back(info_line(s, "MSG_INFO, no queue", MSG_INFO));
    out.push_back(stat_line(s, "MSG_STAT 0, no queue", 0, MSG_STAT));
    const int a = s.create(0600), b = s.create(0640), c = s.create(0666);
    say("create a", a);
    say("create b", b);
    say("create c", c);
    say("send 'abc' to a", s.send(a, "abc"));
    say("send 'hello' to a", s.send(a, "hello"));
    say("send 'x' to c", s.send(c, "x"));
    out.push_back(info_line(s, "MSG_INFO", MSG_INFO));
    out.push_back(info_line(s, "IPC_INFO", IPC_INFO));
    out.push_back(stat_line(s, "MSG_STAT 0", 0, MSG_STAT));
    out.push_back(stat_line(s, "MSG_STAT 32768 (the index: low 15 bits)", 32768, MSG_STAT));
    out.push_back(stat_line(s, "MSG_STAT_ANY 2", 2, MSG_STAT_ANY));
    out.push_back(stat_line(s, "MSG_STAT 3 (unused)", 3, MSG_STAT));
    out.push_back(stat_line(s, "MSG_STAT -1", -1, MSG_STAT));
    say("MSG_STAT 0, buf NULL", s.ctl(0, MSG_STAT, nullptr));
    say("MSG_STAT 3 (unused), buf NULL", s.ctl(3, MSG_STAT, nullptr));
    say("IPC_INFO, buf NULL", s.ctl(0, IPC_INFO, nullptr));
    say("cmd 99", s.ctl(0, 99, nullptr));
    out.push_back(
        as_nobody([&] { return stat_line(s, "MSG_STAT 0 (nobody, 0600)", 0, MSG_STAT); }));
    out.push_back(
        as_nobody([&] { return stat_line(s, "MSG_STAT_ANY 0 (nobody)", 0, MSG_STAT_ANY); }));
    out.push_back(
        as_nobody([&] { return stat_line(s, "MSG_STAT 2 (nobody, 0666)", 2, MSG_STAT); }));
    say("remove c", s.remove(c));
    out.push_back(info_line(s, "MSG_INFO after removing c", MSG_INFO));
    say("remove a", s.remove(a));
    out.push_back(stat_line(s, "MSG_STAT 0 (removed)", 0, MSG_STAT));
    const int d = s.create(0600);
    say("create d", d);
    out.push_back(info_line(s, "MSG_INFO", MSG_INFO));
    out.push_back(stat_line(s, "MSG_STAT 3", 3, MSG_STAT));
    say("remove b", s.remove(b));
    say("remove d", s.remove(d));
    out.push_back(info_line(s, "MSG_INFO, none left", MSG_INFO));
    return out;
}

// Runs `line` as uid 65534 in a child; its line, or why it failed.
std::string line_as_nobody(const std::function<std::string()>& line) {
    line_pipe result;
    child c([&] {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0)
            return 2;
        result.write_line(line());
        return 0;
    });
    const int status = c.wait();
    result.close_write();
    auto lines = result.read_lines();
    return status == 0 && lines.size() == 1u ? lines[0]
                                             : "(as nobody: exit " + std::to_string(status) + ")";
}

} // namespace

// seqmq_daemon_msgctl against the kernel's msgctl in a fresh IPC namespace, line for line: the
// highest index IPC_INFO and MSG_INFO return, MSG_INFO's counts, MSG_STAT by index and its full
// id, EINVAL, EACCES for another user and MSG_STAT_ANY's none, EFAULT after the rest; seqmqd
// started with a fresh namespace's limits (msgmni 32000, msgmax 8192, msgmnb 16384), so that
// IPC_INFO's fields agree too.
BOOST_AUTO_TEST_CASE(info_and_stat_by_index_like_sysv, *boost::unit_test::precondition(as_root())) {
    line_pipe kernel_lines;
    child kernel([&] {
        if (::unshare(CLONE_NEWIPC) != 0)
            return 125;
        kernel_side k;
        for (const auto& l : info_and_stat_script(k, line_as_nobody))
            kernel_lines.write_line(l);
        return 0;
    });
    const int kernel_status = kernel.wait();
    kernel_lines.close_write();
    BOOST_TEST_REQUIRE(kernel_status == 0,
                       "the kernel's side (unshare(CLONE_NEWIPC)?) exited " << kernel_status);
    const auto expected = kernel_lines.read_lines();

    daemon_process d(
        {"--max-queues", "32000", "--max-message-size", "8192", "--default-capacity", "16384"});
    seqmq_side s;
    const auto got = info_and_stat_script(s, line_as_nobody);
    BOOST_TEST(got == expected, boost::test_tools::per_element());
}
