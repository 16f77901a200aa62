// The daemon's model checks access with the one ipcperms() of src/access, as the mailbox does.
#pragma once

#include "access/permissions.hpp"

namespace seqmq::daemon::model {

using detail::credentials;
using detail::ipc_perm;
using detail::owns;
using detail::permitted;
using detail::read_access;
using detail::write_access;

} // namespace seqmq::daemon::model
