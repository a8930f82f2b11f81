// Preemption: SIGTERM or SIGINT asks a run to stop at the next step boundary
// (the trainer then checkpoints and returns) instead of dying mid-step.
#pragma once

namespace opd::train {

// Routes SIGTERM and SIGINT to request_stop(). A second signal while a stop
// is pending restores the default action and re-raises it (a stuck run still dies).
void install_stop_handlers();
void request_stop();
bool stop_requested();
// Forgets a pending request (tests, and a trainer that has honoured it).
void clear_stop_request();

}  // namespace opd::train
