#pragma once

#include <spdlog/logger.h>

namespace seqmq::detail {

/// The library's one logger, registered with spdlog as "seqmq" so an application can replace it
/// (spdlog::drop("seqmq") then register its own under that name before first use). Its level
/// comes from the SEQMQ_LOG environment variable (trace, debug, info, warn, error, off); off when
/// unset, so the library is quiet by default.
spdlog::logger& log();

} // namespace seqmq::detail
