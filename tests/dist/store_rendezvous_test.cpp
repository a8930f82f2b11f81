// Joining the store on MASTER_ADDR:MASTER_PORT when something else holds the
// port: one error naming the port, within dist_timeout_s, never a hang.
#include "opd/dist/communicator.h"

#include "support/test_support.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace opd::dist::store_rendezvous_test {
namespace {

// A socket listening on a loopback port that accepts connections (the
// kernel completes them from its backlog) and never reads or writes.
class SilentListener {
 public:
  SilentListener() : port_(opd::testing::free_port()) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port_));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
  }
  ~SilentListener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int port_;
  int fd_ = -1;
};

LaunchEnv rank_of_two(int64_t rank, int port) {
  LaunchEnv env;
  env.rank = env.local_rank = rank;
  env.world_size = env.local_world_size = 2;
  env.master_addr = "127.0.0.1";
  env.master_port = port;
  return env;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Before the deadline, TCPStore's client blocked in recv for good here.
TEST(StoreRendezvous, AListenerThatNeverAnswersFailsARankWithinTheTimeout) {
  SilentListener listener;
  const auto start = std::chrono::steady_clock::now();
  testing::expect_error([&] { Communicator comm(rank_of_two(1, listener.port()), at::kCPU, std::chrono::seconds(2)); },
                        {"rank 1/2", "127.0.0.1:" + std::to_string(listener.port()),
                         "gave no answer within 2 s (dist_timeout_s)",
                         "MASTER_PORT " + std::to_string(listener.port()) + " is held by"});
  EXPECT_LT(seconds_since(start), 15) << "the deadline is the timeout plus a 2 s margin";
}

TEST(StoreRendezvous, RankZeroNamesATakenPort) {
  SilentListener listener;
  const auto start = std::chrono::steady_clock::now();
  testing::expect_error([&] { Communicator comm(rank_of_two(0, listener.port()), at::kCPU, std::chrono::seconds(2)); },
                        {"rank 0/2: cannot join the store at 127.0.0.1:" + std::to_string(listener.port()),
                         "(MASTER_ADDR/MASTER_PORT)"});
  EXPECT_LT(seconds_since(start), 15);
}

}  // namespace
}  // namespace opd::dist::store_rendezvous_test
