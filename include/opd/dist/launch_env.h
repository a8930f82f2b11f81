// Where this process stands in a multi-process launch, read the way PyTorch
// users launch: torchrun's RANK / WORLD_SIZE / LOCAL_RANK / LOCAL_WORLD_SIZE /
// MASTER_ADDR / MASTER_PORT, or Slurm's srun variables when torchrun's are
// absent. A process started by hand is rank 0 of 1.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace opd::dist {

struct LaunchEnv {
  int64_t rank = 0, world_size = 1;
  int64_t local_rank = 0, local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  std::string launcher = "none";  // "torchrun", "slurm" or "none"
  // torchrun's agent already hosts the store at MASTER_ADDR:MASTER_PORT
  // (TORCHELASTIC_USE_AGENT_STORE=True, its default rendezvous): every rank,
  // rank 0 included, joins it as a client instead of hosting one.
  bool agent_store = false;

  bool distributed() const { return world_size > 1; }
};

// Reads the launch from `getenv` (a lookup returning nullptr for unset
// variables; the process environment by default). Throws naming the variable
// when one is malformed or the set is inconsistent (e.g. RANK >= WORLD_SIZE,
// RANK without WORLD_SIZE).
LaunchEnv read_launch_env(const std::function<const char*(const char*)>& getenv = {});

}  // namespace opd::dist
