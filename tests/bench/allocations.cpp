// Counts heap allocations of this process: malloc and its siblings are interposed here (the
// executable's definitions win over libc's for every library, libstdc++'s operator new
// included) and forward to glibc's own entry points. Counting is off except between
// allocation_count::start() and stop(), so the other benchmarks pay one relaxed load.
// Under a sanitizer, which owns malloc itself, its allocation hook counts instead.
#include "bench.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>

#ifdef SEQMQ_SANITIZED
// Exported by every sanitizer runtime (sanitizer/allocator_interface.h, which gcc 12 lacks).
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             std::size_t),
                                                         void (*free_hook)(const volatile void*));
#endif

#ifndef SEQMQ_SANITIZED
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}
#endif

namespace {
std::atomic<bool> counting{false};
std::atomic<std::uint64_t> allocations{0};

inline void count_one() noexcept {
    if (counting.load(std::memory_order_relaxed))
        allocations.fetch_add(1, std::memory_order_relaxed);
}
} // namespace

#ifdef SEQMQ_SANITIZED
namespace {
void on_malloc(const volatile void*, std::size_t) {
    count_one();
}
void on_free(const volatile void*) {}
const int hooks_installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
} // namespace
#else
extern "C" {
void* malloc(std::size_t n) noexcept {
    count_one();
    return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) noexcept {
    count_one();
    return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) noexcept {
    count_one();
    return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t alignment, std::size_t n) noexcept {
    count_one();
    return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) noexcept {
    count_one();
    void* p = __libc_memalign(alignment, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
}
#endif

namespace seqmq_bench {

void allocation_count::start() noexcept {
    allocations.store(0, std::memory_order_relaxed);
    counting.store(true, std::memory_order_relaxed);
}

std::uint64_t allocation_count::stop() noexcept {
    counting.store(false, std::memory_order_relaxed);
    return allocations.load(std::memory_order_relaxed);
}

} // namespace seqmq_bench
