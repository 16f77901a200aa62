// What the namespace tests share: network namespaces held by file descriptor (they vanish with
// the test process, whatever way it ends: nothing to clean up after a failure), entering them
// for a scope, and child processes that run in a namespace and report back an exact error code.
#pragma once

#include <seqmq/error.hpp>
#include <seqmq/sender.hpp>
#include <seqmq/tipc.hpp>

#include "child_wait.hpp"
#include "sys/fd.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace seqmq::test {

using detail::unique_fd;

/// The network namespace the calling thread is in, as a file descriptor that keeps it alive.
inline unique_fd current_netns() {
    return unique_fd(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
}

/// Sets IFF_UP on `device` in the calling thread's namespace; the error text, empty on success.
inline std::string bring_up(const char* device) {
    unique_fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock)
        return std::string("socket(AF_INET): ") + std::strerror(errno);
    ifreq request{};
    std::strncpy(request.ifr_name, device, IFNAMSIZ - 1);
    if (::ioctl(sock.get(), SIOCGIFFLAGS, &request) != 0)
        return std::string("SIOCGIFFLAGS ") + device + ": " + std::strerror(errno);
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
    if (::ioctl(sock.get(), SIOCSIFFLAGS, &request) != 0)
        return std::string("SIOCSIFFLAGS ") + device + ": " + std::strerror(errno);
    return {};
}

/// Moves the calling thread into a new network namespace with its loopback up; the error text,
/// empty on success.
inline std::string enter_new_netns() {
    if (::unshare(CLONE_NEWNET) != 0)
        return std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
    return bring_up("lo");
}

/// The calling thread in namespace `ns` for the scope; back where it was at the end (so a failed
/// check inside does not leave the next test case in the wrong namespace).
class scoped_netns {
public:
    explicit scoped_netns(int ns) : back_(current_netns()) {
        entered_ = back_ && ::setns(ns, CLONE_NEWNET) == 0;
    }
    scoped_netns(const scoped_netns&) = delete;
    scoped_netns& operator=(const scoped_netns&) = delete;
    ~scoped_netns() {
        if (entered_)
            (void)::setns(back_.get(), CLONE_NEWNET);
    }
    explicit operator bool() const noexcept { return entered_; }

private:
    unique_fd back_;
    bool entered_ = false;
};

/// An error code as it crosses from a child process to its parent: category name and value.
/// The categories the tests meet are mapped back by name.
struct wire_error {
    int value = 0;
    char category[32] = {};
};

inline wire_error to_wire(const std::error_code& e) {
    wire_error w;
    w.value = e.value();
    std::snprintf(w.category, sizeof w.category, "%s", e ? e.category().name() : "");
    return w;
}

inline std::error_code from_wire(const wire_error& w) {
    const std::string name = w.category;
    if (name.empty())
        return {};
    if (name == std::system_category().name())
        return {w.value, std::system_category()};
    if (name == std::generic_category().name())
        return {w.value, std::generic_category()};
    if (name == seqmq::category().name())
        return seqmq::make_error_code(static_cast<seqmq::errc>(w.value));
    if (name == seqmq::tipc::category().name())
        return seqmq::tipc::make_error_code(static_cast<seqmq::tipc::errc>(w.value));
    return {EPROTO, std::system_category()}; // a category the tests do not expect
}

/// A child process (fork, no exec) that runs `body` in the network namespace `netns`, or in a
/// new one when `netns` is -1, and reports the error code `body` returns (empty: success).
/// The child never returns into the test framework; it ends with _exit.
class child_in_netns {
public:
    child_in_netns(int netns, std::function<std::error_code()> body) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0)
            return;
        pid_ = ::fork();
        if (pid_ == 0) {
            ::close(p[0]);
            wire_error w;
            std::string failed;
            if (netns < 0)
                failed = enter_new_netns();
            else if (::setns(netns, CLONE_NEWNET) != 0)
                failed = std::string("setns: ") + std::strerror(errno);
            if (!failed.empty()) {
                std::fprintf(stderr, "child %d: %s\n", int(::getpid()), failed.c_str());
                w = to_wire({ECHILD, std::system_category()});
            } else {
                w = to_wire(body());
            }
            (void)!::write(p[1], &w, sizeof w);
            ::_exit(0);
        }
        ::close(p[1]);
        report_.reset(p[0]);
    }

    child_in_netns(const child_in_netns&) = delete;
    child_in_netns& operator=(const child_in_netns&) = delete;

    ~child_in_netns() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    bool started() const noexcept { return pid_ > 0; }
    pid_t pid() const noexcept { return pid_; }

    /// Waits up to `limit` for the child's report. `finished` is false when the child died
    /// without reporting or had to be killed.
    struct outcome {
        bool finished = false;
        std::error_code error;
    };
    outcome wait(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
        outcome out;
        const auto status = wait_for_child(std::exchange(pid_, -1), limit);
        if (!status)
            return out;
        wire_error w;
        if (::read(report_.get(), &w, sizeof w) != static_cast<ssize_t>(sizeof w))
            return out;
        out.finished = exit_code(status) == 0;
        out.error = from_wire(w);
        return out;
    }

private:
    pid_t pid_ = -1;
    unique_fd report_;
};

/// Connects to `to` from the calling thread's namespace (waiting up to `wait` for it to appear)
/// and sends one message; the error of whichever step failed.
inline std::error_code connect_and_send(const address& to, timeout wait, long type,
                                        std::string_view payload) {
    sender_options o;
    o.wait_for_mailbox = wait;
    auto s = sender::connect(to, o);
    if (!s)
        return s.error();
    auto sent = s->send(type, std::as_bytes(std::span(payload)), send_flags::none,
                        std::chrono::seconds(10));
    return sent ? std::error_code() : sent.error();
}

/// Whether a child process can get a network namespace of its own here; the reason when not.
inline std::string netns_unavailable() {
    child_in_netns probe(-1, [] { return std::error_code(); });
    if (!probe.started())
        return std::string("fork: ") + std::strerror(errno);
    auto r = probe.wait(std::chrono::seconds(10));
    if (!r.finished || r.error)
        return "a child process cannot enter a new network namespace (unshare(CLONE_NEWNET) "
               "needs CAP_SYS_ADMIN)";
    return {};
}

/// Polls `ready` every 50 ms until it holds or `limit` passes; its last answer.
inline bool eventually(const std::function<bool()>& ready,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        if (ready())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return ready();
}

/// Exits with 77 (ctest: skipped) after printing why, when `reason` is not empty.
inline void skip_unless(const std::string& reason) {
    if (reason.empty())
        return;
    std::printf("SKIP: %s\n", reason.c_str());
    std::fflush(stdout);
    std::_Exit(77);
}

} // namespace seqmq::test
