// Waiting for a test's child process with a time limit, the one way every test does it.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <chrono>
#include <optional>
#include <thread>

namespace seqmq::test {

/// Waits up to `limit` for the child `pid` to end, calling `meanwhile()` between looks (a
/// millisecond apart); past the limit the child is killed (SIGKILL) and reaped. Returns its
/// wait status, or nullopt if it had to be killed (or `pid` names no child: <= 0).
template <class Meanwhile>
std::optional<int> wait_for_child(pid_t pid, std::chrono::milliseconds limit, Meanwhile meanwhile) {
    if (pid <= 0)
        return std::nullopt;
    const auto until = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > until) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return std::nullopt;
        }
        meanwhile();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return status;
}

inline std::optional<int> wait_for_child(pid_t pid, std::chrono::milliseconds limit) {
    return wait_for_child(pid, limit, [] {});
}

/// The exit code of a wait status from wait_for_child; -1 if it was killed or did not exit.
inline int exit_code(std::optional<int> status) {
    return status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
}

} // namespace seqmq::test
