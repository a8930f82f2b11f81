#include "opd/dist/communicator.h"

#include <ATen/ATen.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>

namespace opd::dist {

struct Communicator::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  // A heartbeat on its own store connection: a counter per rank, bumped every
  // kBeat, so a failed collective can tell a rank that exited from one that stalls.
  c10::intrusive_ptr<c10d::TCPStore> beat_store;
  std::thread beat;
  std::mutex beat_mutex;
  std::condition_variable beat_wake;
  bool beat_stop = false;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#ifdef USE_C10D_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  at::Device device{at::kCPU};

  template <typename Call>
  c10::intrusive_ptr<c10d::Work> run(Call call) {
#ifdef USE_C10D_NCCL
    if (nccl) return call(*nccl);
#endif
    return call(*gloo);
  }
};

namespace {

// Gloo's transport: the interface GLOO_SOCKET_IFNAME names, else this host's
// name, else loopback (enough for one node).
std::shared_ptr<::gloo::transport::Device> gloo_device(const LaunchEnv& env) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  }
  if (env.world_size == env.local_world_size) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

// An exception's message on one line, without a C++ backtrace.
std::string cause_of(const std::exception& e) {
  const auto* error = dynamic_cast<const c10::Error*>(&e);
  std::string text = error ? error->what_without_backtrace() : e.what();
  for (auto& c : text) {
    if (c == '\n') c = ' ';
  }
  return text;
}

}  // namespace

Communicator::Communicator(const LaunchEnv& env, at::Device device, std::chrono::seconds timeout)
    : env_(env), timeout_(timeout), impl_(std::make_unique<Impl>()) {
  impl_->device = device;
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(env.master_port);
    options.isServer = env.rank == 0 && !env.agent_store;
    options.numWorkers = static_cast<size_t>(env.world_size);
    options.waitWorkers = true;
    options.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "rank ", env.rank, "/", env.world_size, ": cannot join the store at ", where, " within ",
                timeout.count(), " s (MASTER_ADDR/MASTER_PORT): ", cause_of(e));
  }
  try {
#ifdef USE_C10D_NCCL
    if (device.is_cuda()) {
      // NCCL's communicators and streams belong to the current device: make it this rank's GPU.
      c10::impl::VirtualGuardImpl(device.type()).setDevice(device);
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      impl_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, env.rank, env.world_size, options);
      start_heartbeat();
      return;
    }
#endif
    TORCH_CHECK(!device.is_cuda(), "this LibTorch has no NCCL: CUDA tensors cannot be reduced across ranks");
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(gloo_device(env));
    impl_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, env.rank, env.world_size, options);
    start_heartbeat();
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "rank ", env.rank, "/", env.world_size, ": cannot form the process group through ", where,
                ": ", cause_of(e));
  }
}

namespace {
constexpr auto kBeat = std::chrono::milliseconds(500);
std::string beat_key(int64_t rank) { return "opd/beat/" + std::to_string(rank); }
}  // namespace

Communicator::~Communicator() {
  if (!impl_->beat.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(impl_->beat_mutex);
    impl_->beat_stop = true;
  }
  impl_->beat_wake.notify_all();
  impl_->beat.join();
}

void Communicator::start_heartbeat() {
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(env_.master_port);
  options.waitWorkers = false;
  options.timeout = timeout_;
  impl_->beat_store = c10::make_intrusive<c10d::TCPStore>(env_.master_addr, options);
  impl_->beat = std::thread([impl = impl_.get(), key = beat_key(env_.rank)] {
    std::unique_lock<std::mutex> lock(impl->beat_mutex);
    while (!impl->beat_stop) {
      try {
        impl->beat_store->add(key, 1);
      } catch (const std::exception&) {
        return;  // the store (rank 0) is gone; collectives will report it
      }
      impl->beat_wake.wait_for(lock, kBeat);
    }
  });
}

at::Device Communicator::device() const { return impl_->device; }

void Communicator::mark_progress(int64_t step) {
  const std::string v = std::to_string(step);
  impl_->store->set("opd/progress/" + std::to_string(env_.rank), std::vector<uint8_t>(v.begin(), v.end()));
}

