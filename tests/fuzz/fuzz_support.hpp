// What the libFuzzer harnesses share: the step format that cuts one input into a sequence of
// records, invariant checks that abort (libFuzzer keeps the input), and a check that an input
// left no file descriptor open.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <span>
#include <unistd.h>
#include <vector>

/// Aborts with the failed invariant when `cond` is false; libFuzzer saves the input as a crash.
#define SEQMQ_FUZZ_EXPECT(cond)                                                                    \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ::seqmq_fuzz::invariant_failed(#cond, __FILE__, __LINE__);                             \
    } while (0)

namespace seqmq_fuzz {

[[noreturn]] inline void invariant_failed(const char* what, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, what);
    std::abort();
}

/// Whether SEQMQ_FUZZ_TRACE is set: the stateful harnesses then say what happens, to replay an
/// input by hand.
inline bool tracing() {
    static const bool on = std::getenv("SEQMQ_FUZZ_TRACE") != nullptr;
    return on;
}

/// One step of a stateful harness: an operation byte and the bytes that go with it.
struct step {
    std::uint8_t op = 0;
    std::span<const std::byte> bytes;
};

/// Cuts an input into steps. Each step is
///   u8 op, u16 big-endian length N, N bytes
/// and a last step whose length runs past the end takes the bytes that are left (so every input
/// means something, and a truncated seed still replays its first steps).
class step_reader {
public:
    step_reader(const std::uint8_t* data, std::size_t size)
        : in_(reinterpret_cast<const std::byte*>(data), size) {}
    explicit step_reader(std::span<const std::byte> in) : in_(in) {}

    std::optional<step> next() {
        if (in_.empty())
            return std::nullopt;
        step s;
        s.op = std::to_integer<std::uint8_t>(in_[0]);
        std::size_t n = 0;
        if (in_.size() >= 3)
            n = std::to_integer<std::size_t>(in_[1]) << 8 | std::to_integer<std::size_t>(in_[2]);
        const std::size_t header = std::min<std::size_t>(in_.size(), 3);
        n = std::min(n, in_.size() - header);
        s.bytes = in_.subspan(header, n);
        in_ = in_.subspan(header + n);
        return s;
    }

private:
    std::span<const std::byte> in_;
};

/// Appends a step in step_reader's format (the seed generator's side).
inline void put_step(std::vector<std::byte>& out, std::uint8_t op, std::span<const std::byte> b) {
    out.push_back(std::byte{op});
    out.push_back(std::byte(b.size() >> 8));
    out.push_back(std::byte(b.size() & 0xff));
    out.insert(out.end(), b.begin(), b.end());
}

/// Reads fixed-size fields from the front of a step's bytes; past the end they read as zero.
class field_reader {
public:
    explicit field_reader(std::span<const std::byte> in) : in_(in) {}
    std::uint8_t u8() { return std::uint8_t(take(1)); }
    std::uint16_t u16() { return std::uint16_t(take(2)); }
    std::uint32_t u32() { return std::uint32_t(take(4)); }
    std::uint64_t u64() { return take(8); }
    std::int64_t i64() { return std::int64_t(take(8)); }
    std::span<const std::byte> rest() {
        auto r = in_;
        in_ = {};
        return r;
    }

private:
    std::uint64_t take(std::size_t n) {
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i) {
            v <<= 8;
            if (!in_.empty()) {
                v |= std::to_integer<std::uint64_t>(in_[0]);
                in_ = in_.subspan(1);
            }
        }
        return v;
    }
    std::span<const std::byte> in_;
};

/// Notices descriptors an input leaves open. Descriptors are allocated lowest first, so whatever
/// an input opens lies just above those open before it: a window of them is compared with the
/// state when the harness started.
class descriptor_watch {
public:
    static constexpr int window = 64;

    descriptor_watch() {
        first_ = ::fcntl(0, F_DUPFD_CLOEXEC, 0); // the lowest free descriptor
        if (first_ >= 0)
            ::close(first_);
        for (int i = 0; i < window; ++i)
            open_at_start_[i] = is_open(first_ + i);
    }

    /// Aborts, naming the descriptor, if one is open now that was not at the start. Pipes are
    /// not counted: seqmq makes none, and the sanitizer runtime keeps one of its own.
    void expect_none_leaked() const {
        for (int i = 0; i < window; ++i)
            if (!open_at_start_[i] && is_open(first_ + i)) {
                char link[256] = {};
                char path[64];
                std::snprintf(path, sizeof path, "/proc/self/fd/%d", first_ + i);
                (void)!::readlink(path, link, sizeof link - 1);
                if (std::strncmp(link, "pipe:", 5) == 0)
                    continue;
                std::fprintf(stderr, "descriptor %d (%s) left open by this input\n", first_ + i,
                             link);
                invariant_failed("no descriptor leaked", __FILE__, __LINE__);
            }
    }

private:
    static bool is_open(int fd) { return fd >= 0 && ::fcntl(fd, F_GETFD) >= 0; }
    int first_ = 0;
    bool open_at_start_[window] = {};
};

} // namespace seqmq_fuzz
