// A real seqmqd for a test: started on a private socket under a fresh temporary directory,
// stopped with SIGTERM at the end (and its exit status checked).
#pragma once

#include <boost/test/unit_test.hpp>

#include <seqmq/queue.hpp>

#include "child_wait.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace daemon_test {

using namespace std::chrono_literals;

inline std::span<const std::byte> bytes(std::string_view s) {
    return std::as_bytes(std::span(s));
}

inline std::string text(std::span<const std::byte> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

template <class R>
std::string why(const R& r) {
    return r ? std::string("ok") : r.error().message();
}

// Polls `condition` every millisecond until it holds or `limit` passes.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = 10s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > until)
            return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

class daemon_process {
public:
    explicit daemon_process(std::vector<std::string> extra = {}) {
        char tmpl[] = "/tmp/seqmqd-test-XXXXXX";
        BOOST_TEST_REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir_ = tmpl;
        ::chmod(dir_.c_str(), 0755); // other uids in the permission tests reach the socket
        socket_ = dir_ + "/run/seqmqd.sock";
        log_ = dir_ + "/seqmqd.log";
        address_ = "unix:" + socket_;
        std::vector<std::string> args{SEQMQD_PATH, "--listen",    address_, "--socket-mode",
                                      "0666",      "--log-level", "debug"};
        args.insert(args.end(), extra.begin(), extra.end());
        pid_ = ::fork();
        BOOST_TEST_REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            ::dup2(fd, 2);
            std::vector<char*> argv;
            for (auto& a : args)
                argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(SEQMQD_PATH, argv.data());
            ::_exit(127);
        }
        BOOST_TEST_REQUIRE(eventually([&] { return accepting(); }),
                           "seqmqd did not come up; its log:\n"
                               << log_text());
        ::setenv("SEQMQ_DAEMON", address_.c_str(), 1);
    }

    ~daemon_process() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            ::kill(pid_, SIGCONT); // a test that failed while it was stopped (SIGSTOP)
            int status = 0;
            ::waitpid(pid_, &status, 0);
            BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0),
                       "seqmqd did not stop cleanly on SIGTERM; log:\n"
                           << log_text());
            BOOST_TEST(!std::filesystem::exists(socket_), "seqmqd left its socket behind");
        }
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    daemon_process(const daemon_process&) = delete;
    daemon_process& operator=(const daemon_process&) = delete;

    bool alive() const { return pid_ > 0 && ::kill(pid_, 0) == 0 && !zombie(); }

    // SIGKILL, as a crash: no clean stop to check afterwards.
    void kill_hard() {
        ::kill(pid_, SIGKILL);
        ::waitpid(std::exchange(pid_, -1), nullptr, 0);
    }

    const std::string& address_text() const { return address_; }
    const std::string& socket_path() const { return socket_; }
    const std::string& dir() const { return dir_; }
    pid_t pid() const { return pid_; }

    seqmq::queue_options options(std::size_t capacity = 0) const {
        seqmq::queue_options o;
        o.daemon = *seqmq::address::parse(address_);
        o.capacity = capacity;
        return o;
    }

    std::string log_text() const {
        std::string all;
        if (FILE* f = std::fopen(log_.c_str(), "r")) {
            char buf[4096];
            for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
                all.append(buf, n);
            std::fclose(f);
        }
        return all;
    }

private:
    // Exited and not reaped yet (waitpid() refuses WNOWAIT: waitid() takes it).
    bool zombie() const {
        siginfo_t info{};
        return ::waitid(P_PID, id_t(pid_), &info, WNOHANG | WNOWAIT | WEXITED) == 0 &&
               info.si_pid == pid_;
    }

    bool accepting() const {
        int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        std::strncpy(sun.sun_path, socket_.c_str(), sizeof sun.sun_path - 1);
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0;
        ::close(fd);
        return ok;
    }

    std::string dir_, socket_, log_, address_;
    pid_t pid_ = -1;
};

// A forked child running `body`; its return value is the exit status.
class child {
public:
    explicit child(std::function<int()> body) {
        pid_ = ::fork();
        BOOST_TEST_REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            int status = 1;
            try {
                status = body();
            } catch (...) {
                status = 99;
            }
            ::_exit(status);
        }
    }
    child(child&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
    child(const child&) = delete;

    // Exit status; -1 if killed (or still running after `limit`, then killed).
    int wait(std::chrono::milliseconds limit = 30s) {
        return seqmq::test::exit_code(seqmq::test::wait_for_child(std::exchange(pid_, -1), limit));
    }

    void kill(int sig = SIGKILL) { ::kill(pid_, sig); }

    pid_t pid() const { return pid_; }

    ~child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

private:
    pid_t pid_ = -1;
};

// A pipe a child writes lines to.
class line_pipe {
public:
    line_pipe() { BOOST_TEST_REQUIRE(::pipe2(fd_, O_CLOEXEC) == 0); }
    ~line_pipe() {
        ::close(fd_[0]);
        if (fd_[1] >= 0)
            ::close(fd_[1]);
    }
    void write_line(const std::string& s) {
        std::string l = s + "\n";
        (void)!::write(fd_[1], l.data(), l.size());
    }
    void close_write() {
        ::close(fd_[1]);
        fd_[1] = -1;
    }
    // The next line (blocks until one is written).
    std::string read_line() {
        std::string l;
        char ch;
        while (::read(fd_[0], &ch, 1) == 1 && ch != '\n')
            l += ch;
        return l;
    }

    // Everything, once every writer has closed.
    std::vector<std::string> read_lines() {
        std::string all;
        char buf[4096];
        for (ssize_t n; (n = ::read(fd_[0], buf, sizeof buf)) > 0;)
            all.append(buf, std::size_t(n));
        std::vector<std::string> lines;
        for (std::size_t at = 0; at < all.size();) {
            auto nl = all.find('\n', at);
            lines.push_back(all.substr(at, nl - at));
            at = nl + 1;
        }
        return lines;
    }

private:
    int fd_[2];
};

inline void send_ok(seqmq::queue& q, long type, std::string_view payload) {
    auto r = q.send(type, bytes(payload));
    BOOST_TEST_REQUIRE(r.has_value(), "send: " << why(r));
}

// A precondition for tests that setuid() to another user: without root they report a skip
// with the reason (BOOST_AUTO_TEST_CASE(name, *boost::unit_test::precondition(as_root()))).
struct as_root {
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        boost::test_tools::assertion_result r(::geteuid() == 0);
        r.message() << "needs root to setuid() to another user";
        return r;
    }
};

// A well-behaved client still gets its work done (after something bad happened to another).
inline void good_client_works(const daemon_process& d) {
    auto q = seqmq::queue::open("good", seqmq::open_flags::create, 0600, d.options());
    BOOST_TEST_REQUIRE(q.has_value(), why(q));
    BOOST_TEST_REQUIRE(q->send(1, bytes("still here")).has_value());
    auto m = q->receive({}, seqmq::receive_flags::nowait);
    BOOST_TEST_REQUIRE(m.has_value(), why(m));
    BOOST_TEST(text(m->data) == "still here");
}

inline std::size_t waiting_receivers(seqmq::queue& q) {
    auto s = q.stat();
    return s ? s->waiting_receivers : 0;
}

inline seqmq::queue open_queue(const daemon_process& d, const std::string& name,
                               std::size_t capacity = 0, unsigned mode = 0600) {
    auto q = seqmq::queue::open(name, seqmq::open_flags::create, mode, d.options(capacity));
    BOOST_TEST_REQUIRE(q.has_value(), "open " << name << ": " << why(q));
    return std::move(*q);
}

} // namespace daemon_test
