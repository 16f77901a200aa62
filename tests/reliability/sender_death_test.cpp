// Sends a producer made on credit outlive it: once send() returned, the message is committed
// ("queue space is set aside for it", queue.hpp), so a SIGKILL right after must not lose it,
// whatever seqmqd writes to the dead producer's connection before it reads what is there.
//
// The order that loses them, made deterministic: seqmqd is stopped (SIGSTOP) while another
// client's IPC_SET arrives and then the producer's sends on credit, and the producer dies.
// Resumed, seqmqd serves the IPC_SET first: the queue's credit is asked back (a revoke notice
// to every sender holding some), the notice to the dead producer fails with EPIPE, the session
// is freed, and the records still unread on its socket are never read. The same happens under
// load without IPC_SET (a grant or a revoke to a producer that has just died): see
// test_chaos_daemon_queue, whose seqmqd log then says "client pid N: send: Broken pipe".
//
// The producer must hold credit before seqmqd is stopped, and a returned send does not say so:
// a fresh handle's first send is a request (flush() after it sends nothing), and seqmqd writes
// the grant after that request's reply, at the end of its turn. A SIGSTOP between the two left
// the producer without credit, its next send a request to the stopped seqmqd, and this test
// waiting for it for ever (about 1 run in 7). So the producer waits for the grant to arrive,
// and every wait here is bounded, so that a wrong premise fails instead of hanging.
#define BOOST_TEST_MODULE seqmqd sends outlive their sender
#include "daemon_fixture.hpp"

#include <cerrno>
#include <linux/sockios.h>
#include <poll.h>
#include <sstream>
#include <sys/ioctl.h>
#include <sys/syscall.h>

using namespace daemon_test;

namespace {

// A pipe of ints between the test and its children.
class int_pipe {
public:
    int_pipe() { BOOST_TEST_REQUIRE(::pipe2(fd_, O_CLOEXEC) == 0); }
    ~int_pipe() {
        ::close(fd_[0]);
        ::close(fd_[1]);
    }
    int_pipe(const int_pipe&) = delete;
    int_pipe& operator=(const int_pipe&) = delete;
    void put(int v) const { (void)!::write(fd_[1], &v, sizeof v); }
    // The next int, or -1 if none comes within `limit`.
    int get(std::chrono::milliseconds limit = 10s) const {
        pollfd p{fd_[0], POLLIN, 0};
        int v = -1;
        if (::poll(&p, 1, int(limit.count())) != 1)
            return -1;
        return ::read(fd_[0], &v, sizeof v) == sizeof v ? v : -1;
    }

private:
    int fd_[2];
};

// Waits until `pid`'s socket `fd` has a record out that its peer has not read (SIOCOUTQ on a
// copy of it, taken with pidfd_getfd). Returns false if this process may not take the copy.
bool wait_unread_by_peer(pid_t pid, int fd) {
    // (glibc 2.36's <sys/pidfd.h> declares them without C linkage: the system calls.)
    const int pidfd = int(::syscall(SYS_pidfd_open, pid, 0));
    const int copy = pidfd < 0 ? -1 : int(::syscall(SYS_pidfd_getfd, pidfd, fd, 0));
    const int why = errno;
    if (pidfd >= 0)
        ::close(pidfd);
    if (copy < 0) {
        BOOST_TEST_MESSAGE("pidfd_getfd: " << std::strerror(why)
                                           << ": the order rests on a 100 ms pause");
        return false;
    }
    const bool out = eventually([&] {
        int n = 0;
        return ::ioctl(copy, SIOCOUTQ, &n) == 0 && n > 0;
    });
    ::close(copy);
    BOOST_TEST_REQUIRE(out, "the setter's IPC_SET did not reach seqmqd's socket in 10 s");
    return true;
}

} // namespace

BOOST_AUTO_TEST_CASE(sends_on_credit_survive_a_revoke_to_their_dead_sender) {
    daemon_process d;
    auto own = open_queue(d, "credit", 16384);
    int_pipe to_producer, to_setter, ready, setter_socket;
    constexpr int on_credit = 20;

    child producer([&] {
        auto q = seqmq::queue::open("credit", seqmq::open_flags::none, 0600, d.options());
        if (!q || !q->send(1, bytes("first")))
            return 10;
        // The grant is the next record seqmqd sends it; the next send takes it in.
        pollfd granted{q->native_handle(), POLLIN, 0};
        if (::poll(&granted, 1, 10000) != 1)
            return 11;
        ready.put(0); // it holds credit now
        if (to_producer.get(30s) != 1)
            return 12;
        int sent = 0;
        while (sent < on_credit && q->send(1, bytes("on credit " + std::to_string(sent))))
            ++sent;
        ready.put(sent);  // these sends returned
        ::raise(SIGKILL); // as kill -9 right after them: no flush, no close
        return 0;
    });
    child setter([&] {
        auto q = seqmq::queue::open("credit", seqmq::open_flags::none, 0600, d.options());
        if (!q)
            return 10;
        setter_socket.put(q->native_handle());
        ready.put(0);
        if (to_setter.get(30s) != 1)
            return 12;
        seqmq::queue_settings s;
        s.mode = 0600; // unchanged; the credit granted is asked back all the same
        return q->set(s) ? 0 : 11;
    });
    BOOST_TEST_REQUIRE(ready.get() == 0);
    BOOST_TEST_REQUIRE(ready.get() == 0);

    BOOST_TEST_REQUIRE(::kill(d.pid(), SIGSTOP) == 0);
    to_setter.put(1);
    // Its IPC_SET is on seqmqd's socket first.
    if (!wait_unread_by_peer(setter.pid(), setter_socket.get()))
        std::this_thread::sleep_for(100ms);
    to_producer.put(1);
    const int sent = ready.get();
    BOOST_TEST(producer.wait(5s) == -1, "the producer was to die by SIGKILL");
    BOOST_TEST_REQUIRE(::kill(d.pid(), SIGCONT) == 0);
    BOOST_TEST(setter.wait(5s) == 0);

    BOOST_TEST_REQUIRE(sent == on_credit, "sends on credit that returned: "
                                              << sent << " (-1: they did not return in 10 s)");
    std::size_t queued = 0;
    (void)eventually(
        [&] {
            auto s = own.stat();
            queued = s ? s->count : 0;
            return queued >= std::size_t(1 + sent);
        },
        2s);
    std::string said;
    std::istringstream log(d.log_text());
    for (std::string line; std::getline(log, line);)
        if (line.find("send: ") != std::string::npos)
            said += "\n  " + line;
    BOOST_TEST(queued == std::size_t(1 + sent),
               sent << " sends on credit returned before the producer died, and the one before; "
                    << queued << " are queued; seqmqd said:" << said);
    BOOST_TEST(d.alive());
}
