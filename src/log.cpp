#include "log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace seqmq::detail {

spdlog::logger& log() {
    static const std::shared_ptr<spdlog::logger> logger = [] {
        if (auto existing = spdlog::get("seqmq"))
            return existing;
        auto made = spdlog::stderr_color_mt("seqmq");
        const char* level = std::getenv("SEQMQ_LOG");
        made->set_level(level ? spdlog::level::from_str(level) : spdlog::level::off);
        return made;
    }();
    return *logger;
}

} // namespace seqmq::detail
