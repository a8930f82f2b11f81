#include "opd/dist/launch_env.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>

namespace opd::dist {
namespace {

// The integer value of variable `name`, or `fallback` when unset.
int64_t integer(const std::function<const char*(const char*)>& get, const char* name, int64_t fallback,
                int64_t min) {
  const char* v = get(name);
  if (v == nullptr) return fallback;
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v, &end, 10);
  TORCH_CHECK(*v != '\0' && *end == '\0' && errno == 0, "environment: ", name, "='", v, "' is not an integer");
  TORCH_CHECK(x >= min, "environment: ", name, "=", x, " must be >= ", min);
  return x;
}

// Slurm's tasks-per-node list "4(x2),3" for node 0: the leading count.
int64_t first_count(const char* list) {
  return list == nullptr ? 1 : std::max(1LL, std::atoll(list));
}

}  // namespace

LaunchEnv read_launch_env(const std::function<const char*(const char*)>& getenv) {
  const auto get = getenv ? getenv : [](const char* name) -> const char* { return std::getenv(name); };
  LaunchEnv e;
  if (get("RANK") != nullptr || get("WORLD_SIZE") != nullptr) {
    TORCH_CHECK(get("RANK") != nullptr && get("WORLD_SIZE") != nullptr,
                "environment: RANK and WORLD_SIZE must be set together (torchrun sets both)");
    e.launcher = "torchrun";
    e.world_size = integer(get, "WORLD_SIZE", 1, 1);
    e.rank = integer(get, "RANK", 0, 0);
    e.local_rank = integer(get, "LOCAL_RANK", e.rank, 0);
    e.local_world_size = integer(get, "LOCAL_WORLD_SIZE", e.world_size, 1);
    if (const char* agent = get("TORCHELASTIC_USE_AGENT_STORE")) e.agent_store = std::string(agent) == "True";
  } else if (get("SLURM_PROCID") != nullptr && get("SLURM_NTASKS") != nullptr) {
    e.launcher = "slurm";
    e.world_size = integer(get, "SLURM_NTASKS", 1, 1);
    e.rank = integer(get, "SLURM_PROCID", 0, 0);
    e.local_rank = integer(get, "SLURM_LOCALID", 0, 0);
    e.local_world_size = first_count(get("SLURM_TASKS_PER_NODE"));
    // srun names no master: batch scripts export MASTER_ADDR (the head node); a one-node job may omit it.
  } else {
    integer(get, "LOCAL_RANK", 0, 0);  // one process: a bad value is still named, not ignored
    return e;
  }
  const bool slurm = e.launcher == "slurm";
  TORCH_CHECK(e.rank < e.world_size, "environment: rank ", e.rank, " (", slurm ? "SLURM_PROCID" : "RANK",
              ") is not below the world size ", e.world_size, " (", slurm ? "SLURM_NTASKS" : "WORLD_SIZE", ")");
  TORCH_CHECK(e.local_rank < e.local_world_size, "environment: LOCAL_RANK ", e.local_rank,
              " is not below LOCAL_WORLD_SIZE ", e.local_world_size);
  if (const char* addr = get("MASTER_ADDR")) {
    TORCH_CHECK(*addr != '\0', "environment: MASTER_ADDR is empty");
    e.master_addr = addr;
  } else {
    TORCH_CHECK(e.world_size == e.local_world_size || !e.distributed(),
                "environment: MASTER_ADDR is not set, and the ", e.world_size, " processes span several nodes");
  }
  e.master_port = integer(get, "MASTER_PORT", e.master_port, 1);
  TORCH_CHECK(e.master_port <= 65535, "environment: MASTER_PORT=", e.master_port, " is not a port");
  return e;
}

}  // namespace opd::dist
