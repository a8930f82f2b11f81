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
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

namespace opd::dist {

struct Communicator::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  // A heartbeat on its own store connection: a counter per rank, bumped every
  // kBeat, so a failed collective can tell a rank that exited from one that
  // stalls. Its state is shared with the thread: a store call to a stopped
  // rank 0 never returns (TCPStore's add has no receive timeout), and then
  // the thread is left behind, detached, rather than waited for.
  struct Heartbeat {
    c10::intrusive_ptr<c10d::TCPStore> store;
    std::mutex mutex;
    std::condition_variable wake;
    bool stop = false, done = false;
  };
  std::shared_ptr<Heartbeat> heartbeat;
  std::thread beat;
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

// `call`'s result, or nothing when it has not returned within `limit`. It
// runs on its own thread, left behind (detached) when late: a store call to a
// peer that accepted the connection but never answers blocks in recv, and
// TCPStore puts no timeout on that. An exception `call` throws is rethrown.
template <typename T, typename Call>
std::optional<T> within(std::chrono::milliseconds limit, Call call) {
  std::packaged_task<T()> task(std::move(call));
  auto answer = task.get_future();
  std::thread(std::move(task)).detach();
  if (answer.wait_for(limit) != std::future_status::ready) return std::nullopt;
  return answer.get();
}

// A store client (or rank 0's server) for `options`, or an error naming the
// address within the options' timeout and a margin.
c10::intrusive_ptr<c10d::TCPStore> open_store(const LaunchEnv& env, const c10d::TCPStoreOptions& options) {
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  const auto timeout = std::chrono::duration_cast<std::chrono::seconds>(options.timeout);
  std::optional<c10::intrusive_ptr<c10d::TCPStore>> store;
  try {
    store = within<c10::intrusive_ptr<c10d::TCPStore>>(
        timeout + std::chrono::seconds(2),
        [host = env.master_addr, options] { return c10::make_intrusive<c10d::TCPStore>(host, options); });
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "rank ", env.rank, "/", env.world_size, ": cannot join the store at ", where, " within ",
                timeout.count(), " s (MASTER_ADDR/MASTER_PORT): ", cause_of(e));
  }
  TORCH_CHECK(store, "rank ", env.rank, "/", env.world_size, ": the store at ", where, " accepted the connection but ",
              "gave no answer within ", timeout.count(), " s (dist_timeout_s): MASTER_PORT ", env.master_port,
              " is held by a program that is not a c10d store, or by a stalled rank 0");
  return *store;
}

}  // namespace

Communicator::Communicator(const LaunchEnv& env, at::Device device, std::chrono::seconds timeout)
    : env_(env), timeout_(timeout), impl_(std::make_unique<Impl>()) {
  impl_->device = device;
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(env.master_port);
  options.isServer = env.rank == 0 && !env.agent_store;
  options.numWorkers = static_cast<size_t>(env.world_size);
  options.waitWorkers = true;
  options.timeout = timeout;
  impl_->store = open_store(env, options);
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
  auto& h = *impl_->heartbeat;
  std::unique_lock<std::mutex> lock(h.mutex);
  h.stop = true;
  h.wake.notify_all();
  // A beat blocked on a stopped store does not hold up the exit.
  const bool finished = h.wake.wait_for(lock, 4 * kBeat, [&] { return h.done; });
  lock.unlock();
  if (finished) {
    impl_->beat.join();
  } else {
    impl_->beat.detach();
  }
}

void Communicator::start_heartbeat() {
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(env_.master_port);
  options.waitWorkers = false;
  options.timeout = timeout_;
  impl_->heartbeat = std::make_shared<Impl::Heartbeat>();
  impl_->heartbeat->store = open_store(env_, options);
  impl_->beat = std::thread([h = impl_->heartbeat, key = beat_key(env_.rank)] {
    std::unique_lock<std::mutex> lock(h->mutex);
    while (!h->stop) {
      lock.unlock();  // never hold the lock across a store call: it may not return
      bool alive = true;
      try {
        h->store->add(key, 1);
      } catch (const std::exception&) {
        alive = false;  // the store (rank 0) is gone; collectives will report it
      }
      lock.lock();
      if (!alive) break;
      h->wake.wait_for(lock, kBeat, [&] { return h->stop; });
    }
    h->done = true;
    h->wake.notify_all();
  });
}

at::Device Communicator::device() const { return impl_->device; }

void Communicator::mark_progress(int64_t step) {
  const std::string v = std::to_string(step);
  impl_->store->set("opd/progress/" + std::to_string(env_.rank), std::vector<uint8_t>(v.begin(), v.end()));
}

void Communicator::fail(const std::string& what, const std::string& cause) {
  // Who is to blame: ranks whose heartbeat stopped exited (or were killed);
  // the others are listed with the last step they reached. Asked on its own
  // thread with a deadline: a stopped rank 0 (the store's host) answers no
  // store call, and the error must still come.
  const auto store = impl_->store;
  const int64_t world = env_.world_size, me = env_.rank;
  auto inquiry = [store, world, me] {
    auto beats = [&] {
      std::vector<int64_t> out;
      for (int64_t r = 0; r < world; ++r) out.push_back(store->add(beat_key(r), 0));
      return out;
    };
    const auto before = beats();
    std::this_thread::sleep_for(4 * kBeat);
    const auto after = beats();
    std::string gone, steps;
    for (int64_t r = 0; r < world; ++r) {
      if (r != me && after[r] == before[r]) gone += (gone.empty() ? "rank " : ", rank ") + std::to_string(r);
      const std::string key = "opd/progress/" + std::to_string(r);
      std::string step = "no step yet";
      if (store->check({key})) {
        const auto bytes = store->get(key);
        step = "step " + std::string(bytes.begin(), bytes.end());
      }
      steps += (steps.empty() ? "" : ", ") + ("rank " + std::to_string(r) + " at " + step);
    }
    return (gone.empty() ? "every rank is alive, one stalls" : gone + " stopped responding (exited?)") + "; " +
           steps;
  };
  const std::string unreachable = "the store on rank 0 (" + env_.master_addr + ":" + std::to_string(env_.master_port) +
                                  ") is unreachable: rank 0 exited or stalled";
  std::string peers = unreachable;
  try {
    peers = within<std::string>(8 * kBeat + std::chrono::seconds(2), std::move(inquiry)).value_or(unreachable);
  } catch (const std::exception&) {  // the store failed mid-inquiry: as unreachable
  }
  TORCH_CHECK(false, "rank ", env_.rank, "/", env_.world_size, ": collective '", what, "' failed within the ",
              timeout_.count(), " s timeout; another rank died or stalled (", peers, "): ", cause);
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
