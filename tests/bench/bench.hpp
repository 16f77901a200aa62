// What the parts of seqmq_bench share: errors, clocks, statistics, table text, the machine, a
// pipe between two processes, and the allocation counter of allocations.cpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <sched.h>
#include <stdexcept>
#include <string>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <vector>

namespace seqmq_bench {

[[noreturn]] inline void die(const std::string& what) {
    throw std::runtime_error(what);
}
[[noreturn]] inline void die_errno(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

inline void check_size(std::size_t got, std::size_t want, const char* who) {
    if (got != want)
        die(std::string(who) + ": received " + std::to_string(got) + " bytes, expected " +
            std::to_string(want));
}

inline std::uint64_t now_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

inline double median(std::vector<double> v) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

inline std::string fixed(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

/// A duration in the unit that keeps 3 significant digits readable: ns, µs, ms or s.
inline std::string duration_text(double ns) {
    if (ns < 1e3)
        return fixed(ns, 0) + " ns";
    if (ns < 1e6)
        return fixed(ns / 1e3, ns < 1e4 ? 2 : 1) + " µs";
    if (ns < 1e9)
        return fixed(ns / 1e6, ns < 1e7 ? 2 : 1) + " ms";
    return fixed(ns / 1e9, 2) + " s";
}

/// Pads to `width` columns, counting UTF-8 code points so "µs" and "×" take one column.
inline std::string pad(std::string s, std::size_t width, bool right = false) {
    std::size_t columns = 0;
    for (unsigned char c : s)
        columns += (c & 0xc0) != 0x80;
    if (columns < width)
        s = right ? std::string(width - columns, ' ') + s : s + std::string(width - columns, ' ');
    return s;
}

inline std::string size_text(std::size_t size) {
    if (size >= 1024 && size % 1024 == 0)
        return std::to_string(size / 1024) + " KiB";
    return std::to_string(size) + " B";
}

inline std::string count_text(std::size_t n) {
    if (n >= 1000 && n % 1000 == 0)
        return std::to_string(n / 1000) + "k";
    return std::to_string(n);
}

inline std::string read_first_line(const char* path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

inline std::size_t read_number(const char* path) {
    std::string line = read_first_line(path);
    return line.empty() ? 0 : static_cast<std::size_t>(std::strtoull(line.c_str(), nullptr, 10));
}

inline bool write_number(const char* path, std::size_t value) {
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    std::string text = std::to_string(value);
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    return ok;
}

/// Raises a /proc/sys limit to at least `value`; false if it is lower and cannot be raised.
inline bool raise_limit(const char* path, std::size_t value) {
    return read_number(path) >= value || write_number(path, value);
}

struct machine {
    std::string kernel, cpu, host;
    long cpus = 0;
    std::string affinity; // the CPUs this run may use, e.g. "0" under taskset -c 0
    bool pinned = false;  // fewer than all of them
};

inline machine describe_machine() {
    machine m;
    utsname u{};
    if (::uname(&u) == 0) {
        m.kernel = std::string(u.sysname) + " " + u.release + " " + u.version + " " + u.machine;
        m.host = u.nodename;
    }
    m.cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(c, &set))
                m.affinity += (m.affinity.empty() ? "" : ",") + std::to_string(c);
        m.pinned = CPU_COUNT(&set) < m.cpus;
    }
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
        if (line.starts_with("model name")) {
            auto colon = line.find(':');
            m.cpu = colon == std::string::npos ? line : line.substr(colon + 2);
            break;
        }
    return m;
}

/// A pipe that carries length-prefixed texts between the two processes of a run.
class pipe_pair {
public:
    pipe_pair() {
        if (::pipe2(fds_, O_CLOEXEC) != 0)
            die_errno("pipe2");
    }
    ~pipe_pair() {
        close_read();
        close_write();
    }
    pipe_pair(const pipe_pair&) = delete;
    pipe_pair& operator=(const pipe_pair&) = delete;
    void close_read() {
        if (fds_[0] >= 0)
            ::close(fds_[0]);
        fds_[0] = -1;
    }
    void close_write() {
        if (fds_[1] >= 0)
            ::close(fds_[1]);
        fds_[1] = -1;
    }
    void write_text(const std::string& text) {
        std::uint32_t n = static_cast<std::uint32_t>(text.size());
        write_all(&n, sizeof n);
        write_all(text.data(), n);
    }
    /// One byte, for a pipe read by several processes at once (a text's length and body could
    /// go to different readers).
    void write_byte() { write_all("!", 1); }
    /// false at end of file.
    bool read_byte() {
        char c;
        return read_all(&c, 1);
    }
    /// std::nullopt at end of file (the other process died).
    std::optional<std::string> read_text() {
        std::uint32_t n = 0;
        if (!read_all(&n, sizeof n))
            return std::nullopt;
        std::string text(n, '\0');
        if (!read_all(text.data(), n))
            return std::nullopt;
        return text;
    }

private:
    void write_all(const void* p, std::size_t n) {
        auto* c = static_cast<const char*>(p);
        while (n > 0) {
            ssize_t w = ::write(fds_[1], c, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                die_errno("write to pipe");
            c += w;
            n -= static_cast<std::size_t>(w);
        }
    }
    bool read_all(void* p, std::size_t n) {
        auto* c = static_cast<char*>(p);
        while (n > 0) {
            ssize_t r = ::read(fds_[0], c, n);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return false;
            c += r;
            n -= static_cast<std::size_t>(r);
        }
        return true;
    }
    int fds_[2];
};

/// Heap allocations (malloc, calloc, realloc, aligned_alloc, posix_memalign and so operator
/// new) made by this process while counting is on; allocations.cpp interposes them.
struct allocation_count {
    static void start() noexcept;
    static std::uint64_t stop() noexcept; ///< returns the count since start()
};

/// One line of a results file (--json): a flat object, so --compare can read it back.
struct result_record {
    std::string suite, peer, metric;
    std::size_t size = 0, depth = 0, senders = 0, count = 0; ///< count: messages or positions
    double value = 0;
    std::string unit, note;
};

} // namespace seqmq_bench