void Communicator::fail(const std::string& what, const std::string& cause) {
  // Who is to blame: ranks whose heartbeat stopped exited (or were killed);
  // the others are listed with the last step they reached.
  std::ostringstream peers;
  try {
    auto beats = [&] {
      std::vector<int64_t> out;
      for (int64_t r = 0; r < env_.world_size; ++r) out.push_back(impl_->store->add(beat_key(r), 0));
      return out;
    };
    const auto before = beats();
    std::this_thread::sleep_for(4 * kBeat);
    const auto after = beats();
    std::string gone, steps;
    for (int64_t r = 0; r < env_.world_size; ++r) {
      if (r != env_.rank && after[r] == before[r]) gone += (gone.empty() ? "rank " : ", rank ") + std::to_string(r);
      const std::string key = "opd/progress/" + std::to_string(r);
      std::string step = "no step yet";
      if (impl_->store->check({key})) {
        const auto bytes = impl_->store->get(key);
        step = "step " + std::string(bytes.begin(), bytes.end());
      }
      steps += (steps.empty() ? "" : ", ") + ("rank " + std::to_string(r) + " at " + step);
    }
    peers << (gone.empty() ? "every rank is alive, one stalls" : gone + " stopped responding (exited?)") << "; "
          << steps;
  } catch (const std::exception&) {
    peers.str("");
    peers << "the store on rank 0 (" << env_.master_addr << ":" << env_.master_port
          << ") is unreachable: rank 0 exited";
  }
  TORCH_CHECK(false, "rank ", env_.rank, "/", env_.world_size, ": collective '", what, "' failed within the ",
              timeout_.count(), " s timeout; another rank died or stalled (", peers.str(), "): ", cause);
}

class Communicator::Pending {
 public:
  c10::intrusive_ptr<c10d::Work> work;
  std::vector<at::Tensor> tensors;  // kept alive until the collective is done
};

std::shared_ptr<Communicator::Pending> Communicator::start_all_reduce_sum(const at::Tensor& flat) {
  auto pending = std::make_shared<Pending>();
  pending->tensors = {flat};
  if (env_.world_size > 1) pending->work = impl_->run([&](auto& pg) { return pg.allreduce(pending->tensors); });
  return pending;
}

void Communicator::wait(Pending& pending, const std::string& what) {
  if (!pending.work) return;
  try {
    pending.work->wait();
  } catch (const std::exception& e) {
    fail(what, cause_of(e));
  }
}

void Communicator::broadcast(const std::vector<at::Tensor>& tensors, int64_t root, const std::string& what) {
  if (env_.world_size == 1) return;
  try {
    for (const auto& t : tensors) {
      std::vector<at::Tensor> one{t.detach()};
      c10d::BroadcastOptions options;
      options.rootRank = root;
      impl_->run([&](auto& pg) { return pg.broadcast(one, options); })->wait();
    }
  } catch (const std::exception& e) {
    fail(what, cause_of(e));
  }
}

double Communicator::sum(double value, const std::string& what) { return sum(std::vector<double>{value}, what)[0]; }

std::vector<double> Communicator::sum(std::vector<double> values, const std::string& what) {
  if (env_.world_size == 1 || values.empty()) return values;
  // On the group's device: NCCL reduces only CUDA tensors.
  auto t = at::tensor(values, at::kDouble).to(impl_->device);
  try {
    std::vector<at::Tensor> one{t};
    impl_->run([&](auto& pg) { return pg.allreduce(one); })->wait();
  } catch (const std::exception& e) {
    fail(what, cause_of(e));
  }
  const auto host = t.cpu();
  return std::vector<double>(host.data_ptr<double>(), host.data_ptr<double>() + host.numel());
}

void Communicator::barrier(const std::string& what) {
  if (env_.world_size == 1) return;
  try {
    c10d::BarrierOptions options;
    if (impl_->device.is_cuda()) options.device_ids = {impl_->device.index()};
    impl_->run([&](auto& pg) { return pg.barrier(options); })->wait();
  } catch (const std::exception& e) {
    fail(what, cause_of(e));
  }
}

double Communicator::max(double value, const std::string& what) {
  if (env_.world_size == 1) return value;
  auto t = at::full({1}, value, at::TensorOptions().dtype(at::kDouble).device(impl_->device));
  try {
    std::vector<at::Tensor> one{t};
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::MAX;
    impl_->run([&](auto& pg) { return pg.allreduce(one, options); })->wait();
  } catch (const std::exception& e) {
    fail(what, cause_of(e));
  }
  return t.item<double>();
}

}  // namespace opd::dist
