#include "sysv_calls.hpp"

#include "bench.hpp"
#include "capi/handle.hpp" // (internal) to build a handle with the shim's options

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <dlfcn.h>
#include <mutex>
#include <optional>
#include <type_traits>

namespace seqmq_bench {

namespace {

// The shim's wait limit (src/shim/sysv_calls.cpp, wait_for_ever).
constexpr seqmq::timeout shim_wait_limit = std::chrono::hours(24 * 365 * 50);

} // namespace

capi_handle open_capi_as_shim(const std::string& name, seqmq::queue_options o) {
    o.exact_sysv = true;
    auto q = seqmq::queue::open(name, seqmq::open_flags::create, 0600, o);
    if (!q)
        die("seqmq::queue::open(" + name + ", exact_sysv): " + q.error().message());
    return capi_handle(new seqmq_handle{std::move(*q), shim_wait_limit}, &seqmq_close);
}

capi_handle open_capi_default(const std::string& name, std::size_t capacity) {
    capi_handle h(seqmq_queue_open(name.c_str(), IPC_CREAT, 0600), &seqmq_close);
    if (!h)
        die_errno("seqmq_queue_open(" + name + ")");
    msqid_ds ds{};
    if (seqmq_msgctl(h.get(), IPC_STAT, &ds) != 0)
        die_errno("seqmq_msgctl(IPC_STAT)");
    ds.msg_qbytes = capacity;
    if (seqmq_msgctl(h.get(), IPC_SET, &ds) != 0)
        die_errno("seqmq_msgctl(IPC_SET msg_qbytes)");
    return h;
}

std::expected<const sysv_shim*, std::string> sysv_shim::load(const std::string& path) {
    static std::mutex once;
    static std::optional<std::expected<const sysv_shim*, std::string>> loaded;
    static sysv_shim calls{};
    std::lock_guard hold(once);
    if (loaded)
        return *loaded;
    if (path.empty())
        return *(loaded = std::unexpected("libseqmq-sysv.so was not built with this benchmark"));
    ::setenv("SEQMQ_SYSV_KEYS", "all", 1);
    void* library = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library)
        return *(loaded = std::unexpected(std::string("dlopen: ") + ::dlerror()));
    auto find = [&](auto& slot, const char* symbol) {
        slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(::dlsym(library, symbol));
        return slot != nullptr;
    };
    if (!find(calls.msgget, "msgget") || !find(calls.msgsnd, "msgsnd") ||
        !find(calls.msgrcv, "msgrcv") || !find(calls.msgctl, "msgctl"))
        return *(loaded = std::unexpected(path + " lacks msgget/msgsnd/msgrcv/msgctl"));
    return *(loaded = &calls);
}

} // namespace seqmq_bench
